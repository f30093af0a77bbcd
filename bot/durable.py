"""Durable work: the one way a job calls a platform so that it happens once and survives a crash.

Every job that speaks on a platform (an amplification, a series part, an undo, a card) follows
the same steps, written here once:

1. **Lease** the row (:class:`Lease`): an owner and an expiry in two columns, taken by one
   conditional UPDATE. Several workers never work the same row; a worker that dies lets its
   rows go when the lease runs out. The same on SQLite and PostgreSQL (no ``SKIP LOCKED``).
2. **Intent** committed *before* the platform call, **outcome** recorded *after* it
   (:func:`perform`): a crash in between leaves the intent for the next worker to reconcile,
   never a silent second post.
3. A failure is **classified once** (:func:`classify`): slow down (rate limited, not counted as
   a failure), retry, permanent, or uncertain (the platform may have acted and asking again
   could post twice).
4. **Attempts** are counted and the next try waits an exponential **backoff with jitter**
   whose base and cap come from the settings (:class:`RetryPolicy`, :class:`Backoff`).

And no database work on the event loop: :func:`run_sync` runs store work in a worker thread.
SQLite engines are built with ``NullPool`` (bot.store.store.make_engine), so each thread opens
its own connection and none is shared across threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.engine import Connection

from bot.errors import MalformedPayload, PlatformError, RateLimited, Transient

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")

Kind = Literal["slow_down", "retry", "permanent", "uncertain"]


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run synchronous store work in a worker thread, off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


# -- backoff and attempts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff, capped, with jitter (×0.5 to ×1.5) so that workers and retries do not
    march in step. ``base_seconds`` and ``cap_seconds`` come from the settings."""

    base_seconds: float
    cap_seconds: float

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th failed try (1 for the first)."""
        plain: float = min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1))
        return plain * (0.5 + rng.random())


@dataclass(frozen=True)
class Failure:
    """A failed platform call, classified once. ``untranslated``: the adapter let a library error
    through (a bug); it is treated as an outage, retried."""

    error: PlatformError
    kind: Kind
    untranslated: bool = False

    @property
    def retry_after(self) -> float | None:
        return self.error.retry_after if isinstance(self.error, RateLimited) else None

    def __str__(self) -> str:
        return str(self.error)


def untranslated(platform: str, exc: BaseException) -> Transient:
    """An error an adapter should have translated, as an outage; logged with its traceback."""
    log.error("an adapter let an error through untranslated", extra={"platform": platform}, exc_info=exc)
    return Transient(f"{platform}: {type(exc).__name__} (an error its adapter did not translate)")


def classify(exc: BaseException, platform: str, *, idempotent: bool = True) -> Failure:
    """What a failed call means for the work. A call that is not ``idempotent`` (asking again
    would act again, where nothing tells one copy from two) and failed with a timeout or a cut
    answer may have happened: uncertain, never retried automatically."""
    if not isinstance(exc, PlatformError):
        return Failure(untranslated(platform, exc), "retry", untranslated=True)
    if isinstance(exc, RateLimited):
        return Failure(exc, "slow_down")
    if not idempotent and isinstance(exc, Transient | MalformedPayload):
        return Failure(exc, "uncertain")
    return Failure(exc, "retry" if exc.retryable else "permanent")


@dataclass(frozen=True)
class Retry:
    """What happens after a failure: attempts counted so far (this one included), whether that
    was the last automatic try, and seconds until the next."""

    attempts: int
    last: bool
    delay: float


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a job gets and how long it waits between them. A platform that refuses
    outright (a permanent failure) is asked ``refused_attempts`` times in all: platforms refuse
    for passing reasons too, but never every round forever."""

    backoff: Backoff
    max_attempts: int
    refused_attempts: int = 1

    def after(self, failure: Failure, attempts: int, rng: random.Random, *, patient: bool = False) -> Retry:
        """The next step after ``failure``, ``attempts`` tries having failed before it. A rate
        limit is waited out without counting. ``patient``: an outage still being waited out,
        however many tries that takes (the caller knows how long it is willing to wait)."""
        if failure.kind == "slow_down":
            return Retry(attempts, False, failure.retry_after or 0.0)
        attempts += 1
        if failure.kind == "uncertain":
            return Retry(attempts, True, 0.0)
        limit = (
            self.max_attempts if failure.kind == "retry" else min(self.max_attempts, self.refused_attempts)
        )
        last = attempts >= limit and not (patient and failure.kind == "retry")
        return Retry(attempts, last, self.backoff.delay(attempts, rng))


