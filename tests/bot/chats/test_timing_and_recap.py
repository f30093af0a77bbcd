"""A chat's questions on their second (the service wakes for the next slot, not the next poll),
across a clock change; and the recap published as a thread exactly once, finished after a
restart mid-thread, quoting only members who consented. Real Mastodon.py on the sandbox,
injected clock, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text
from bot.chats.runner import ChatRunner
from bot.clock import FakeClock
from bot.conference.daily import DailyHighlights
from bot.conference.service import Gatherings
from bot.config import Settings
from bot.domain import Platform, Receipt
from bot.ops import chats as ops
from bot.ops.chats import ChatFields
from bot.series.publisher import Publisher
from bot.store import models as m
from bot.store.store import Item, Store
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import central_statuses, mastodon_adapter
from tests.factories import author, post

# Sunday 8 March 2026: New York's clocks jump from 02:00 to 03:00. The chat starts at 01:30 EST
# (06:30 UTC); its second question, 40 minutes later, comes at 03:10 EDT (07:10 UTC).
START = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
FIELDS = ChatFields(
    topic="Night shifts",
    host="Dra. Ruiz",
    tag="LIMchat",
    start="2026-03-08 01:30",
    timezone="America/New_York",
    questions=["0: What keeps you going at 3 am?", "40: Your best night-shift snack?"],
)


class _Crash(BaseException):
    """The process dies: nothing after this line of ours runs."""


def crashing_after(parts: int) -> type[MastodonAdapter]:
    class Crashing(MastodonAdapter):
        calls = 0

        async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
            type(self).calls += 1
            if type(self).calls > parts:
                raise _Crash
            return await super().publish_part(text, reply_to)

    return Crashing


def _runner(
    store: Store,
    settings: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    worker: str,
    cls: type[MastodonAdapter] = MastodonAdapter,
) -> ChatRunner:
    adapter = mastodon_adapter(sandbox.base_url, clock, cls)
    return ChatRunner(
        store, Publisher(store, {Platform.MASTODON: adapter}, clock, worker=worker), settings, clock
    )


def _to(clock: FakeClock, at: datetime) -> None:
    clock.advance((at - clock.now()).total_seconds())


def _texts(sandbox: MastodonSandbox) -> list[str]:
    return [html_to_text(s["content"]) for s in central_statuses(sandbox)]


def _started(store: Store, series_key: str) -> list[datetime]:
    p = m.Publication
    with store.engine.connect() as conn:
        return list(conn.execute(select(p.started_at).where(p.series.like(f"%:{series_key}"))).scalars())


async def _until(condition: Callable[[], object], what: str, within: float = 10.0) -> None:
    """Wait (in real time, briefly yielding) until ``condition`` holds: the service works in
    threads (the store, the platform), so its progress is watched, not assumed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
def chat_id(store: Store, settings: Settings, clock: FakeClock) -> int:
    result = ops.add_chat(store, settings, FIELDS, by="ana", now=clock.now())
    assert result.data is not None, result.message
    return result.data.id


async def test_questions_go_out_on_their_second_across_a_clock_change(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, chat_id: int
) -> None:
    runner = _runner(store, settings, clock, sandbox, "w1")
    gatherings = Gatherings(
        store,
        DailyHighlights(store, runner.publisher, settings),
        runner,
        runner.publisher.adapters,
        clock,
        poll_seconds=600,  # ten minutes: a question timed by the poll would be up to that late
    )
    _to(clock, START - timedelta(seconds=30))
    stop = asyncio.Event()
    service = asyncio.create_task(gatherings.service(None, stop))
    try:
        await _until(lambda: clock.sleepers == 1, "the service sleeps")
        assert _texts(sandbox) == []
        clock.advance(seconds=29)
        await _until(lambda: clock.sleepers == 1, "the service still sleeps")
        assert _texts(sandbox) == []
        clock.advance(seconds=1)  # 01:30:00 EST
        await _until(lambda: len(_texts(sandbox)) == 1, "Q1 is posted")
        assert _texts(sandbox)[0].startswith("Q1: What keeps you going at 3 am?")
        assert _started(store, "q1") == [START]
        await _until(lambda: clock.sleepers == 1, "the service sleeps until Q2")
        assert gatherings.seconds_to_next() == 600  # Q2 is 40 minutes away: the poll comes first
        for _ in range(3):  # three quiet polls (answers are collected), nothing posted
            clock.advance(seconds=600)
            await _until(lambda: clock.sleepers == 1, "the service polls and sleeps again")
        assert len(_texts(sandbox)) == 1
        assert gatherings.seconds_to_next() == 600  # exactly ten minutes to go
        clock.advance(seconds=599)
        await _until(lambda: clock.sleepers == 1, "the service still sleeps")
        assert len(_texts(sandbox)) == 1
        clock.advance(seconds=1)  # 03:10:00 EDT: the hour that did not exist is not waited for
        await _until(lambda: len(_texts(sandbox)) == 2, "Q2 is posted")
        assert _started(store, "q2") == [START + timedelta(minutes=40)]
        assert (START + timedelta(minutes=40)).astimezone(ZoneInfo(FIELDS.timezone)).strftime(
            "%H:%M %Z"
        ) == "03:10 EDT"
        # Next: the recap, an hour after the last question.
        await _until(lambda: clock.sleepers == 1, "the service sleeps until the recap")
        assert gatherings.seconds_to_next() == 600
    finally:
        stop.set()
        clock.advance(seconds=600)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(service, 5)


