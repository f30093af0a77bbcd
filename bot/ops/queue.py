"""The curation queue's operations: list, show, approve, reject (one or a spam wave), snooze, retry,
the queue's summary and the week's numbers. The console's taps and the command line call these."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy import func, select

from bot.conference.roles import CHAMPION_ACTIONS, out_of_role
from bot.curation.queue import CandidateView, Queue
from bot.domain import CandidateState, Platform
from bot.errors import QueueError
from bot.ops import messages
from bot.ops.curators import unknown_curator
from bot.ops.result import Outcome, Result, Stats, done, refused, usage
from bot.store import models as m
from bot.store.store import Store
from bot.trust.undo import UNDO_REASONS
from bot.trust.veto import is_frozen

log = logging.getLogger(__name__)

Verb = Literal["approve", "reject", "snooze", "retry"]


@dataclass(frozen=True)
class Listing:
    items: tuple[CandidateView, ...]
    counts: dict[str, int]  # the open work by state, whatever the listing showed
    state: str | None
    limit: int
    frozen: bool


@dataclass(frozen=True)
class BulkRejection:
    rejected: tuple[int, ...]
    refused: tuple[tuple[int, str], ...]  # (candidate, why not)


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    oldest: tuple[CandidateView, ...]  # the oldest pending, oldest first
    frozen: bool


# -- reading ----------------------------------------------------------------------------------------


def list_queue(
    queue: Queue,
    *,
    state: str | None = None,
    limit: int = 50,
    everything: bool = False,
    platform: str | None = None,
    history: bool = False,
) -> Result[Listing]:
    """The open work oldest first (``state``: one state; ``everything``: all states; ``platform``:
    one platform's; ``history``: each with its decisions and amplifications, for its card)."""
    if limit < 0:
        return usage("--limit cannot be negative")
    if state is not None and state not in {s.value for s in CandidateState}:
        return usage(f"no state {state!r}: choose one of {', '.join(s.value for s in CandidateState)}")
    if platform is not None and platform not in {p.value for p in Platform}:
        return usage(f"no platform {platform!r}: choose one of {', '.join(p.value for p in Platform)}")
    # One connection and one transaction: the counts agree with the listing, and a page of
    # cards opens one database connection instead of three.
    with queue.store.engine.connect() as conn:
        counts = queue.counts(conn=conn)
        frozen = is_frozen(queue.store, conn)
        found = (
            queue.list(
                state, limit=limit, everything=everything, platform=platform, history=history, conn=conn
            )
            if limit
            else []
        )
    items = tuple(found)
    listing = Listing(items, counts, state, limit, frozen)
    message = messages.nothing_listed(state, limit) if not items else f"{len(items)} listed"
    return done(message, listing)


def show(queue: Queue, candidate_id: int) -> Result[CandidateView]:
    try:
        view = queue.show(candidate_id)
    except QueueError as exc:
        return refused(str(exc))
    return done(f"#{view.id} is {view.state}", view)


def summary(queue: Queue, *, oldest: int = 5) -> Result[Summary]:
    """The console's /queue: how many wait in each state, and the oldest pending."""
    counts = queue.counts()
    pending = tuple(queue.list(CandidateState.PENDING.value, limit=oldest))
    return done(messages.queue_counts(counts), Summary(counts, pending, is_frozen(queue.store)))


def stats(store: Store, now: datetime, *, days: int = 7) -> Result[Stats]:
    """The last ``days`` in numbers: seen, queued, approved, rejected, expired, amplified, and the
    median time from queue to decision (expiries are nobody's decision: left out)."""
    since = now - timedelta(days=days)
    cid = store.community_id
    candidate, amplification = m.Candidate, m.Amplification
    decided = candidate.decided_at >= since
    with store.engine.connect() as conn:
        seen = conn.execute(
            select(func.count()).where(m.Post.community_id == cid, m.Post.seen_at >= since)
        ).scalar_one()
        queued = conn.execute(
            select(func.count()).where(candidate.community_id == cid, candidate.created_at >= since)
        ).scalar_one()
        by_state = {
            str(state): int(n)
            for state, n in conn.execute(
                select(candidate.state, func.count())
                .where(candidate.community_id == cid, decided)
                .group_by(candidate.state)
            )
        }
        amplified = conn.execute(
            select(func.count()).where(
                amplification.community_id == cid,
                amplification.state == "done",
                amplification.completed_at >= since,
            )
        ).scalar_one()
        waits = [
            (finished - created).total_seconds()
            for created, finished, state in conn.execute(
                select(candidate.created_at, candidate.decided_at, candidate.state).where(
                    candidate.community_id == cid, decided
                )
            )
            if finished is not None and state != CandidateState.EXPIRED.value
        ]
    approved = sum(by_state.get(s, 0) for s in ("approved", "amplified", "failed"))
    median = statistics.median(waits) if waits else None
    numbers = Stats(
        days=days,
        seen=int(seen),
        queued=int(queued),
        approved=approved,
        rejected=by_state.get("rejected", 0),
        expired=by_state.get("expired", 0),
        amplified=int(amplified),
        median_seconds=median,
    )
    return done("\n".join(messages.stats_lines(numbers)), numbers)


# -- deciding ---------------------------------------------------------------------------------------


def _decision(
    queue: Queue, curator: str, apply: Any, *, verb: str, candidate_id: int
) -> Result[CandidateView]:
    wrong = unknown_curator(queue.settings, curator)
    if wrong is not None and queue.is_champion(curator):
        # A conference champion: approve or reject, and the queue checks which posts and when.
        if verb not in CHAMPION_ACTIONS:
            return refused(out_of_role(verb))
        wrong = None
    if wrong is not None:
        return wrong
    try:
        view: CandidateView = apply()
    except QueueError as exc:  # not found, decided already, your own post: refused, nothing changed
        return refused(str(exc))
    log.info(
        "decided",
        extra={"community": queue.settings.community.slug, "candidate": candidate_id, "action": verb},
    )
    frozen = view.state == CandidateState.APPROVED.value and is_frozen(queue.store)
    return done(messages.decided(view, frozen=frozen), view)


def approve(
    queue: Queue, candidate_id: int, curator: str, now: datetime, *, reason: str | None = None
) -> Result[CandidateView]:
    """Approve a waiting candidate; or approve again one whose amplification a member's freeze,
    opt-out or block took back (freezes are reversible: after the unfreeze it goes out again)."""
    if _approvable_again(queue, candidate_id):
        return _decision(
            queue,
            curator,
            lambda: queue.approve_again(candidate_id, curator, now),
            verb="approve",
            candidate_id=candidate_id,
        )
    return _decision(
        queue,
        curator,
        lambda: queue.approve(candidate_id, curator, now, reason),
        verb="approve",
        candidate_id=candidate_id,
    )


def _approvable_again(queue: Queue, candidate_id: int) -> bool:
    """Taken back because its member was frozen, opted out or blocked — not because the author
    deleted the post, which cannot be amplified again."""
    again = {text for key, text in UNDO_REASONS.items() if key != "deleted"}
    return queue.taken_back(candidate_id) in again


def reject(
    queue: Queue, candidate_id: int, curator: str, now: datetime, *, reason: str | None = None
) -> Result[CandidateView]:
    return _decision(
        queue,
        curator,
        lambda: queue.reject(candidate_id, curator, now, reason),
        verb="reject",
        candidate_id=candidate_id,
    )


def reject_many(
    queue: Queue, candidate_ids: Sequence[int], curator: str, now: datetime, *, reason: str | None = None
) -> Result[BulkRejection]:
    """A spam wave: reject each candidate named; those already decided are reported, not undone.
    Done when at least one was rejected; refused when none could be."""
    wrong = unknown_curator(queue.settings, curator)
    if wrong is not None:
        return wrong
    if not candidate_ids:
        return usage("name at least one candidate to reject")
    rejected: list[int] = []
    not_rejected: list[tuple[int, str]] = []
    for cid in dict.fromkeys(candidate_ids):
        try:
            queue.reject(cid, curator, now, reason)
        except QueueError as exc:
            not_rejected.append((cid, str(exc)))
        else:
            rejected.append(cid)
    outcome = BulkRejection(tuple(rejected), tuple(not_rejected))
    message = messages.rejected_many(rejected, not_rejected)
    if not rejected:
        return Result(Outcome.REFUSED, message, outcome)
    return done(message, outcome)


def snooze(
    queue: Queue, candidate_id: int, curator: str, until: datetime, now: datetime
) -> Result[CandidateView]:
    if until <= now:
        return usage(messages.snooze_in_past())
    return _decision(
        queue,
        curator,
        lambda: queue.snooze(candidate_id, curator, until, now),
        verb="snooze",
        candidate_id=candidate_id,
    )


def retry(queue: Queue, candidate_id: int, curator: str, now: datetime) -> Result[CandidateView]:
    """Send a failed candidate back to the amplifier (only failed ones: the others are on their way
    or waiting for a curator)."""
    wrong = unknown_curator(queue.settings, curator)
    if wrong is not None:
        return wrong
    try:
        state = queue.show(candidate_id).state
    except QueueError as exc:
        return refused(str(exc))
    if _approvable_again(queue, candidate_id):  # a take-back undone: it goes out again
        return approve(queue, candidate_id, curator, now)
    if state != CandidateState.FAILED.value:
        return refused(messages.retry_only_failed(candidate_id, state))
    again = partial(queue.retry, candidate_id, curator, now)
    result = _decision(queue, curator, again, verb="retry", candidate_id=candidate_id)
    return done(messages.retried(candidate_id), result.data) if result.ok else result


def decide(
    queue: Queue, verb: Verb, candidate_id: int, curator: str, now: datetime, *, snooze_for: timedelta
) -> Result[CandidateView]:
    """One tap on a card; the answer is the short toast a card's button shows."""
    if verb == "approve":
        result = approve(queue, candidate_id, curator, now)
    elif verb == "reject":
        result = reject(queue, candidate_id, curator, now)
    elif verb == "retry":
        result = retry(queue, candidate_id, curator, now)
    else:
        result = snooze(queue, candidate_id, curator, now + snooze_for, now)
    if not result.ok or result.data is None:
        return result
    frozen = result.data.state == CandidateState.APPROVED.value and is_frozen(queue.store)
    return done(messages.toast(result.data, verb, frozen=frozen), result.data)
