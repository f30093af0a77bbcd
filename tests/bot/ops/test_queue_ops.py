"""The queue's operations called directly, on SQLite and PostgreSQL: each says what happened and
refuses (already decided, not found) or names a usage error without changing anything."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.ops import queue as ops
from bot.ops import safety
from bot.ops.result import Outcome
from bot.store import models as m
from bot.store.store import Item, Store
from tests.factories import author, post


def _queued(store: Store, clock: FakeClock, handle: str = "maria@med.example") -> int:
    result = store.ingest(Platform.MASTODON, [Item(post(by=author(handle)))], clock.now())
    return result.candidates[0]


def _fail(store: Store, cid: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(m.Candidate).where(m.Candidate.id == cid).values(state="failed", last_error="gone away")
        )


def test_approve_says_what_happens_next_and_refuses_a_second_time(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    first = ops.approve(queue, cid, "ana", clock.now(), reason="lovely")
    assert first.outcome is Outcome.DONE
    assert first.message == f"#{cid} approved: the central account will amplify it at its next turn."
    assert first.data is not None
    assert first.data.state == "approved"
    again = ops.approve(queue, cid, "rosa", clock.now())
    assert again.outcome is Outcome.REFUSED
    assert again.message == f"#{cid} is already approved (approve by ana)"
    assert ops.approve(queue, 999, "ana", clock.now()).outcome is Outcome.REFUSED


def test_an_unknown_curator_is_a_usage_error_naming_the_known_ones(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    result = ops.reject(queue, cid, "bob", clock.now())
    assert result.outcome is Outcome.USAGE
    assert result.message == "no curator named 'bob' (known: ana, rosa, lucia)"
    assert queue.show(cid).state == "pending"  # nothing changed


def test_approving_while_frozen_says_the_item_waits_for_the_unfreeze(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    assert safety.freeze(store, settings, "rosa", clock.now()).ok
    result = ops.approve(queue, cid, "ana", clock.now())
    assert result.outcome is Outcome.DONE
    assert "waits for the unfreeze" in result.message
    tap = ops.decide(
        queue, "approve", _queued(store, clock), "ana", clock.now(), snooze_for=timedelta(hours=1)
    )
    assert tap.message == "Approved: amplification is frozen, so it waits for the unfreeze."


def test_only_failed_candidates_can_be_retried(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    assert ops.snooze(queue, cid, "ana", clock.now() + timedelta(hours=2), clock.now()).ok
    refused = ops.retry(queue, cid, "ana", clock.now())
    assert refused.outcome is Outcome.REFUSED
    assert refused.message == f"#{cid} is snoozed: only failed candidates can be retried."
    _fail(store, cid)
    retried = ops.retry(queue, cid, "ana", clock.now())
    assert retried.outcome is Outcome.DONE
    assert retried.message == f"#{cid} goes back to the amplifier."
    assert retried.data is not None
    assert retried.data.state == "approved"


def test_a_snooze_into_the_past_is_a_usage_error(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    result = ops.snooze(queue, cid, "ana", clock.now() - timedelta(minutes=1), clock.now())
    assert result.outcome is Outcome.USAGE
    assert queue.show(cid).state == "pending"


def test_a_spam_wave_is_rejected_at_once_and_decided_ones_are_named(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    wave = [_queued(store, clock, f"spam{i}@pile.example") for i in range(3)]
    ops.approve(queue, wave[0], "ana", clock.now())
    result = ops.reject_many(queue, [*wave, wave[1]], "rosa", clock.now(), reason="spam wave")
    assert result.outcome is Outcome.DONE
    assert result.data is not None
    assert result.data.rejected == (wave[1], wave[2])
    assert [cid for cid, _ in result.data.refused] == [wave[0]]
    assert f"Rejected 2 candidates: #{wave[1]}, #{wave[2]}" in result.message
    assert f"#{wave[0]} not rejected: #{wave[0]} is already approved" in result.message
    none = ops.reject_many(queue, [wave[1]], "rosa", clock.now())
    assert none.outcome is Outcome.REFUSED


def test_listing_with_limit_zero_does_not_call_the_queue_empty(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    empty = ops.list_queue(queue)
    assert empty.message == "Nothing waits: the queue is empty."
    _queued(store, clock)
    none = ops.list_queue(queue, limit=0)
    assert none.data is not None
    assert none.data.items == ()
    assert none.data.counts == {"pending": 1}
    assert "empty" not in none.message
    assert ops.list_queue(queue, limit=-1).outcome is Outcome.USAGE
    listed = ops.list_queue(queue)
    assert listed.data is not None
    assert len(listed.data.items) == 1


def test_summary_and_stats_count_the_queue_and_the_week(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    queue = Queue(store, settings)
    a, b, c = (_queued(store, clock, f"m{i}@med.example") for i in range(3))
    clock.advance(minutes=30)
    ops.approve(queue, a, "ana", clock.now())
    ops.reject(queue, b, "rosa", clock.now())
    summary = ops.summary(queue)
    assert summary.data is not None
    assert [v.id for v in summary.data.oldest] == [c]
    assert summary.message == "1 pending, 0 snoozed, 1 approved and waiting to go out"
    stats = ops.stats(store, clock.now())
    assert stats.data is not None
    assert (stats.data.queued, stats.data.approved, stats.data.rejected) == (3, 1, 1)
    assert stats.data.median_seconds == 30 * 60
    assert "median time to a decision: 30 min" in stats.message
