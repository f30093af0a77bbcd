"""Private messages from strangers are rate-limited per sender, with bounded cost: a flood gets
``trust.requests_per_sender`` answers a window and no more, leaves at most that many rows, and
holds nothing per sender in memory; an opt-out that changes something still goes through and is
answered. Real Mastodon.py and python-telegram-bot on the sandboxes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from tests.adapters.telegram.conftest import SAM, Harness, console_settings, harness_factory, tg
from tests.attacks.consent_world import masto, open_world, sky
from tests.conftest import make_settings

__all__ = ["harness_factory", "masto", "sky", "tg"]  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

BUDGET = 5


def _rows(engine: Engine, account_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(m.MemberRequest)
                .join(m.Account, m.Account.id == m.MemberRequest.account_id)
                .where(m.Account.platform_account_id == account_id)
            ).scalar_one()
        )


async def test_a_flood_of_direct_messages_gets_the_budget_and_no_more(
    engine: Engine, masto: MastodonSandbox, sky: BlueskySandbox, clock: FakeClock
) -> None:
    settings = make_settings(trust={"requests_per_sender": BUDGET, "requests_window_minutes": 60})
    async with open_world(engine, masto, sky, clock, settings) as w:
        stranger = masto.add_account("flood", "pile.example")
        await w.round()
        for i in range(40):
            w.mention(stranger, f"hello {i}", visibility="direct")
            w.mention(stranger, "link", visibility="direct")  # each would make a code
        await w.round()
        assert len(w.directs_to(stranger)) == BUDGET
        assert _rows(engine, str(stranger["id"])) == BUDGET
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.LinkCode)).scalar_one() <= BUDGET

        # over budget, an opt-out that changes something is still done and answered, once
        w.mention(stranger, "optout", visibility="direct")
        w.mention(stranger, "optout", visibility="direct")
        await w.round()
        assert w.consent(Platform.MASTODON, str(stranger["id"])) == "out"
        assert len(w.directs_to(stranger)) == BUDGET + 1
        assert "Done" in w.directs_to(stranger)[0]

        # a new window: answered again
        clock.advance(minutes=61)
        w.mention(stranger, "help", visibility="direct")
        await w.round()
        assert len(w.directs_to(stranger)) == BUDGET + 2

        # someone else is not held by the flooder's budget
        rosa = masto.add_account("rosa")
        w.mention(rosa, "optout", visibility="direct")
        await w.round()
        assert "Done" in w.directs_to(rosa)[0]


def _more(h: Harness, than: int) -> list[Any] | None:
    sent = h.tg.messages(SAM, by_bot=True)
    return sent if len(sent) > than else None


async def test_a_telegram_flood_is_answered_within_the_budget(
    harness_factory: Callable[..., Any], engine: Engine, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(
        console_settings(trust={"requests_per_sender": BUDGET, "requests_window_minutes": 60})
    )
    for i in range(30):
        h.tg.user_sends(SAM, SAM, f"/optin now {i}" if i % 2 else f"hi there {i}")
    await h.tg.wait_for_async(lambda: h.tg.pending_updates == 0 and h.tg.polls_waiting >= 1)
    answered = 0
    for _ in range(60):  # the trust service delivers each round, one private message a second
        if answered >= BUDGET:
            break
        clock.advance(seconds=16)
        with contextlib.suppress(TimeoutError):  # it was mid-round: the next advance wakes it
            found = await h.tg.wait_for_async(lambda n=answered: _more(h, n), timeout=1.0)  # type: ignore[misc]
            answered = len(found)
    # every update was read and stored (none waits at Telegram): the rest were dropped unanswered
    assert h.tg.pending_updates == 0
    assert len(h.tg.messages(SAM, by_bot=True)) == BUDGET
    assert _rows(engine, str(SAM)) == BUDGET


async def test_telegram_answers_it_gives_itself_are_bounded_too(
    harness_factory: Callable[..., Any], clock: FakeClock
) -> None:
    """/start and links sent in private are answered by the adapter itself (a link costs look-ups
    on other platforms): the same per-sender budget holds there."""
    h: Harness = await harness_factory()
    limit = h.app.adapters[Platform.TELEGRAM].sender_budget.limit  # type: ignore[attr-defined]
    for i in range(limit + 15):
        h.tg.user_sends(SAM, SAM, "/start" if i % 2 else f"https://nowhere.example/{i}")
    await h.tg.wait_for_async(lambda: h.tg.pending_updates == 0 and h.tg.polls_waiting >= 1)
    answered = 0
    for _ in range(4 * limit):  # answers keep to one private message a second
        if answered >= limit:
            break
        clock.advance(seconds=2)
        with contextlib.suppress(TimeoutError):
            found = await h.tg.wait_for_async(lambda n=answered: _more(h, n), timeout=1.0)  # type: ignore[misc]
            answered = len(found)
    assert answered == limit
    h.tg.user_sends(SAM, SAM, "/start")  # a sync point: this one is read after all the others
    await h.tg.wait_for_async(lambda: h.tg.pending_updates == 0 and h.tg.polls_waiting >= 1)
    for _ in range(5):  # time goes on: were any answers still queued, they would go out now
        clock.advance(seconds=2)
        with pytest.raises(TimeoutError):
            await h.tg.wait_for_async(lambda: _more(h, limit), timeout=1.0)
    assert len(h.tg.messages(SAM, by_bot=True)) == limit
