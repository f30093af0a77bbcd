"""The curation queue: states, audit rows, two-person approval, self-approval, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.errors import QueueError
from bot.store.store import Item, Store
from tests.factories import author, post


def _queued(store: Store, clock: FakeClock, **kw: object) -> int:
    result = store.ingest(Platform.MASTODON, [Item(post(**kw))], clock.now())  # type: ignore[arg-type]
    return result.candidates[0]


def test_approve_records_the_decision(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    view = queue.approve(cid, "ana", clock.now(), "lovely news")
    assert view.state == "approved"
    assert [(d.curator, d.action, d.reason) for d in view.decisions] == [("ana", "approve", "lovely news")]
    with pytest.raises(QueueError, match="already approved"):
        queue.reject(cid, "rosa", clock.now())


def test_reject_and_snooze_then_wake(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    a, b = _queued(store, clock), _queued(store, clock)
    assert queue.reject(a, "rosa", clock.now(), "off topic").state == "rejected"
    snoozed = queue.snooze(b, "ana", clock.now() + timedelta(hours=2), clock.now())
    assert snoozed.state == "snoozed"
    clock.advance(hours=1)
    assert queue.wake_snoozed(clock.now()) == 0
    clock.advance(hours=1, seconds=1)
    assert queue.wake_snoozed(clock.now()) == 1
    assert queue.show(b).state == "pending"
    assert [c.id for c in queue.list("pending")] == [b]


def test_unknown_curator_and_unknown_candidate(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    with pytest.raises(Exception, match="no curator named 'mallory'"):
        queue.approve(cid, "mallory", clock.now())
    with pytest.raises(QueueError, match="no candidate #999"):
        queue.approve(999, "ana", clock.now())


def test_curators_cannot_approve_their_own_post(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock, by=author("ana@med.example"))
    with pytest.raises(QueueError, match="your own post"):
        queue.approve(cid, "ana", clock.now())
    assert queue.approve(cid, "rosa", clock.now()).state == "approved"


def test_two_person_approval(
    store: Store, settings_factory: Callable[..., Settings], clock: FakeClock
) -> None:
    queue = Queue(store, settings_factory(curation={"approvals_required": 2}))
    cid = _queued(store, clock)
    first = queue.approve(cid, "ana", clock.now())
    assert (first.state, first.approvals) == ("pending", 1)
    with pytest.raises(QueueError, match="already has your approval"):
        queue.approve(cid, "ana", clock.now())
    second = queue.approve(cid, "rosa", clock.now())
    assert (second.state, second.approvals) == ("approved", 2)


@pytest.mark.parametrize("required", [1, 2])
def test_simultaneous_approvals_count_once_each(
    engine: Engine, settings_factory: Callable[..., Settings], clock: FakeClock, required: int
) -> None:
    settings = settings_factory(curation={"approvals_required": required})
    store = Store.open(engine, settings.community.slug, settings.community.name, clock.now())
    cid = _queued(store, clock)
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def tap(curator: str) -> None:
        queue = Queue(Store(engine, store.community_id), settings)
        barrier.wait()
        try:
            outcomes.append(queue.approve(cid, curator, clock.now()).state)
        except QueueError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=tap, args=(name,)) for name in ("ana", "rosa", "lucia")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = Queue(store, settings).show(cid)
    assert final.state == "approved"
    assert final.approvals == required
    approvals = [d for d in final.decisions if d.action == "approve"]
    assert len(approvals) == required  # the others were refused, not silently counted
    assert sum(1 for o in outcomes if o.startswith("refused")) == 3 - required


def test_failed_candidates_can_be_retried(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    cid = _queued(store, clock)
    with pytest.raises(QueueError, match="already pending"):
        queue.retry(cid, "ana", clock.now())


def test_a_listing_with_history_shows_each_card_as_show_does(
    store: Store, settings_factory: Callable[..., Settings], clock: FakeClock
) -> None:
    """The web console's page of cards: every candidate with its own decisions (two queries for the
    page), the same as ``show`` reads one by one; a state filter finds work among decided rows."""
    queue = Queue(store, settings_factory(curation={"approvals_required": 2}))
    ids = [_queued(store, clock, text=f"Post {i} #LatinasInMedicine") for i in range(5)]
    queue.approve(ids[0], "ana", clock.now())
    queue.reject(ids[1], "rosa", clock.now(), "off topic")
    queue.approve(ids[3], "rosa", clock.now())
    queue.approve(ids[3], "ana", clock.now())
    listed = queue.list(None, history=True)
    assert [v.id for v in listed] == [ids[0], ids[2], ids[3], ids[4]]  # the open work, oldest first
    assert listed == [queue.show(v.id) for v in listed]
    assert [(d.curator, d.action) for d in listed[2].decisions] == [("rosa", "approve"), ("ana", "approve")]
    assert listed[1].decisions == ()
    assert all(v.decisions == () for v in queue.list(None))  # without history: the lighter listing
    assert [v.id for v in queue.list("approved", history=True)] == [ids[3]]
    assert [v.id for v in queue.list("rejected")] == [ids[1]]
    assert [v.id for v in queue.list(None, everything=True)] == ids
    assert [v.id for v in queue.list("pending", platform="bluesky")] == []
