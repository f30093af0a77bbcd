"""Chats and meet-ups from the curators' Telegram console: /chats lists the chats coming up with
where each stands, /meetup add|remove and /meetups schedule, call off and list meet-ups
(bot.ops.chats, bot.ops.meetups); what a curator typed stays inert text. The real
python-telegram-bot against the Bot API sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import ANA, ROSA, SAM, Harness
from tests.adapters.telegram.test_console import answer_to

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")
SCRIPT = "<b>Hall</b> <a href='javascript:alert(1)'>B</a>"


async def test_curators_list_chats_and_schedule_meetups_from_telegram(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    store, settings, now = h.app.store, h.app.settings, h.clock.now()

    async def ask(user: int, text: str) -> str:
        return (await answer_to(tg, user, text)).replace("\u2060", "")

    assert "No chats coming up" in await ask(ANA, "/chats")
    start = (now + timedelta(days=3)).strftime("%Y-%m-%d 19:00")
    fields = chat_ops.ChatFields(
        topic="Match <i>day</i>",
        host="Dra. Ruiz",
        tag="MatchChat",
        start=start,
        timezone="America/New_York",
        questions=["0: How did it go?", "15: Who will you thank?"],
    )
    assert chat_ops.add_chat(store, settings, fields, by="ana", now=now).ok
    listed = await ask(ROSA, "/chats")
    assert "Chats coming up: 1" in listed
    assert "#matchchat · Match <i>day</i> with Dra. Ruiz" in listed  # the topic as text
    assert "2 questions · scheduled, nothing posted yet" in listed

    today = now.date()
    conference = conf_ops.ConferenceFields(
        name="ACS Clinical Congress",
        tag="ACSCC27",
        starts_on=today.isoformat(),
        ends_on=(today + timedelta(days=2)).isoformat(),
        timezone="UTC",
    )
    assert conf_ops.add_conference(store, settings, conference, by="ana", now=now).ok
    day = (today + timedelta(days=1)).isoformat()
    added = await ask(ANA, f"/meetup add ACSCC27 {day} 18:30 {SCRIPT} | Ana wears the pink ribbon")
    assert "Meet-up #1 at ACS Clinical Congress (#acscc27)" in added
    assert SCRIPT in added  # what she typed, shown as she typed it, never as markup
    listed = await ask(ROSA, "/meetups ACSCC27")
    assert "1 meet-up." in listed
    assert "#1 · #acscc27 · " in listed
    assert "ribbon: Ana wears the pink ribbon" in listed
    assert "Put a | between the place and the ribbon" in await ask(
        ANA, f"/meetup add ACSCC27 {day} 18:30 Hall"
    )
    assert "Usage: /meetup" in await ask(ANA, "/meetup add ACSCC27")
    assert "no conference #other" in await ask(ANA, f"/meetup add OTHER {day} 18:30 Hall | ribbon")
    refused = await ask(ANA, f"/meetup add ACSCC27 {day} 25:99 Hall | ribbon")
    assert "Not scheduled: --at must be a local time" in refused
    assert await ask(SAM, "/meetup remove 1") == "Only the community's curators can do that."
    assert "Meet-up #1 called off" in await ask(ROSA, "/meetup remove 1")
    assert "no meet-up #1 on the schedule" in await ask(ROSA, "/meetup remove 1")
    assert "No meet-ups scheduled" in await ask(ANA, "/meetups")
    helped = await ask(ANA, "/help")
    assert "/chats — the chats coming up" in helped
    assert "/meetup add TAG YYYY-MM-DD HH:MM PLACE… | RIBBON…" in helped