# -- leases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """A lease kept in a table's ``lease_owner`` and ``lease_until`` columns (rows keyed by
    ``id``). Every method takes an open connection, so a claim or a release shares the
    transaction of whatever else the caller writes with it."""

    table: Any  # a mapped class with id, lease_owner and lease_until
    worker: str
    ttl: timedelta

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Rows nobody holds, or whose holder's lease ran out."""
        return or_(self.table.lease_owner.is_(None), self.table.lease_until < now)

    def claim(
        self,
        conn: Connection,
        row_id: int,
        now: datetime,
        *where: ColumnElement[bool],
        again: bool = False,
        **values: Any,
    ) -> bool:
        """Take the row if it is free (``again``: or already ours, as after this worker
        restarted) and ``where`` holds; True if taken. ``values`` are written with the lease."""
        t = self.table
        free = or_(self.free(now), t.lease_owner == self.worker) if again else self.free(now)
        res = conn.execute(
            update(t)
            .where(t.id == row_id, free, *where)
            .values(lease_owner=self.worker, lease_until=now + self.ttl, **values)
        )
        return res.rowcount == 1

    def renew(self, conn: Connection, row_id: int, now: datetime, *where: ColumnElement[bool]) -> bool:
        """Extend our lease; False when it is no longer ours (it ran out and someone took it)."""
        t = self.table
        res = conn.execute(
            update(t)
            .where(t.id == row_id, t.lease_owner == self.worker, *where)
            .values(lease_until=now + self.ttl)
        )
        return res.rowcount == 1

    def release(self, conn: Connection, row_id: int, *where: ColumnElement[bool], **values: Any) -> bool:
        """Let the row go (writing ``values``) if we still hold it; True if we did."""
        t = self.table
        res = conn.execute(
            update(t)
            .where(t.id == row_id, t.lease_owner == self.worker, *where)
            .values(lease_owner=None, lease_until=None, **values)
        )
        return res.rowcount == 1

    def release_all(self, conn: Connection, *where: ColumnElement[bool], **values: Any) -> int:
        """Let go of every row this worker holds (after a restart under the same name)."""
        t = self.table
        res = conn.execute(
            update(t)
            .where(t.lease_owner == self.worker, *where)
            .values(lease_owner=None, lease_until=None, **values)
        )
        return int(res.rowcount or 0)


# -- one platform call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Performed(Generic[K, R]):
    """What :func:`perform` did: the intent's key and the call's result, or how it failed."""

    key: K
    result: R | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


async def perform(
    intent: Callable[[], K | None],
    call: Callable[[K], Awaitable[R]],
    done: Callable[[K, R], None],
    failed: Callable[[K, Failure], None],
    *,
    platform: str,
    idempotent: bool = True,
) -> Performed[K, R] | None:
    """One platform call between an intent and its outcome. ``intent`` commits the intent (and
    returns its key) or returns None when the work is not ours to do; ``call`` is the platform
    call; ``done`` / ``failed`` record the outcome. The three database steps run off the event
    loop, each in its own transaction: the intent is committed before the call starts."""
    key = await run_sync(intent)
    if key is None:
        return None
    try:
        result = await call(key)
    except Exception as exc:  # classified once; the caller's ``failed`` records it
        failure = classify(exc, platform, idempotent=idempotent)
        await run_sync(failed, key, failure)
        return Performed(key, failure=failure)
    await run_sync(done, key, result)
    return Performed(key, result=result)
