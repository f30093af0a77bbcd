"""Approved candidates as durable work (bot.durable): which are due, their lease, their attempts
and backoff, and the ways one ends (amplified, failed saying why, withdrawn by the veto, held).

Every method is synchronous store work; the amplifier calls them off the event loop.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Action, CandidateState, Platform
from bot.durable import Backoff, Lease, RetryPolicy, classify
from bot.errors import PlatformError, RateLimited, Transient
from bot.store import models as m
from bot.store.store import Store
from bot.trust.veto import Verdict

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # far longer than one platform call with its timeout
APPROVED = CandidateState.APPROVED.value


@dataclass(frozen=True)
class Outcome:
    candidate_id: int
    platform: Platform
    action: Action
    ok: bool
    detail: str
    url: str | None = None


class CandidateWork:
    def __init__(
        self, store: Store, settings: Settings, clock: Clock, *, worker: str, rng: random.Random
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.lease = Lease(m.Candidate, worker, LEASE)
        cfg = settings.amplify
        self.backoff = Backoff(cfg.backoff_seconds, cfg.backoff_max_seconds)
        # a refusal fails the candidate at once; a curator retries it by hand
        self.retries = RetryPolicy(self.backoff, cfg.max_attempts, refused_attempts=1)

    @property
    def slug(self) -> str:
        return self.settings.community.slug

    def due(self, now: datetime, limit: int = 100, *, opportunities: bool = False) -> list[int]:
        c = m.Candidate
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(c.id)
                    .where(
                        c.community_id == self.store.community_id,
                        c.state == APPROVED,
                        or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
                        (c.kind == "opportunity") if opportunities else (c.kind != "opportunity"),
                        self.lease.free(now),
                    )
                    .order_by(c.decided_at, c.id)
                    .limit(limit)
                ).scalars()
            )

    def claim(self, candidate_id: int, now: datetime) -> bool:
        with self.store.engine.begin() as conn:
            return self.lease.claim(
                conn, candidate_id, now, m.Candidate.state == APPROVED, version=m.Candidate.version + 1
            )

    def release(self, candidate_id: int, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            self.lease.release(
                conn, candidate_id, version=m.Candidate.version + 1, updated_at=self.clock.now(), **values
            )

    def amplified(self, candidate_id: int) -> None:
        self.release(
            candidate_id, state=CandidateState.AMPLIFIED.value, last_error=None, next_attempt_at=None
        )

    def failed(self, candidate_id: int, reason: str) -> None:
        self.release(candidate_id, state=CandidateState.FAILED.value, last_error=reason)

    def failed_alone(self, cid: int, platform: Platform, exc: Exception) -> Outcome:
        """Something unexpected went wrong with this candidate (bad data, a bug): it fails on its
        own, with the reason on its card, and the round goes on with the others."""
        reason = f"could not be handled: {type(exc).__name__}: {str(exc)[:300]}"
        log.error(
            "a candidate failed on its own",
            extra={"community": self.slug, "candidate": cid, "error": reason},
            exc_info=exc,
        )
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(m.Candidate)
                    .where(m.Candidate.id == cid, m.Candidate.state == APPROVED)
                    .values(
                        state=CandidateState.FAILED.value,
                        last_error=reason,
                        next_attempt_at=None,
                        lease_owner=None,
                        lease_until=None,
                        version=m.Candidate.version + 1,
                        updated_at=self.clock.now(),
                    )
                )
        except Exception:  # the database itself failed: the lease runs out and the next round looks
            log.exception("could not record a candidate's failure", extra={"candidate": cid})
        return Outcome(cid, platform, Action.BOOST, False, reason)

    def set_aside(self, cid: int, verdict: Verdict) -> None:
        """The veto said no: held until ``verdict.until``, or withdrawn for good (with a decision)."""
        ctx = {"community": self.slug, "candidate": cid, "reason": verdict.reason}
        if verdict.until is not None:
            self.release(cid, next_attempt_at=verdict.until, last_error=f"waiting: {verdict.reason}")
            log.info("amplification held", extra=ctx)
            return
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            withdrawn = self.lease.release(
                conn,
                cid,
                state=CandidateState.WITHDRAWN.value,
                version=m.Candidate.version + 1,
                updated_at=now,
                decided_at=now,
                next_attempt_at=None,
            )
            if withdrawn:
                conn.execute(
                    m.table(m.Decision)
                    .insert()
                    .values(
                        community_id=self.store.community_id,
                        candidate_id=cid,
                        curator="system",
                        action="withdraw",
                        reason=verdict.reason,
                        at=now,
                    )
                )
        log.info("candidate withdrawn before amplifying", extra=ctx)

    def _tried(self, cid: int) -> tuple[int, datetime | None]:
        with self.store.engine.connect() as conn:
            tried, decided_at = conn.execute(
                select(m.Candidate.attempts, m.Candidate.decided_at).where(m.Candidate.id == cid)
            ).one()
        return int(tried), decided_at

    def _in_outage_window(self, decided_at: datetime | None) -> bool:
        hours = self.settings.amplify.outage_hours
        return decided_at is not None and self.clock.now() - decided_at < timedelta(hours=hours)

    def profile_unreadable(self, cid: int, error: PlatformError) -> None:
        """Fail closed: nothing is amplified on consent read earlier. The candidate waits (with
        backoff) and is looked at again, its card saying why; after ``amplify.outage_hours``
        since approval it fails, saying why, for a curator to retry."""
        tried, decided_at = self._tried(cid)
        hours = self.settings.amplify.outage_hours
        reason = f"the author's profile could not be read ({error}); nothing is amplified until it is"
        if decided_at is not None and not self._in_outage_window(decided_at):
            self.release(
                cid,
                state=CandidateState.FAILED.value,
                attempts=tried + 1,
                last_error=f"{reason}; gave up after {hours:g} h",
                next_attempt_at=None,
            )
            log.error(
                "amplification gave up: profile unreadable", extra={"candidate": cid, "error": str(error)}
            )
            return
        if isinstance(error, RateLimited):
            delay = error.retry_after
        else:
            delay = self.backoff.delay(tried + 1, self.rng)
        self.release(
            cid,
            attempts=tried + 1,
            last_error=f"waiting: {reason}",
            next_attempt_at=self.clock.now() + timedelta(seconds=delay),
        )
        log.warning("amplification held: profile unreadable", extra={"candidate": cid, "error": str(error)})

    def schedule_retry(self, cid: int, error: PlatformError) -> None:
        """After a failed platform call: try again later (backoff), or fail saying why. A platform
        that is down (or cuts us off) is waited out for ``amplify.outage_hours`` after approval,
        however many attempts that takes: an outage of an hour must not fail the day's approvals.
        Other errors (an answer we cannot read…) give up after ``amplify.max_attempts``."""
        tried, decided_at = self._tried(cid)
        failure = classify(error, "")
        patient = isinstance(error, Transient) and self._in_outage_window(decided_at)
        retry = self.retries.after(failure, tried, self.rng, patient=patient)
        if retry.last:
            self.release(
                cid,
                state=CandidateState.FAILED.value,
                attempts=retry.attempts,
                last_error=str(error),
                next_attempt_at=None,
            )
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(m.Amplification)
                    .where(m.Amplification.candidate_id == cid, m.Amplification.state == "retry")
                    .values(state="failed")
                )
            log.error(
                "amplification gave up",
                extra={"community": self.slug, "candidate": cid, "error": str(error)},
            )
            return
        self.release(
            cid,
            attempts=retry.attempts,
            last_error=str(error),
            next_attempt_at=self.clock.now() + timedelta(seconds=retry.delay),
        )

    def reconcile(self) -> int:
        """After a restart: free the leases this worker held when it died, and count the intent
        rows it left open (the amplifier then finishes those)."""
        with self.store.engine.begin() as conn:
            self.lease.release_all(
                conn, m.Candidate.community_id == self.store.community_id, version=m.Candidate.version + 1
            )
            return int(
                conn.execute(
                    select(func.count()).where(
                        m.Amplification.community_id == self.store.community_id,
                        m.Amplification.state == "intent",
                    )
                ).scalar_one()
            )
