"""An edited Telegram message updates its candidate and its card instead of becoming a new
candidate; an edit that adds ``#nobot`` or removes the community hashtag withdraws it, and an
edit after approval needs a new decision (no approve-then-edit bait and switch)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adapters.mastodon.normalize import to_post as to_mastodon_post
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Author, Batch, Nomination, Platform
from bot.store import models as m
from bot.store.store import Store
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import BEA, CHANNEL, COMMUNITY, CURATORS, MARIA, TAG, Harness

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
harness_factory = world.harness_factory


def cards_of(tg: TelegramSandbox, candidate_id: int) -> list[Any]:
    return [m for m in tg.messages(CURATORS, by_bot=True) if f"candidate #{candidate_id}\n" in m.text]


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        posts = conn.execute(select(func.count()).select_from(m.Post)).scalar_one()
        candidates = conn.execute(select(func.count()).select_from(m.Candidate)).scalar_one()
    return int(posts), int(candidates)


def version(engine: Engine, candidate_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(m.Candidate.version).where(m.Candidate.id == candidate_id)).scalar_one()
        )


async def test_an_edit_updates_the_candidate_and_its_card_in_place(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    sent = tg.user_sends(MARIA, COMMUNITY, f"Pased my bords! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    [card] = cards_of(tg, cid)
    before = version(engine, cid)
    tg.user_edits(sent, f"Passed my boards! #{TAG}")
    report = await h.app.run_once()
    assert report.ingested[Platform.TELEGRAM].candidates == []  # not a second candidate
    assert report.ingested[Platform.TELEGRAM].edited == [cid]
    assert counts(engine) == (1, 1)
    assert h.app.queue.show(cid).text == f"Passed my boards! #{TAG}"
    assert version(engine, cid) > before
    [redrawn] = cards_of(tg, cid)
    assert redrawn.message_id == card.message_id  # the same card, edited
    assert f"Passed my boards! #{TAG}" in redrawn.text
    assert "✏️ Edited by the author" in redrawn.text
    assert redrawn.callback_data == card.callback_data  # still waiting for a decision
    again = await h.app.run_once()  # the same edit read again changes nothing
    assert again.ingested[Platform.TELEGRAM].edited == []


async def test_the_running_console_redraws_an_edited_card(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    sent = tg.user_sends(MARIA, COMMUNITY, f"Pased my bords! #{TAG}")
    pending = await tg.wait_for_async(lambda: h.app.queue.list("pending"))
    card = await h.card(pending[0].id)
    tg.user_edits(sent, f"Passed my boards! #{TAG}")
    redrawn = await h.card_showing(pending[0].id, "Passed my boards!")
    assert redrawn.message_id == card.message_id


@pytest.mark.parametrize(
    ("edited", "why"),
    [
        (f"On second thought, not this one #{TAG} #nobot", "the author added #nobot to the post"),
        ("Passed my boards!", "the author removed the community hashtag"),
    ],
)
async def test_an_edit_that_opts_out_or_drops_the_tag_withdraws(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, edited: str, why: str
) -> None:
    h: Harness = await harness_factory(run=False)
    sent = tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    tg.user_edits(sent, edited)
    await h.app.run_once()
    assert h.state(cid) == "withdrawn"
    assert h.decisions(cid) == [("system", "withdraw")]
    [card] = cards_of(tg, cid)
    assert f"Withdrawn: {why}" in card.text
    assert card.buttons == []


async def test_an_edit_after_approval_needs_a_new_decision(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    sent = tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    h.app.queue.approve(cid, "ana", clock.now())
    tg.user_edits(sent, f"Buy my course at scam.example #{TAG}")  # before the amplifier's turn
    report = await h.app.run_once()
    assert report.outcomes == []
    assert h.state(cid) == "pending"
    assert tg.messages(CHANNEL, by_bot=True) == []
    [card] = cards_of(tg, cid)
    assert "Buy my course" in card.text
    assert card.callback_data  # the decision buttons are back
    h.app.queue.approve(cid, "ana", clock.now())  # the same curator may approve the new text
    await h.app.run_once()
    assert h.state(cid) == "amplified"
    [copy] = tg.messages(CHANNEL, by_bot=True)
    assert copy.text == f"Buy my course at scam.example #{TAG}"  # what the curator approved last


async def test_an_edit_after_amplification_is_shown_not_undone(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    sent = tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    h.app.queue.approve(cid, "ana", clock.now())
    await h.app.run_once()
    tg.user_edits(sent, f"Passed my boards, all three parts! #{TAG}")
    await h.app.run_once()
    assert h.state(cid) == "amplified"
    [card] = cards_of(tg, cid)
    assert "✏️ Edited by the author" in card.text
    assert h.decisions(cid)[-1] == ("system", "edit")


async def test_edited_chatter_is_not_stored_and_an_edit_adding_the_tag_is_queued(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    chatter = tg.user_sends(BEA, COMMUNITY, "lunch?")
    tagged_later = tg.user_sends(MARIA, COMMUNITY, "Passed my boards!")
    await h.app.run_once()
    tg.user_edits(chatter, "lunch at 1?")
    tg.user_edits(tagged_later, f"Passed my boards! #{TAG}")
    report = await h.app.run_once()
    assert len(report.ingested[Platform.TELEGRAM].candidates) == 1
    assert counts(engine) == (1, 1)  # the chatter was never stored
    assert [v.author_handle for v in h.app.queue.list("pending")] == ["@maria_md"]


async def test_an_edited_command_is_not_a_second_request(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    asked = tg.user_sends(MARIA, MARIA, "/optout")
    await h.app.run_once()
    answers = len(tg.messages(MARIA, by_bot=True))
    tg.user_edits(asked, "/optin")  # an edit is not a new message: Telegram shows no new request
    await h.app.run_once()
    assert len(tg.messages(MARIA, by_bot=True)) == answers


def test_a_mastodon_status_seen_again_with_a_newer_edit_updates_its_candidate(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    """The same path serves every platform: Mastodon says ``edited_at``, and a status read again
    (a member nominating it, say) with a newer one updates the candidate instead of being ignored."""
    status = {
        "id": "109",
        "url": "https://med.example/@maria/109",
        "account": {"id": "7", "acct": "maria", "display_name": "María"},
        "content": f"<p>Pased my bords #{TAG}</p>",
        "created_at": "2026-03-02T14:00:00Z",
        "edited_at": None,
        "tags": [{"name": TAG}],
    }
    pipeline = Pipeline(settings, store)
    first = to_mastodon_post(status, "med.example")
    assert first.edited_at is None
    [cid] = pipeline.ingest(Platform.MASTODON, Batch("tag", None, posts=[first]), clock.now()).candidates
    edited = to_mastodon_post(
        {**status, "content": f"<p>Passed my boards #{TAG}</p>", "edited_at": "2026-03-02T14:30:00Z"},
        "med.example",
    )
    assert edited.edited_at == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    nominated = Nomination(edited, Author("8", "bea@med.example"))
    result = pipeline.ingest(Platform.MASTODON, Batch("mentions", None, nominations=[nominated]), clock.now())
    assert result.edited == [cid]
    assert result.candidates == []
    assert Queue(store, settings).show(cid).text == f"Passed my boards #{TAG}"
    broken = to_mastodon_post({**status, "edited_at": "yesterday"}, "med.example")
    assert broken.edited_at is None  # an unreadable edit date loses nothing
