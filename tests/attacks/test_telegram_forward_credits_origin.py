"""A forwarded Telegram message is credited to its original author, or shown as forwarded when
Telegram hides who that is — never credited to the member who forwarded it. The original
author's consent (and bio) decides, as if they had posted it; the card says who forwarded it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain import Platform
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import (
    BEA,
    CHANNEL,
    COMMUNITY,
    CURATORS,
    MARIA,
    OTHER_GROUP,
    TAG,
    Harness,
)

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
harness_factory = world.harness_factory

NEWS = -1001000000077  # a public channel the original was posted in
DANI = 4001  # the original author, who never joined the community group


def card_text(tg: TelegramSandbox, candidate_id: int) -> str:
    [card] = [m.text for m in tg.messages(CURATORS, by_bot=True) if f"candidate #{candidate_id}\n" in m.text]
    return card


async def approve_and_copy(h: Harness, candidate_id: int, clock: FakeClock) -> StoredMessage:
    h.app.queue.approve(candidate_id, "ana", clock.now())
    report = await h.app.run_once()
    assert [o.ok for o in report.outcomes] == [True], report.outcomes
    [copy] = h.tg.messages(CHANNEL, by_bot=True)
    return copy


async def test_a_forward_is_credited_to_the_person_who_wrote_it(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.add_user(DANI, "Daniela", "dani_md")
    original = tg.user_sends(DANI, OTHER_GROUP, f"Our free clinic opens Monday #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, original)
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    [view] = h.app.queue.list("pending")
    assert (view.author_name, view.author_handle) == ("Daniela", "@dani_md")
    assert view.reason == "forward"
    assert view.nominated_by == "@bea_ms"
    card = card_text(tg, cid)
    assert "Daniela (@\u2060dani_md)" in card
    assert "forwarded by @\u2060bea_ms" in card  # shown as forwarded, the handle kept inert
    copy = await approve_and_copy(h, cid, clock)
    assert copy.text == f"Our free clinic opens Monday #{TAG}"
    [credit] = copy.buttons
    assert credit["text"] == "✍️ Daniela"
    assert credit["url"] == "https://t.me/dani_md"
    assert "Bea" not in str(copy.buttons)


async def test_the_original_authors_consent_decides_not_the_forwarders(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.add_user(DANI, "Daniela", "dani_md")
    tg.user_sends(DANI, DANI, "/optout")  # in her private chat with the bot
    await h.app.run_once()
    original = tg.user_sends(DANI, OTHER_GROUP, f"Our free clinic opens Monday #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, original)  # Bea has not opted out; that changes nothing
    tg.set_bio(MARIA, "#nobot")
    by_maria = tg.user_sends(MARIA, OTHER_GROUP, f"Maria's own words #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, by_maria)  # Maria's bio speaks for her words, wherever they go
    report = await h.app.run_once()
    result = report.ingested[Platform.TELEGRAM]
    assert result.candidates == []
    assert result.skipped.get("opted_out") == 2


async def test_a_hidden_sender_is_shown_as_forwarded_never_as_the_forwarder(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.add_user(DANI, "Daniela", "dani_md", hide_forwards=True)
    original = tg.user_sends(DANI, OTHER_GROUP, f"Residency tips #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, original)
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    [view] = h.app.queue.list("pending")
    assert (view.author_name, view.author_handle) == ("Daniela", "hidden account")
    card = card_text(tg, cid)
    assert "Daniela (hidden account)" in card
    assert "forwarded by @\u2060bea_ms" in card
    copy = await approve_and_copy(h, cid, clock)
    [credit] = copy.buttons
    assert credit["text"] == "↪️ Forwarded from Daniela"
    assert "bea" not in credit["text"].lower()


async def test_a_channel_post_is_credited_to_the_channel(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.add_chat(NEWS, "channel", "Med News", username="mednews")
    original = tg.user_sends(BEA, NEWS, f"Scholarships open #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, original)
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    [view] = h.app.queue.list("pending")
    assert (view.author_name, view.author_handle) == ("Med News", "@mednews")
    copy = await approve_and_copy(h, cid, clock)
    [credit] = copy.buttons
    assert credit["text"] == "✍️ Med News"
    assert credit["url"] == f"https://t.me/mednews/{original.message_id}"


async def test_a_group_speaking_as_itself_is_credited_to_the_group(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    source = tg.user_sends(BEA, OTHER_GROUP, f"From the admins #{TAG}")
    origin = {
        "type": "chat",
        "date": source.date,
        "sender_chat": {"id": OTHER_GROUP, "type": "supergroup", "title": "Somewhere else"},
    }
    tg.user_forwards(BEA, COMMUNITY, source, origin=origin)
    await h.app.run_once()
    [view] = h.app.queue.list("pending")
    assert view.author_name == "Somewhere else"
    assert view.nominated_by == "@bea_ms"


async def test_forwarding_your_own_message_is_your_own_post(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    mine = tg.user_sends(BEA, OTHER_GROUP, f"My news #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, mine)
    await h.app.run_once()
    [view] = h.app.queue.list("pending")
    assert (view.author_handle, view.reason, view.nominated_by) == ("@bea_ms", "hashtag", None)


async def test_a_blocked_member_cannot_launder_posts_by_forwarding_them(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    settings = world.console_settings(blocklist={"accounts": ["@bea_ms"]})
    h: Harness = await harness_factory(settings, run=False)
    tg.add_user(DANI, "Daniela", "dani_md")
    original = tg.user_sends(DANI, OTHER_GROUP, f"Our free clinic opens Monday #{TAG}")
    tg.user_forwards(BEA, COMMUNITY, original)
    report = await h.app.run_once()
    assert report.ingested[Platform.TELEGRAM].candidates == []
    assert report.ingested[Platform.TELEGRAM].skipped.get("blocked") == 1
