"""The durable-work helper (bot.durable) on SQLite and PostgreSQL: leases that one worker wins and
a crashed worker's lease that runs out, the intent committed before the platform call, the
outcome after it, failures classified once, backoff with jitter within its bounds."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.durable import Backoff, Failure, Lease, RetryPolicy, classify, perform, run_sync
from bot.errors import MalformedPayload, NotFound, PlatformError, RateLimited, Rejected, Transient
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust.undo import trust_retries
from tests.conftest import make_settings
from tests.loop_guard import store_work_off_the_loop

TTL = timedelta(minutes=2)


def new_item(store: Store, now: datetime, n: int = 0) -> int:
    """A row of a leased table (a series publication) waiting to be worked."""
    with store.engine.begin() as conn:
        return int(
            conn.execute(
                dialect_insert(conn, m.table(m.Publication))
                .values(
                    community_id=store.community_id,
                    series="digest",
                    slot=now + timedelta(days=n),
                    platform="mastodon",
                    state="pending",
                    parts_total=1,
                    started_at=now,
                    plan="[]",
                )
                .returning(m.Publication.id)
            ).scalar_one()
        )


def read(engine: Engine, item: int) -> tuple[str, str | None, str | None]:
    with engine.connect() as conn:
        state, owner, error = conn.execute(
            select(m.Publication.state, m.Publication.lease_owner, m.Publication.error).where(
                m.Publication.id == item
            )
        ).one()
    return state, owner, error


def claim(store: Store, lease: Lease, item: int, now: datetime) -> bool:
    with store.engine.begin() as conn:
        return lease.claim(conn, item, now)


# -- leases ------------------------------------------------------------------------------------------


def test_two_workers_racing_for_the_same_items_each_item_goes_to_one(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    items = [new_item(store, now, n) for n in range(12)]
    workers = [Lease(m.Publication, name, TTL) for name in ("w1", "w2")]
    won: dict[str, list[int]] = {"w1": [], "w2": []}
    start = threading.Barrier(2)

    def work(lease: Lease) -> None:
        start.wait()  # both begin together, so every claim is contested
        for item in items:
            if claim(store, lease, item, now):
                won[lease.worker].append(item)

    threads = [threading.Thread(target=work, args=(lease,)) for lease in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won["w1"] + won["w2"]) == items  # every item taken exactly once
    for item in items:
        owner = read(store.engine, item)[1]
        assert owner is not None
        assert item in won[owner]


def test_a_held_lease_is_refused_until_it_runs_out_then_taken_over(store: Store, clock: FakeClock) -> None:
    item = new_item(store, clock.now())
    first, second = Lease(m.Publication, "w1", TTL), Lease(m.Publication, "w2", TTL)
    assert claim(store, first, item, clock.now())
    assert not claim(store, second, item, clock.now())
    assert not claim(store, first, item, clock.now())  # not even by its holder, unless asked
    with store.engine.begin() as conn:
        assert first.claim(conn, item, clock.now(), again=True)  # a restart under the same name
    clock.advance(seconds=TTL.total_seconds() + 1)
    assert claim(store, second, item, clock.now())  # the holder died: its lease ran out
    with store.engine.begin() as conn:
        assert not first.renew(conn, item, clock.now())  # the old holder finds it gone
        assert not first.release(conn, item, state="done")  # and cannot record over the new one
        assert second.renew(conn, item, clock.now())
        assert second.release(conn, item, state="done")
    assert read(store.engine, item) == ("done", None, None)


def test_release_all_frees_only_this_workers_rows(store: Store, clock: FakeClock) -> None:
    mine, theirs = new_item(store, clock.now(), 0), new_item(store, clock.now(), 1)
    me, other = Lease(m.Publication, "w1", TTL), Lease(m.Publication, "w2", TTL)
    assert claim(store, me, mine, clock.now())
    assert claim(store, other, theirs, clock.now())
    with store.engine.begin() as conn:
        assert me.release_all(conn, m.Publication.community_id == store.community_id) == 1
    assert read(store.engine, mine)[1] is None
    assert read(store.engine, theirs)[1] == "w2"


# -- intent, call, outcome -----------------------------------------------------------------------------


def _intent(store: Store, lease: Lease, item: int, now: datetime) -> int | None:
    """Take the item and write the intent in one transaction."""
    with store.engine.begin() as conn:
        return (
            item if lease.claim(conn, item, now, m.Publication.state == "pending", state="intent") else None
        )


def _outcome(store: Store, lease: Lease, item: int, state: str, error: str | None = None) -> None:
    with store.engine.begin() as conn:
        lease.release(conn, item, state=state, error=error)


async def test_the_intent_is_committed_before_the_call_and_the_outcome_after(
    store: Store, clock: FakeClock
) -> None:
    item = new_item(store, clock.now())
    lease = Lease(m.Publication, "w1", TTL)
    seen_during_call: list[tuple[str, str | None, str | None]] = []

    async def call(key: int) -> str:
        # another connection sees the intent while the platform is being asked
        seen_during_call.append(await run_sync(read, store.engine, key))
        return "receipt-1"

    with store_work_off_the_loop(store.engine):
        done = await perform(
            lambda: _intent(store, lease, item, clock.now()),
            call,
            lambda key, receipt: _outcome(store, lease, key, "done", receipt),
            lambda key, failure: _outcome(store, lease, key, "retry", str(failure)),
            platform="mastodon",
        )
    assert done is not None
    assert done.ok
    assert done.result == "receipt-1"
    assert seen_during_call == [("intent", "w1", None)]
    assert read(store.engine, item) == ("done", None, "receipt-1")


async def test_two_workers_performing_the_same_item_call_the_platform_once(
    store: Store, clock: FakeClock
) -> None:
    item = new_item(store, clock.now())
    calls: list[str] = []

    async def attempt(worker: str) -> object:
        lease = Lease(m.Publication, worker, TTL)

        async def call(_: int) -> str:
            calls.append(worker)
            return worker

        return await perform(
            lambda: _intent(store, lease, item, clock.now()),
            call,
            lambda key, _: _outcome(store, lease, key, "done"),
            lambda key, failure: _outcome(store, lease, key, "retry", str(failure)),
            platform="mastodon",
        )

    results = await asyncio.gather(attempt("w1"), attempt("w2"))
    assert len(calls) == 1
    assert sum(r is None for r in results) == 1  # the loser was told it was not its work
    assert read(store.engine, item)[0] == "done"


class _Killed(BaseException):
    """A worker killed mid-call: nothing after the call runs (like SIGKILL)."""


async def test_a_crash_between_intent_and_outcome_leaves_the_intent_for_the_next_worker(
    store: Store, clock: FakeClock
) -> None:
    item = new_item(store, clock.now())
    first = Lease(m.Publication, "w1", TTL)
    recorded: list[str] = []

    async def dies(_: int) -> str:
        raise _Killed

    with pytest.raises(_Killed):
        await perform(
            lambda: _intent(store, first, item, clock.now()),
            dies,
            lambda key, _: recorded.append("done"),
            lambda key, _: recorded.append("failed"),
            platform="mastodon",
        )
    assert recorded == []  # no outcome was recorded...
    assert read(store.engine, item) == ("intent", "w1", None)  # ...and the intent survived
    second = Lease(m.Publication, "w2", TTL)
    assert not claim(store, second, item, clock.now())  # the lease still holds it
    clock.advance(seconds=TTL.total_seconds() + 1)
    with store.engine.begin() as conn:  # once it runs out the next worker takes the open intent
        assert second.claim(conn, item, clock.now(), m.Publication.state == "intent")
    assert read(store.engine, item) == ("intent", "w2", None)


async def test_a_failed_call_is_classified_once_and_recorded(store: Store, clock: FakeClock) -> None:
    item = new_item(store, clock.now())
    lease = Lease(m.Publication, "w1", TTL)
    told: list[Failure] = []

    async def refused(_: int) -> str:
        raise Transient("mastodon: 503")

    def failed(key: int, failure: Failure) -> None:
        told.append(failure)
        _outcome(store, lease, key, "failed" if failure.kind == "uncertain" else "retry", str(failure))

    done = await perform(
        lambda: _intent(store, lease, item, clock.now()),
        refused,
        lambda key, _: _outcome(store, lease, key, "done"),
        failed,
        platform="mastodon",
        idempotent=False,
    )
    assert done is not None
    assert done.failure is not None
    assert done.failure.kind == "uncertain"  # a timeout on a call that is not idempotent
    assert told == [done.failure]
    assert read(store.engine, item) == ("failed", None, "mastodon: 503")


# -- classifying, backoff, attempts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "idempotent", "kind"),
    [
        (RateLimited(30), False, "slow_down"),
        (Transient("timeout"), True, "retry"),
        (Transient("timeout"), False, "uncertain"),
        (MalformedPayload("cut"), False, "uncertain"),
        (MalformedPayload("cut"), True, "retry"),
        (Rejected("no"), False, "permanent"),
        (NotFound("gone"), True, "permanent"),
        (PlatformError("odd"), True, "permanent"),
        (ValueError("a library error"), False, "retry"),  # untranslated: an outage, retried
    ],
)
def test_classify(error: Exception, idempotent: bool, kind: str) -> None:
    failure = classify(error, "mastodon", idempotent=idempotent)
    assert failure.kind == kind
    assert failure.untranslated == (not isinstance(error, PlatformError))
    if failure.untranslated:
        assert str(failure) == "mastodon: ValueError (an error its adapter did not translate)"
        assert "a library error" not in str(failure)


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(base_seconds=30, cap_seconds=600)
    rng = random.Random(7)
    for attempts, plain in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (40, 600)]:
        delays = [backoff.delay(attempts, rng) for _ in range(200)]
        assert all(0.5 * plain <= d < 1.5 * plain for d in delays)
        assert len({round(d, 6) for d in delays}) > 100  # jittered, not in step


def test_retry_policy_counts_attempts_and_gives_up() -> None:
    policy = RetryPolicy(Backoff(30, 3600), max_attempts=3, refused_attempts=2)
    rng = random.Random(1)
    outage = classify(Transient("down"), "bluesky")
    assert [policy.after(outage, n, rng).last for n in range(3)] == [False, False, True]
    assert policy.after(outage, 2, rng).attempts == 3
    assert not policy.after(outage, 9, rng, patient=True).last  # an outage still being waited out
    slow = policy.after(classify(RateLimited(42), "bluesky"), 2, rng)
    assert (slow.attempts, slow.last, slow.delay) == (2, False, 42)  # slowing down is not failing
    refused = classify(Rejected("no"), "bluesky")
    assert [policy.after(refused, n, rng).last for n in range(2)] == [False, True]
    assert policy.after(refused, 0, rng, patient=True).attempts == 1
    assert policy.after(refused, 1, rng, patient=True).last  # patience is for outages only
    uncertain = policy.after(classify(Transient("cut"), "bluesky", idempotent=False), 0, rng)
    assert (uncertain.attempts, uncertain.last) == (1, True)


def test_the_trust_workers_backoff_comes_from_the_settings() -> None:
    policy = trust_retries(make_settings(trust={"backoff_seconds": 5, "backoff_max_seconds": 20}), 12)
    assert policy.backoff == Backoff(5, 20)
    assert policy.max_attempts == 12
