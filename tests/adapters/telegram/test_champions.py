"""Conference champions from the curators' Telegram console: curators name, list and revoke them
with /champion and /champions (bot.ops.conferences), and a champion's taps on the cards decide
her conference's posts only, only during its days; every refused try is in the audit log.
The real python-telegram-bot against the Bot API sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import Platform
from bot.ops import conferences as conf_ops
from bot.ops.conferences import ConferenceFields
from bot.store import models as m
from bot.store.store import Item
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.telegram.conftest import ANA, MARIA, ROSA, SAM, Harness
from tests.adapters.telegram.test_console import answer_to, queue_post
from tests.factories import author, post

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

CONF_TAGS = ("LatinasInMedicine", "ACSCC27")
ELENA = author("elena@med.example", account_id="elena")


def _conference(h: Harness) -> None:
    """A conference whose last day is the clock's today (UTC), and María seen on Telegram once."""
    today = h.clock.now().date()
    fields = ConferenceFields(
        name="ACS Clinical Congress",
        tag="ACSCC27",
        starts_on=(today - timedelta(days=1)).isoformat(),
        ends_on=today.isoformat(),
        timezone="UTC",
    )
    added = conf_ops.add_conference(h.app.store, h.app.settings, fields, by="ana", now=h.clock.now())
    assert added.ok, added.message
    maria = author("@maria_md", account_id=str(MARIA))
    seen = post("Hola #LatinasInMedicine", by=maria, platform=Platform.TELEGRAM, now=h.clock.now())
    h.app.store.ingest(Platform.TELEGRAM, [Item(seen)], h.clock.now())


async def _tap(h: Harness, tg: TelegramSandbox, user: int, candidate: int, label: str) -> tuple[bool, str]:
    card: StoredMessage = await h.card(candidate)
    button = next(b for b in card.buttons if b["text"] == label)
    tap = tg.user_taps(user, card, button["callback_data"])
    answer = await tg.wait_for_async(lambda: tg.answer_to(tap))
    return bool(answer.show_alert), str(answer.text or "")


def _audit(h: Harness, candidate: int) -> list[tuple[str, str, str | None]]:
    d = m.Decision
    with h.engine.connect() as conn:
        rows = conn.execute(
            select(d.curator, d.action, d.reason).where(d.candidate_id == candidate).order_by(d.id)
        )
        return [(r.curator, r.action, r.reason) for r in rows]


async def test_curators_name_list_and_revoke_champions_from_telegram(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    _conference(h)

    async def ask(user: int, text: str) -> str:
        # What a curator wrote is inert in the answer: no @mention comes alive (a word joiner).
        return (await answer_to(tg, user, text)).replace("\u2060", "")

    named = await ask(ANA, "/champion add ACSCC27 @maria_md")
    assert "@maria_md is a champion of ACS Clinical Congress (#acscc27)" in named
    assert "already a champion" in await ask(ROSA, "/champion add #acscc27 @Maria_MD telegram")
    listed = await ask(ROSA, "/champions ACSCC27")
    assert "1 champion." in listed
    assert "@maria_md (telegram)" in listed
    assert "no member @nobody seen on telegram" in await ask(ANA, "/champion add ACSCC27 @nobody")
    assert "no conference #other" in await ask(ANA, "/champion add OTHER @maria_md")
    assert "--platform must be one of" in await ask(ANA, "/champion add ACSCC27 @maria_md myspace")
    assert "Usage: /champion" in await ask(ANA, "/champion make ACSCC27 @maria_md")
    assert "Usage: /champion" in await ask(ANA, "/champions")
    # Neither a stranger nor the champion herself manages the role.
    assert (
        await ask(SAM, "/champion add ACSCC27 @sam_stranger") == "Only the community's curators can do that."
    )
    assert await ask(MARIA, "/champion remove ACSCC27 @maria_md") == (
        "Only the community's curators can do that."
    )
    assert "/champion add|remove TAG @handle" in await ask(SAM, "/help")

    assert "no longer a champion of #acscc27" in await ask(ROSA, "/champion remove ACSCC27 @maria_md")
    assert "is not a champion" in await ask(ROSA, "/champion remove ACSCC27 @maria_md")
    assert "0 champions." in await ask(ANA, "/champions ACSCC27")
    with h.engine.connect() as conn:
        row = conn.execute(select(m.ConferenceChampion.named_by, m.ConferenceChampion.removed_by)).one()
    assert tuple(row) == ("ana", "rosa")


async def test_a_champion_taps_only_her_conference_cards_and_only_during_it(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    _conference(h)
    assert "is a champion" in await answer_to(tg, ANA, "/champion add ACSCC27 maria_md")
    talk = queue_post(h, "Great talk on trauma care #ACSCC27", by=ELENA, tags=CONF_TAGS)
    later = queue_post(h, "Second talk #ACSCC27", by=ELENA, tags=CONF_TAGS)
    other = queue_post(h, "Matched into surgery! #LatinasInMedicine", by=ELENA)

    alert, said = await _tap(h, tg, MARIA, talk, "✅ Approve")
    assert not alert, said
    assert "Approved" in said
    await h.card_showing(talk, "Approved by champion:maria_md")
    assert _audit(h, talk) == [("champion:maria_md", "approve", "conference #acscc27")]

    alert, said = await _tap(h, tg, MARIA, other, "✅ Approve")
    assert alert
    assert "not a conference post of yours (#acscc27)" in said
    assert h.state(other) == "pending"
    assert _audit(h, other) == [
        ("champion:maria_md", "refused", f"approve: {said}"),
    ]
    alert, said = await _tap(h, tg, MARIA, later, "💤 Snooze 24 h")
    assert alert
    assert "may approve or reject, not snooze" in said
    assert h.state(later) == "pending"

    # Midnight UTC: the conference's last day is over, and her role with it.
    tomorrow = datetime.combine(
        h.clock.now().date() + timedelta(days=1), datetime.min.time(), h.clock.now().tzinfo
    )
    await h.advance(seconds=(tomorrow - h.clock.now()).total_seconds() + 60)
    alert, said = await _tap(h, tg, MARIA, later, "❌ Reject")
    assert alert
    assert "the champion role ended with it" in said
    assert h.state(later) == "pending"
    assert _audit(h, later)[-1] == ("champion:maria_md", "refused", f"reject: {said}")
    # A curator still decides it; a stranger still cannot.
    alert, _ = await _tap(h, tg, SAM, later, "❌ Reject")
    assert alert
    alert, said = await _tap(h, tg, ROSA, later, "❌ Reject")
    assert not alert
    assert h.state(later) == "rejected"