async def test_the_recap_thread_goes_out_once_and_finishes_after_a_restart(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, chat_id: int
) -> None:
    first = _runner(store, settings, clock, sandbox, "w1")
    _to(clock, START)
    assert [o.state for o in await first.run_due()] == ["done"]  # Q1
    q1_id = central_statuses(sandbox)[0]["id"]
    now = START + timedelta(minutes=5)
    tags = ("LatinasInMedicine", "limchat")
    answers = [
        (f"member{i}@med.example", f"A1 number {i}: " + "coffee, my team and the patients' thanks. " * 3)
        for i in range(5)
    ]
    items = [
        Item(post(text + " #limchat", by=author(h, account_id=h), tags=tags, now=now, age=timedelta(0)))
        for h, text in answers
    ]
    private = author("quiet@med.example", account_id="quiet")
    items.append(Item(post("Her secret answer", by=private, now=now, age=timedelta(0), reply_to=q1_id)))
    store.ingest(Platform.MASTODON, items, now)
    with store.engine.begin() as conn:  # she keeps her posts to herself
        conn.execute(update(m.Account).where(m.Account.handle == "quiet@med.example").values(consent="out"))

    _to(clock, START + timedelta(minutes=40))
    assert [o.state for o in await first.run_due()] == ["done"]  # Q2
    recap_at = START + timedelta(minutes=100)
    _to(clock, recap_at)
    crashing = _runner(store, settings, clock, sandbox, "w1", crashing_after(1))
    with pytest.raises(_Crash):
        await crashing.run_due()
    assert len(central_statuses(sandbox)) == 3  # Q1, Q2 and the recap's first part
    clock.advance(minutes=1)
    restarted, other = (_runner(store, settings, clock, sandbox, w) for w in ("w1", "w2"))
    outcomes = await asyncio.gather(restarted.run_due(), other.run_due())
    states = sorted(o.state for found in outcomes for o in found)
    assert states in (["busy", "done"], ["already", "done"])
    (done,) = [o for found in outcomes for o in found if o.state == "done"]
    assert done.series == f"chat:{chat_id}:recap"
    assert done.published == done.total > 1  # a thread
    posted = central_statuses(sandbox)
    recap = [html_to_text(s["content"]) for s in posted[2:]]
    assert len(recap) == done.total
    assert [s["in_reply_to_id"] for s in posted[3:]] == [s["id"] for s in posted[2:-1]]
    whole = " ".join(recap).replace("\u2060", "")  # tags not followed now are made inert
    assert whole.startswith("Thank you for our chat on “Night shifts” with Dra. Ruiz (#limchat)! 6 answers")
    assert "6 members (6 on Mastodon)" in whole
    assert "+ 1 more from members who keep their posts to themselves." in whole
    assert "secret" not in whole
    assert "quiet" not in whole
    assert all(f"member{i}" in whole for i in range(5))
    clock.advance(hours=1)
    assert [o.state for o in await restarted.run_due()] == ["already"]
    assert len(central_statuses(sandbox)) == len(posted)
