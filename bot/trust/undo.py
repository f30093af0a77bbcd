"""The undo worker: takes back what the account amplified (unboost, delete a repost or a channel
copy) when its member opts out, is blocked or frozen, or deletes the post.

An undo row is queued by the consent side (bot.trust.consent.schedule_undos); here it is leased,
the platform is asked, and the outcome recorded, through the durable-work helper (bot.durable).
An undo given up on alerts the curators, and is queued again only after ``GIVEN_UP_PAUSE``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Action, CandidateState, Platform, Receipt
from bot.durable import Backoff, Failure, Lease, RetryPolicy, classify, perform, run_sync
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.alerts import raise_alert
from bot.store.store import Store

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
UNDO_ATTEMPTS = 12
REFUSED_ATTEMPTS = 3  # a platform that refuses outright is asked a few times more, with backoff
GIVEN_UP_PAUSE = timedelta(hours=6)  # an undo given up on (the curators alerted) is tried again then
PER_ROUND = 25

UNDO_REASONS = {
    "optout": "the member opted out: boost taken back",
    "deleted": "the author deleted the post: boost taken back",
    "frozen": "the curators froze this member: boost taken back",
    "blocked": "blocked: boost taken back",
}


def trust_retries(settings: Settings, max_attempts: int) -> RetryPolicy:
    """The retry policy of the trust workers (undos, answers to members): backoff from ``trust``."""
    cfg = settings.trust
    return RetryPolicy(
        Backoff(cfg.backoff_seconds, cfg.backoff_max_seconds),
        max_attempts=max_attempts,
        refused_attempts=REFUSED_ATTEMPTS,
    )


class UndoWorker:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        worker: str,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.slug = settings.community.slug
        self.rng = rng
        self.lease = Lease(m.Undo, worker, LEASE)
        self.retries = trust_retries(settings, UNDO_ATTEMPTS)

    @property
    def cid(self) -> int:
        return self.store.community_id

    async def undo_due(self, limit: int = PER_ROUND) -> tuple[int, int]:
        """Take back what is due; returns (done, given up). One platform refusing (rate limit,
        outage) holds only its own undos."""
        now = self.clock.now()
        rows = await run_sync(self._due, now, limit)
        done = failed = 0
        held: set[str] = set()
        for row in rows:
            try:
                outcome = await self._undo_one(row, now, held)
            except Exception as exc:  # bad data or a bug in one undo: it alone backs off
                log.exception("an undo failed unexpectedly", extra={"undo": row.id})
                failure = classify(exc, str(row.platform))
                outcome = "failed" if await run_sync(self._undo_failed, row, failure) else None
            done += outcome == "done"
            failed += outcome == "failed"
        return done, failed

    def _due(self, now: datetime, limit: int) -> list[Any]:
        u, x = m.Undo, m.Amplification
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(u.id, u.reason, u.attempts, x.id.label("amp"), x.platform, x.action, x.receipt_ref)
                    .add_columns(x.receipt_url, x.candidate_id)
                    .join(x, x.id == u.amplification_id)
                    .where(
                        u.community_id == self.cid,
                        u.state == "pending",
                        or_(u.next_attempt_at.is_(None), u.next_attempt_at <= now),
                        self.lease.free(now),
                    )
                    .order_by(u.requested_at, u.id)
                    .limit(limit)
                ).all()
            )

    async def _undo_one(self, row: Any, now: datetime, held: set[str]) -> str | None:
        adapter = self.adapters.get(Platform(row.platform))
        if adapter is None or row.platform in held:
            return None

        def claim() -> Any | None:
            with self.store.engine.begin() as conn:
                return row if self.lease.claim(conn, row.id, now, m.Undo.state == "pending") else None

        async def call(_: Any) -> None:
            if row.receipt_ref:
                await adapter.undo(
                    Receipt(Platform(row.platform), Action(row.action), row.receipt_ref, row.receipt_url)
                )

        last: list[bool] = []
        performed = await perform(
            claim,
            call,
            lambda r, _: self._undo_done(r),
            lambda r, failure: last.append(self._undo_failed(r, failure)),
            platform=str(row.platform),
        )
        if performed is None:
            return None
        if performed.failure is not None:
            if performed.failure.kind == "slow_down":
                held.add(row.platform)
            return "failed" if last and last[0] else None
        return "done"

    def _undo_done(self, row: Any) -> None:
        now = self.clock.now()
        u, x, c = m.Undo, m.Amplification, m.Candidate
        with self.store.engine.begin() as conn:
            conn.execute(
                update(u)
                .where(u.id == row.id)
                .values(state="done", done_at=now, error=None, lease_owner=None, lease_until=None)
            )
            conn.execute(update(x).where(x.id == row.amp, x.state == "done").values(state="undone"))
            changed = conn.execute(
                update(c)
                .where(c.id == row.candidate_id, c.state == CandidateState.AMPLIFIED.value)
                .values(state=CandidateState.WITHDRAWN.value, version=c.version + 1, updated_at=now)
            ).rowcount
            if changed:
                conn.execute(
                    m.table(m.Decision)
                    .insert()
                    .values(
                        community_id=self.cid,
                        candidate_id=row.candidate_id,
                        curator="system",
                        action="undo",
                        reason=UNDO_REASONS.get(row.reason, row.reason),
                        at=now,
                    )
                )
        log.info(
            "amplification taken back",
            extra={"community": self.slug, "platform": row.platform, "reason": row.reason},
        )

    def _undo_failed(self, row: Any, failure: Failure) -> bool:
        """Schedule the next try; True when this was the last one."""
        now = self.clock.now()
        retry = self.retries.after(failure, row.attempts, self.rng)
        u = m.Undo
        with self.store.engine.begin() as conn:
            conn.execute(
                update(u)
                .where(u.id == row.id)
                .values(
                    state="failed" if retry.last else "pending",
                    attempts=retry.attempts,
                    error=str(failure)[:1000],
                    # given up: the sweep queues it again only after GIVEN_UP_PAUSE, never every round
                    next_attempt_at=now + (GIVEN_UP_PAUSE if retry.last else timedelta(seconds=retry.delay)),
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if retry.last:
                raise_alert(
                    conn,
                    self.cid,
                    f"undo:{row.id}",
                    f"⚠️ Could not take back the {row.action} of candidate #{row.candidate_id} on "
                    f"{str(row.platform).capitalize()} after {retry.attempts} tries: {str(failure)[:300]}. "
                    f"Please take it back by hand: {row.receipt_url or 'see the candidate'}",
                    now,
                )
        ctx = {"community": self.slug, "platform": row.platform, "error": str(failure)}
        if retry.last:
            log.error("could not take back an amplification; the curators are alerted", extra=ctx)
        else:
            log.warning("taking back an amplification failed; will retry", extra=ctx)
        return retry.last
