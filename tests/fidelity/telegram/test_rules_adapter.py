"""Each documented Bot API rule from our side: the Telegram adapter, on the sandbox that now
enforces the rule, keeps to it or copes with the refusal. The sandbox side of each rule is in
``test_rules_sandbox.py``; the rules and their sections are in ``sandbox.telegram.rules.RULES``."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram.ext import ExtBot

from adapters.telegram.adapter import AMPLIFY_PATIENCE, WITHDRAWN, TelegramAdapter, spotlight
from adapters.telegram.console import TelegramConsole
from adapters.telegram.pacer import Pacer
from adapters.telegram.render import to_html
from adapters.telegram.settings import TelegramSettings
from bot.clock import FakeClock
from bot.domain import Action, Author, Batch, Platform, Post, Receipt, normalize_tag
from bot.errors import ConfigError, NotFound, RateLimited, Rejected
from bot.ports import VERBS, Button, Card, Tap
from bot.richtext import Doc
from bot.schema import Environment, build
from bot.series import interview_chat
from sandbox.telegram import TelegramSandbox, parse_html, utf16_len
from sandbox.telegram.rules import CALLBACK_ANSWER_MAX, start_message
from tests.adapters.telegram.conftest import (
    ANA,
    BEA,
    CHANNEL,
    COMMUNITY,
    CURATORS,
    MARIA,
    TAG,
    make_telegram,
)

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

NURSE = "👩🏽‍⚕️"  # 5 code points, 7 UTF-16 units
WANTED = {"message", "callback_query"}  # the update kinds the adapter's handlers read


@pytest.fixture
async def adapter(tg: TelegramSandbox, clock: FakeClock) -> AsyncIterator[TelegramAdapter]:
    made = make_telegram(tg, clock, spotlight_on_channel=True)
    await made.start()
    yield made
    await made.close()


def console_of(adapter: TelegramAdapter) -> TelegramConsole:
    assert adapter.console is not None
    return adapter.console


def pacer_of(adapter: TelegramAdapter) -> Pacer:
    pacer = adapter.application.bot.rate_limiter
    assert isinstance(pacer, Pacer)
    return pacer


def member_post(tg: TelegramSandbox, text: str = f"Matched! #{TAG}") -> Post:
    sent = tg.user_sends(MARIA, COMMUNITY, text)
    ref = f"{COMMUNITY}:{sent.message_id}"
    return Post(
        Platform.TELEGRAM,
        ref,
        f"https://t.me/c/1000000002/{sent.message_id}",
        Author(str(MARIA), "@maria_md", "María", url="https://t.me/maria_md"),
        text,
        FakeClock().now(),
        ref=ref,
    )


def mastodon_post(text: str, name: str = "Dra. María") -> Post:
    return Post(
        Platform.MASTODON,
        "99",
        "https://med.example/@maria/99",
        Author("7", "maria@med.example", name),
        text,
        FakeClock().now(),
    )


async def read_all(adapter: TelegramAdapter) -> list[Batch]:
    return [batch async for batch in adapter.watch([normalize_tag(TAG)], {}, follow=False)]


def realistic(clock: FakeClock, **kwargs: Any) -> TelegramSandbox:
    sandbox = TelegramSandbox(clock=lambda: clock.now().timestamp(), **kwargs)
    sandbox.add_user(ANA, "Ana", "ana_md")
    sandbox.add_user(MARIA, "María", "maria_md")
    sandbox.add_chat(CURATORS, "supergroup", "Curators", members=[ANA])
    sandbox.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
    return sandbox


@pytest.mark.rule("flood limits")
async def test_a_burst_to_the_channel_stops_short_of_the_group_limit(clock: FakeClock) -> None:
    with realistic(clock, realistic_limits=True) as sandbox:
        sandbox.add_chat(COMMUNITY, "supergroup", "Community")
        adapter = make_telegram(sandbox, clock)
        await adapter.start()
        try:
            for i in range(18):  # the default: 18 a minute, under Telegram's 20
                await adapter.publish_part(f"part {i}")
            with pytest.raises(RateLimited) as caught:  # held by our pacer, never sent
                await adapter.publish_part("the 19th in the same minute")
            assert caught.value.retry_after > AMPLIFY_PATIENCE
            assert sandbox.sent_count(CHANNEL) == 18
            clock.advance(seconds=60)
            await adapter.publish_part("a minute later")
        finally:
            await adapter.close()
        assert sandbox.too_many_requests == 0
    for key, value in (("group_messages_per_minute", 21), ("messages_per_second", 31)):
        with pytest.raises(ConfigError, match=key):  # settings cannot ask for more than Telegram allows
            build(
                TelegramSettings,
                {"bot_token": "${TG_TOKEN}", key: value},
                "platforms.telegram",
                Environment({"TG_TOKEN": "1:x"}),
            )


@pytest.mark.rule("retry_after")
async def test_retry_after_is_waited_out_by_the_console_and_reported_by_the_amplifier(
    adapter: TelegramAdapter, tg: TelegramSandbox, clock: FakeClock
) -> None:
    waits: list[float] = []

    def the_clock_moves_while_we_wait(chat: Any, wait: float) -> None:
        waits.append(wait)
        clock.advance(seconds=wait)

    pacer_of(adapter).on_retry_after = the_clock_moves_while_we_wait
    asked_at = clock.now().timestamp()
    tg.faults.retry_after(5, method="sendMessage")
    sent = await console_of(adapter).send_card(Card(Doc.of("a card")))
    assert waits == [5.0]
    assert tg.message(CURATORS, int(sent)).date >= asked_at + 5  # sent again only after the wait

    pacer_of(adapter).on_retry_after = lambda chat, wait: waits.append(wait)  # the clock stays put
    tg.faults.retry_after(7, method="sendMessage")
    with pytest.raises(RateLimited) as caught:
        await adapter.publish_part("an amplification has no patience for 7 s")
    assert caught.value.retry_after == 7
    with pytest.raises(RateLimited):  # the pause holds: not even asked
        await adapter.publish_part("still within the 7 s")
    assert tg.sent_count(CHANNEL) == 0
    assert tg.too_many_requests == 2
    clock.advance(seconds=7)
    await adapter.publish_part("after the 7 s")
    assert tg.sent_count(CHANNEL) == 1


@pytest.mark.rule("delete within 48 hours")
async def test_undo_after_48_hours_empties_the_post_it_cannot_delete(
    adapter: TelegramAdapter, tg: TelegramSandbox, clock: FakeClock
) -> None:
    recent = await adapter.amplify(member_post(tg), Action.BOOST)
    old = await adapter.amplify(member_post(tg, f"Older #{TAG}"), Action.BOOST)
    part = await adapter.publish_part("<b>Mini-interview</b> with María")
    clock.advance(hours=47)
    await adapter.undo(recent)
    assert tg.message(CHANNEL, int(recent.ref.rpartition(":")[2])).deleted
    clock.advance(hours=2)

    for receipt in (old, part, old):  # a second undo (a retried round) is fine too
        await adapter.undo(receipt)
    for receipt in (old, part):
        shown = tg.message(CHANNEL, int(receipt.ref.rpartition(":")[2]))
        assert not shown.deleted
        assert shown.text == WITHDRAWN
        assert shown.reply_markup is None  # the credit button goes with the text
        assert "María" not in shown.text
    assert [c.error for c in tg.calls_to("deleteMessage") if c.error] == [
        "Bad Request: message can't be deleted"
    ] * 3
    tg.faults.error(400, "Bad Request: message can't be deleted", method="deleteMessage")
    tg.faults.error(400, "Bad Request: message can't be edited", method="editMessageText")
    with pytest.raises(Rejected, match="can't be edited"):  # a refusal of the edit still fails
        await adapter.undo(old)
    await adapter.undo(Receipt(Platform.TELEGRAM, Action.BOOST, f"{CHANNEL}:9999"))  # gone: done


@pytest.mark.rule("message is not modified")
async def test_an_unchanged_card_edit_counts_as_done(adapter: TelegramAdapter, tg: TelegramSandbox) -> None:
    console = console_of(adapter)
    card = Card(Doc.of("candidate #7"), ((Button("✅ Approve", "approve"),),), 7)
    message = await console.send_card(card)
    await console.edit_card(message, card)  # Telegram: "message is not modified" — it shows this already
    errors = [c.error or "" for c in tg.calls_to("editMessageText")]
    assert len(errors) == 1
    assert errors[0].startswith("Bad Request: message is not modified")
    await console.edit_card(message, Card(Doc.of("candidate #7 approved"), (), 7))
    assert tg.message(CURATORS, int(message)).text == "candidate #7 approved"
    with pytest.raises(NotFound):  # other refusals are not swallowed
        await console.edit_card("9999", card)


@pytest.mark.rule("text length in UTF-16")
async def test_text_is_measured_in_utf16_units_before_sending(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    with pytest.raises(Rejected, match="4096"):
        await adapter.publish_part("😀" * 2049)  # 2049 characters, 4098 units
    assert tg.calls_to("sendMessage") == []  # refused before Telegram was asked
    await adapter.publish_part("😀" * 2048)
    await adapter.publish_part("<b>" + "&amp;" * 4096 + "</b>")  # what shows is counted, not the markup

    await adapter.amplify(mastodon_post(NURSE * 3000, name=NURSE * 40), Action.SPOTLIGHT)
    card = tg.last_message(CHANNEL)
    assert card is not None
    assert utf16_len(card.text) <= 4096
    assert card.text.endswith("Read it on Mastodon: https://med.example/@maria/99")


@pytest.mark.rule("text length in UTF-16")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6000),
    name=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80),
    warning=st.none() | st.text(max_size=40),
)
def test_every_spotlight_fits_telegram_after_parsing(text: str, name: str, warning: str | None) -> None:
    post = mastodon_post(text, name=name)
    if warning is not None:
        post = dataclasses.replace(post, content_warning=warning)
    shown, _ = parse_html(to_html(spotlight(post)))  # the sandbox's parser: raises what Telegram refuses
    assert utf16_len(shown.strip()) <= 4096


@pytest.mark.rule("caption length")
async def test_a_boost_copies_the_members_caption_as_it_is(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    await adapter.amplify(member_post(tg), Action.BOOST)
    (copied,) = tg.calls_to("copyMessage")
    # A caption the member wrote already fits; one we passed could make it longer than 1024 units.
    assert "caption" not in copied.params
    assert copied.status == 200


@pytest.mark.rule("entity offsets in UTF-16")
async def test_entities_after_emoji_land_where_they_were_meant(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    for prefix in ("", NURSE, NURSE * 5 + " 🩺", "𝔐𝔞𝔯í𝔞 "):
        tg.user_sends(MARIA, COMMUNITY, f"{prefix} hola #{TAG} #Otra")
    (batch,) = await read_all(adapter)
    assert len(batch.posts) == 4  # the hashtag was found after every prefix
    assert all(post.hashtags == {TAG.lower(), "otra"} for post in batch.posts)

    await adapter.amplify(mastodon_post(f"{NURSE} la guardia", name=f"{NURSE} Dra. María"), Action.SPOTLIGHT)
    card = tg.last_message(CHANNEL)
    assert card is not None
    assert card.entity_texts("bold") == ["🔦 From the community on Mastodon", f"{NURSE} Dra. María"]
    assert card.entity_texts("blockquote") == [f"{NURSE} la guardia"]


# Nothing here reaches the network: the console only signs and reads button data.
SIGNER = TelegramConsole(ExtBot("1:x"), TelegramSettings(bot_token="1:x", curator_chat_id=CURATORS))


@pytest.mark.rule("callback_data 1-64 bytes")
@settings(max_examples=200, deadline=None)
@given(verb=st.sampled_from(VERBS), candidate_id=st.integers(min_value=0, max_value=2**63 - 1))
def test_button_data_is_at_most_64_bytes_and_reads_back(verb: Any, candidate_id: int) -> None:
    data = SIGNER.button_data(verb, candidate_id)
    assert 1 <= len(data.encode()) <= 64
    assert SIGNER.read_button(data) == (verb, candidate_id)


@pytest.mark.rule("callback_data 1-64 bytes")
async def test_a_card_for_the_largest_candidate_id_is_accepted(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    card = Card(
        Doc.of("candidate"),
        ((Button("✅", "approve"), Button("❌", "reject"), Button("💤", "snooze")),),
        2**63 - 1,
    )
    message = await console_of(adapter).send_card(card)
    assert all(len(d.encode()) <= 64 for d in tg.message(CURATORS, int(message)).callback_data)


@pytest.mark.rule("button URLs")
async def test_a_link_button_telegram_would_refuse_is_left_off_not_the_card(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    buttons = (
        (Button("✅ Approve", "approve"), Button("🔗 Open", url="javascript:alert(1)")),
        (Button("🔗 Web", url="https://med.example/@maria/99"),),
    )
    message = await console_of(adapter).send_card(Card(Doc.of("candidate #8"), buttons, 8))
    shown = tg.message(CURATORS, int(message))
    assert [b["text"] for b in shown.buttons] == ["✅ Approve", "🔗 Web"]


@pytest.mark.rule("callback answer length")
async def test_a_long_answer_to_a_tap_is_cut_to_200_units(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    console = console_of(adapter)
    message = await console.send_card(Card(Doc.of("candidate #9"), ((Button("✅", "approve"),),), 9))
    tapped = tg.user_taps(ANA, tg.message(CURATORS, int(message)), console.button_data("approve", 9))
    (update,) = await adapter.bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    await console.answer(Tap(str(ANA), "approve", 9, handle=update.callback_query), "😀" * 300, alert=True)
    answer = tg.answer_to(tapped)
    assert answer is not None  # before the fix: refused, and the curator's spinner ran on
    assert answer.text == "😀" * (CALLBACK_ANSWER_MAX // 2)
    assert answer.show_alert


def allowed_in(params: dict[str, Any]) -> set[str]:
    raw = params.get("allowed_updates")
    return set(json.loads(raw) if isinstance(raw, str) else raw or [])


@pytest.mark.rule("allowed_updates")
async def test_the_watch_names_what_it_reads_and_skips_what_comes_anyway(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    tg.user_sends(MARIA, CHANNEL, "a channel post, made before the bot said what it wants")
    tg.user_sends(MARIA, COMMUNITY, f"hola #{TAG}")
    (batch,) = await read_all(adapter)
    assert [post.text for post in batch.posts] == [f"hola #{TAG}"]
    assert batch.malformed == 0  # a kind it did not ask for is not an error
    polls = tg.calls_to("getUpdates")
    assert polls
    assert all("allowed_updates" in c.params for c in polls)  # never "the previous setting"
    assert all(allowed_in(c.params) >= WANTED for c in polls)
    tg.user_sends(MARIA, CHANNEL, "a channel post made after")
    assert tg.pending_updates == 0  # Telegram does not even keep it for us


@pytest.mark.rule("replies to a missing message")
async def test_an_answer_still_goes_when_the_members_message_is_gone(
    adapter: TelegramAdapter, tg: TelegramSandbox, clock: FakeClock
) -> None:
    asked = tg.user_sends(MARIA, MARIA, "/optout")
    maria = Author(str(MARIA), "@maria_md", "María")
    await adapter.send_direct(maria, "Done.", reply_to=f"{MARIA}:{asked.message_id}")
    clock.advance(seconds=1)  # a private chat takes one message a second
    await adapter.send_direct(maria, "Done again.", reply_to=f"{MARIA}:9999")  # she deleted hers
    answers = tg.messages(MARIA, by_bot=True)
    assert [(m.text, m.reply_to_message_id) for m in answers] == [
        ("Done.", asked.message_id),
        ("Done again.", None),
    ]


@pytest.mark.rule("confirming updates")
async def test_a_finished_read_confirms_its_last_page(adapter: TelegramAdapter, tg: TelegramSandbox) -> None:
    tg.user_sends(MARIA, COMMUNITY, f"uno #{TAG}")
    tg.user_sends(BEA, COMMUNITY, f"dos #{TAG}")
    (batch,) = await read_all(adapter)
    assert len(batch.posts) == 2
    assert tg.pending_updates == 0
    assert await read_all(adapter) == []  # the next run starts after them


@pytest.fixture
def private_tg(clock: FakeClock) -> Iterator[TelegramSandbox]:
    with realistic(clock, privacy_mode=True) as sandbox:
        sandbox.add_chat(COMMUNITY, "supergroup", "Community", members=[MARIA], bot_status="member")
        yield sandbox


@pytest.mark.rule("privacy mode")
async def test_privacy_mode_in_the_community_group_is_reported_at_start(
    private_tg: TelegramSandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tg = private_tg
    caplog.set_level(logging.WARNING, logger="adapters.telegram.adapter")
    deaf = make_telegram(tg, clock)
    await deaf.start()
    try:
        (warning,) = [r for r in caplog.records if "privacy mode hides" in r.getMessage()]
        assert getattr(warning, "chat", None) == COMMUNITY
        tg.user_sends(MARIA, COMMUNITY, f"hola #{TAG}")  # never reaches the bot
        nominated = tg.user_sends(MARIA, COMMUNITY, f"otra #{TAG}")
        tg.user_sends(MARIA, COMMUNITY, "/nominate@CoalesceBot", reply_to=nominated)  # this one does
        (batch,) = await read_all(deaf)
        assert batch.posts == []
        assert [n.post.text for n in batch.nominations] == [f"otra #{TAG}"]
    finally:
        await deaf.close()

    caplog.clear()
    tg.set_member(COMMUNITY, tg.bot, "administrator")  # an administrator sees every message
    hearing = make_telegram(tg, clock)
    await hearing.start()
    try:
        assert not [r for r in caplog.records if "privacy mode hides" in r.getMessage()]
        tg.user_sends(MARIA, COMMUNITY, f"ahora #{TAG}")
        (batch,) = await read_all(hearing)
        assert [post.text for post in batch.posts] == [f"ahora #{TAG}"]
    finally:
        await hearing.close()


@pytest.mark.rule("bots cannot start a conversation")
async def test_a_direct_message_to_someone_who_never_wrote_is_refused_cleanly(
    adapter: TelegramAdapter, tg: TelegramSandbox, clock: FakeClock
) -> None:
    bea = Author(str(BEA), "@bea_ms", "Bea")
    with pytest.raises(Rejected, match="can't initiate conversation"):
        await adapter.send_direct(bea, "Your interview is ready")
    assert tg.messages(BEA) == []
    tg.user_sends(BEA, BEA, "/start")
    clock.advance(seconds=1)  # she answers later; a private chat takes one message a second
    receipt = await adapter.send_direct(bea, "Your interview is ready")
    assert receipt is not None
    assert tg.last_message(BEA) is not None


@pytest.mark.rule("deep-link payload")
async def test_interview_links_bring_their_token_back(adapter: TelegramAdapter, tg: TelegramSandbox) -> None:
    console = console_of(adapter)
    # The payloads the interview invitations make (bot/series/interview_chat.py).
    tokens = [secrets.token_urlsafe(9) for _ in range(5)]
    for token in tokens:
        link = console.start_link(interview_chat.START + token)
        assert link is not None
        tg.user_sends(MARIA, MARIA, start_message(link, tg.bot.username or ""))
    (batch,) = await read_all(adapter)
    assert [(r.kind, r.argument) for r in batch.requests] == [(interview_chat.INTERVIEW, t) for t in tokens]


@pytest.mark.rule("forward_origin")
async def test_a_boost_is_a_copy_with_our_credit_not_a_forward(
    adapter: TelegramAdapter, tg: TelegramSandbox
) -> None:
    tg.add_user(4001, "Quiet", "quiet_md", hide_forwards=True)
    sent = tg.user_sends(4001, COMMUNITY, f"prefiero no salir #{TAG}")
    post = Post(
        Platform.TELEGRAM,
        f"{COMMUNITY}:{sent.message_id}",
        f"https://t.me/c/1000000002/{sent.message_id}",
        Author("4001", "@quiet_md", "Quiet", url="https://t.me/quiet_md"),
        sent.text,
        FakeClock().now(),
        ref=f"{COMMUNITY}:{sent.message_id}",
    )
    await adapter.amplify(post, Action.BOOST)
    copy = tg.last_message(CHANNEL)
    assert copy is not None
    # copyMessage: "the copied message doesn't have a link to the original message" — no
    # forward_origin of any kind (a forward would carry MessageOriginHiddenUser here), so the
    # credit the curators approved is the only attribution.
    assert copy.forward_origin is None
    assert tg.calls_to("forwardMessage") == []
    assert copy.buttons == [{"text": "✍️ Quiet", "url": "https://t.me/quiet_md"}]
