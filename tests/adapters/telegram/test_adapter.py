"""The Telegram adapter against the Bot API sandbox: members' hashtag messages and nominations
reach the queue (confirmed to Telegram only once stored), approved posts reach the channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.registry import settings_class
from adapters.telegram.adapter import spotlight
from adapters.telegram.render import to_html
from adapters.telegram.settings import TelegramSettings
from bot.clock import FakeClock
from bot.config import parse
from bot.domain import Action, Author, Platform, Post, Receipt
from bot.errors import ConfigError, NotFound, RateLimited, Rejected, Unauthorized
from bot.schema import Environment
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import (
    BEA,
    CHANNEL,
    COMMUNITY,
    MARIA,
    OTHER_GROUP,
    TAG,
    Harness,
    make_mastodon,
    make_telegram,
)

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


def posts(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    m.Post.platform,
                    m.Post.platform_post_id,
                    m.Post.text,
                    m.Candidate.reason,
                    m.Candidate.nominated_by,
                )
                .outerjoin(m.Candidate, m.Candidate.post_id == m.Post.id)
                .order_by(m.Post.id)
            )
        )


def replies(tg: TelegramSandbox, chat: int, to: int) -> list[str]:
    return [msg.text for msg in tg.messages(chat, by_bot=True) if msg.reply_to_message_id == to]


async def test_hashtag_messages_in_the_community_group_are_queued(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    matched = tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    tg.user_sends(BEA, COMMUNITY, "lunch anyone?")  # chatter is not stored at all
    tg.user_sends(MARIA, OTHER_GROUP, f"elsewhere #{TAG}")  # a group we do not watch
    report = await h.app.run_once()
    assert report.ingested[Platform.TELEGRAM].stored == 1
    assert posts(engine) == [
        ("telegram", f"{COMMUNITY}:{matched.message_id}", f"Passed my boards! #{TAG}", "hashtag", None)
    ]
    shown = h.app.queue.list("pending")[0]
    assert shown.author_handle == "@maria_md"
    assert shown.url == f"https://t.me/c/1000000002/{matched.message_id}"
    assert tg.pending_updates == 0  # confirmed to Telegram once stored
    again = await h.app.run_once()
    assert again.ingested[Platform.TELEGRAM].stored == 0


async def test_updates_are_confirmed_only_after_the_batch_is_stored(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"One #{TAG}")
    adapter = h.app.adapters[Platform.TELEGRAM]
    stream = adapter.watch(h.app.settings.community.tags, {}, follow=True)
    batch = await anext(stream)
    assert [p.text for p in batch.posts] == [f"One #{TAG}"]
    await stream.aclose()  # the process dies before storing it…
    assert tg.pending_updates == 1  # …and Telegram still holds it for the next start
    report = await h.app.run_once()
    assert report.ingested[Platform.TELEGRAM].stored == 1
    assert tg.pending_updates == 0


async def test_nominate_by_replying_in_the_group(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    original = tg.user_sends(BEA, COMMUNITY, "Our free clinic needs Spanish-speaking volunteers")
    command = tg.user_sends(MARIA, COMMUNITY, "/nominate", reply_to=original)
    lonely = tg.user_sends(MARIA, COMMUNITY, "/nominate@CoalesceBot")
    await h.app.run_once()
    assert posts(engine) == [
        (
            "telegram",
            f"{COMMUNITY}:{original.message_id}",
            "Our free clinic needs Spanish-speaking volunteers",
            "nomination",
            "@maria_md",
        )
    ]
    await tg.wait_for_async(lambda: replies(tg, COMMUNITY, command.message_id))
    assert replies(tg, COMMUNITY, command.message_id) == ["Thank you! The curators will have a look."]
    await tg.wait_for_async(lambda: replies(tg, COMMUNITY, lonely.message_id))
    assert "Reply to the message" in replies(tg, COMMUNITY, lonely.message_id)[0]


async def test_a_link_sent_in_private_nominates_a_mastodon_post(
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    masto: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    remote = masto.add_account("lucia", "other.example")
    status = masto.remote_status(remote, "Residency interview tips, a thread")  # no hashtag
    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    asked = tg.user_sends(BEA, BEA, f"please share {status['url']}")
    nothing = tg.user_sends(BEA, BEA, "https://nowhere.example/p/1")
    await h.app.watch_once(Platform.TELEGRAM)
    (row,) = [p for p in posts(engine) if p.reason == "nomination"]
    assert row.platform == "mastodon"  # stored where it will be boosted
    assert row.text == "Residency interview tips, a thread"
    assert row.nominated_by == "@bea_ms"
    # One message a second in a private chat: whichever answer is ready first goes first (the
    # nomination waits on Mastodon, the dead link may not), the other after the clock moves on.
    await tg.wait_for_async(
        lambda: replies(tg, BEA, asked.message_id) or replies(tg, BEA, nothing.message_id)
    )
    clock.advance(seconds=1)
    await tg.wait_for_async(
        lambda: bool(replies(tg, BEA, asked.message_id)) and bool(replies(tg, BEA, nothing.message_id))
    )
    assert replies(tg, BEA, asked.message_id) == ["Thank you! The curators will have a look."]
    assert "could not find a post" in replies(tg, BEA, nothing.message_id)[0]


async def test_start_in_private_says_what_the_bot_does(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    asked = tg.user_sends(BEA, BEA, "/start")
    await h.app.run_once()
    (about,) = await tg.wait_for_async(lambda: replies(tg, BEA, asked.message_id))
    assert "central account of Latinas in Medicine" in about
    assert "/nominate" in about
    assert "never" in about  # how to stay out


def telegram_post(tg: TelegramSandbox, text: str = f"Matched! #{TAG}") -> Post:
    sent = tg.user_sends(MARIA, COMMUNITY, text)
    return Post(
        Platform.TELEGRAM,
        f"{COMMUNITY}:{sent.message_id}",
        f"https://t.me/c/1000000002/{sent.message_id}",
        Author("3001", "@maria_md", "María", url="https://t.me/maria_md"),
        text,
        FakeClock().now(),
        ref=f"{COMMUNITY}:{sent.message_id}",
    )


async def test_boost_copies_to_the_channel_with_credit_and_undo_deletes(
    tg: TelegramSandbox, clock: FakeClock
) -> None:
    adapter = make_telegram(tg, clock)
    await adapter.start()
    try:
        receipt = await adapter.amplify(telegram_post(tg), Action.BOOST)
        (copy,) = tg.messages(CHANNEL)
        assert copy.text == f"Matched! #{TAG}"
        assert copy.forward_origin is None
        assert copy.buttons == [{"text": "✍️ María", "url": "https://t.me/maria_md"}]
        assert receipt.ref == f"{CHANNEL}:{copy.message_id}"
        assert receipt.url == f"https://t.me/c/1000000003/{copy.message_id}"
        await adapter.undo(receipt)
        assert tg.message(CHANNEL, copy.message_id).deleted
        await adapter.undo(receipt)  # already gone: done
    finally:
        await adapter.close()


async def test_spotlight_of_a_long_post_is_cut_with_the_link(tg: TelegramSandbox, clock: FakeClock) -> None:
    adapter = make_telegram(tg, clock, spotlight_on_channel=True)
    await adapter.start()
    long_text = "<b>not bold</b> @someone " + "palabra " * 900
    post = Post(
        Platform.MASTODON,
        "99",
        "https://med.example/@maria/99",
        Author("7", "maria@med.example", "Dra. María"),
        long_text,
        clock.now(),
    )
    try:
        assert adapter.spotlights(post)
        assert not adapter.spotlights(telegram_post(tg))
        await adapter.amplify(post, Action.SPOTLIGHT)
        (card,) = tg.messages(CHANNEL)
        shown = card.text.replace("\u2060", "")  # word joiners keep member text inert, unseen
        assert shown.startswith("🔦 From the community on Mastodon\nDra. María (maria@med.example)")
        shown = card.entity_texts("blockquote")[0]
        assert shown.replace("\u2060", "").startswith("<b>not bold</b> @someone palabra")  # as written
        assert card.entity_texts("blockquote")[0].endswith("palabra…")
        assert card.text.endswith("Read it on Mastodon: https://med.example/@maria/99")
        assert len(card.text.encode("utf-16-le")) // 2 <= 4096
        assert not {e["type"] for e in card.entities} & {"mention", "bot_command"}
    finally:
        await adapter.close()


def test_a_content_warning_keeps_the_spotlight_text_behind_a_spoiler() -> None:
    post = Post(
        Platform.MASTODON,
        "1",
        "https://med.example/@a/1",
        Author("1", "a@med.example"),
        "hard day",
        FakeClock().now(),
        content_warning="loss",
    )
    html = to_html(spotlight(post))
    assert "<tg-spoiler>hard day</tg-spoiler>" in html
    assert "Content warning: loss" in html


async def test_publish_part_threads_in_the_channel(tg: TelegramSandbox, clock: FakeClock) -> None:
    adapter = make_telegram(tg, clock)
    await adapter.start()
    try:
        # The adapter's markup is HTML: the series escape what is text and add <b> and <a href>.
        first = await adapter.publish_part("<b>Weekly digest</b> 1/2 &lt;not html&gt;")
        second = await adapter.publish_part("Weekly digest 2/2", reply_to=first)
        one, two = tg.messages(CHANNEL)
        assert one.text == "Weekly digest 1/2 <not html>"
        assert one.entity_texts("bold") == ["Weekly digest"]
        assert two.reply_to_message_id == one.message_id
        assert (first.action, second.ref) == (Action.PUBLISH, f"{CHANNEL}:{two.message_id}")
        with pytest.raises(Rejected, match="4096"):
            await adapter.publish_part("x" * 4097)
        await adapter.publish_part("<b>" + "x" * 4096 + "</b>")  # tags do not count, what shows does
    finally:
        await adapter.close()


async def test_a_flood_on_the_channel_is_reported_at_once_not_waited_out(
    tg: TelegramSandbox, clock: FakeClock
) -> None:
    adapter = make_telegram(tg, clock)
    await adapter.start()
    try:
        tg.faults.retry_after(45, method="copyMessage")
        with pytest.raises(RateLimited) as caught:
            await asyncio.wait_for(adapter.amplify(telegram_post(tg), Action.BOOST), 5)
        assert caught.value.retry_after == 45
        assert clock.sleepers == 0  # nothing waited
    finally:
        await adapter.close()


async def test_errors_in_our_terms(tg: TelegramSandbox, clock: FakeClock) -> None:
    wrong = make_telegram(tg, clock, bot_token="7000000001:not-the-token")
    with pytest.raises(Unauthorized, match="token was refused"):
        await wrong.start()
    await wrong.close()
    adapter = make_telegram(tg, clock, channel_id=None)
    await adapter.start()
    try:
        with pytest.raises(Rejected, match="channel_id"):
            await adapter.amplify(telegram_post(tg), Action.BOOST)
        with pytest.raises(NotFound, match="/nominate"):
            await adapter.resolve("https://t.me/c/1/2")
        tg.set_member(CHANNEL, tg.bot, "left")
        kicked = make_telegram(tg, clock)
        await kicked.start()
        await kicked.undo(Receipt(Platform.TELEGRAM, Action.BOOST, f"{CHANNEL}:1"))  # gone: done
        with pytest.raises(Rejected, match="kicked"):
            await kicked.publish_part("hello")
        await kicked.close()
    finally:
        await adapter.close()


def test_settings_are_checked_at_start_up() -> None:
    def load(**telegram: Any) -> Any:
        data = {
            "community": {"slug": "lim", "name": "LiM", "hashtags": [TAG]},
            "platforms": {"telegram": {"bot_token": "${TELEGRAM_BOT_TOKEN}", **telegram}},
        }
        return parse(data, Environment({"TELEGRAM_BOT_TOKEN": "1:abc"}), schemas=settings_class)

    cfg = load(curator_chat_id=-100, community_chat_ids=[-200], channel_id="@lim")
    assert isinstance(cfg.platforms[Platform.TELEGRAM], TelegramSettings)
    assert cfg.platforms[Platform.TELEGRAM].timings.nudge_after.total_seconds() == 12 * 3600
    assert "1:abc" in cfg.secrets
    with pytest.raises(ConfigError, match=r"platforms\.telegram\.bot_token: is a secret"):
        parse(
            {
                "community": {"slug": "l", "name": "L", "hashtags": [TAG]},
                "platforms": {"telegram": {"bot_token": "1:abc"}},
            },
            Environment({}),
            schemas=settings_class,
        )
    with pytest.raises(ConfigError, match="channel_id: expected the channel's id"):
        load(channel_id="lim")
    with pytest.raises(ConfigError, match="community_chat_ids: the curators' chat"):
        load(curator_chat_id=-100, community_chat_ids=[-100])
    with pytest.raises(ConfigError, match="spotlight_on_channel: needs channel_id"):
        load(spotlight_on_channel=True)
    with pytest.raises(ConfigError, match="group_messages_per_minute"):
        load(group_messages_per_minute=25)


async def test_optout_in_private_is_recorded_and_confirmed(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    asked = tg.user_sends(BEA, BEA, "/optout")
    await h.app.run_once()
    with engine.connect() as conn:
        consent = conn.execute(
            select(m.Account.consent).where(
                m.Account.platform == "telegram", m.Account.platform_account_id == str(BEA)
            )
        ).scalar_one()
    assert consent == "out"
    confirmation = await tg.wait_for_async(lambda: replies(tg, BEA, asked.message_id))
    assert confirmation
    tg.user_sends(BEA, COMMUNITY, f"My news #{TAG}")  # opted out: never queued
    report = await h.app.run_once()
    assert report.ingested[Platform.TELEGRAM].candidates == []
