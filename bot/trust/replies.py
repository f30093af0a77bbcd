"""Answers owed to members (consent confirmations, the link question, interview notes): sent
through each platform's private channel, once, after the last look (bot.trust.veto).

A request's reply is claimed by moving it to ``sending`` with ``reply_next_at`` as the lease's
expiry (a worker that dies while sending leaves it behind; the next round takes it back).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Author, Platform
from bot.durable import Failure, classify, run_sync
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.alerts import raise_alert
from bot.store.store import Store
from bot.trust.undo import LEASE, PER_ROUND, trust_retries
from bot.trust.veto import LastLook, Verdict

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 8


class ReplyWorker:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        last_look: LastLook,
        *,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.last_look = last_look
        self.slug = settings.community.slug
        self.rng = rng
        self.retries = trust_retries(settings, REPLY_ATTEMPTS)

    @property
    def cid(self) -> int:
        return self.store.community_id

    async def deliver_replies(self, limit: int = PER_ROUND) -> int:
        now = self.clock.now()
        rows = await run_sync(self._due, now, limit)
        sent = 0
        held: set[str] = set()
        for row in rows:
            try:
                sent += await self._deliver_one(row, now, held)
            except Exception as exc:  # bad data or a bug in one answer: it alone backs off
                log.exception("an answer to a member failed unexpectedly", extra={"request": row.id})
                await run_sync(self._reply_failed, row, classify(exc, str(row.platform)))
        return sent

    def _due(self, now: datetime, limit: int) -> list[Any]:
        r, a = m.MemberRequest, m.Account
        with self.store.engine.begin() as conn:
            # A worker that died while sending leaves "sending" behind: its lease ran out.
            conn.execute(
                update(r)
                .where(r.community_id == self.cid, r.reply_state == "sending", r.reply_next_at < now)
                .values(reply_state="pending")
            )
            return list(
                conn.execute(
                    select(
                        r.id, r.platform, r.request_ref, r.reply_text, r.reply_attempts, r.kind, r.account_id
                    )
                    .add_columns(a.platform_account_id, a.handle, a.display_name)
                    .join(a, a.id == r.account_id)
                    .where(r.community_id == self.cid, r.reply_state == "pending", r.reply_next_at <= now)
                    .order_by(r.id)
                    .limit(limit)
                ).all()
            )

    async def _deliver_one(self, row: Any, now: datetime, held: set[str]) -> bool:
        adapter = self.adapters.get(Platform(row.platform))
        if adapter is None or row.platform in held or not await run_sync(self._claim_reply, row.id, now):
            return False
        # the last look, right before the platform call: consent answers always go
        verdict = await run_sync(self.last_look.reply, row.kind, int(row.account_id), self.clock.now())
        if verdict is not None:
            await run_sync(self._reply_vetoed, row, verdict)
            return False
        member = Author(account_id=row.platform_account_id, handle=row.handle, display_name=row.display_name)
        reply_to = None if row.request_ref.startswith("local:") else row.request_ref
        try:
            receipt = await adapter.send_direct(member, row.reply_text or "", reply_to=reply_to)
        except Exception as exc:
            failure = classify(exc, str(row.platform))
            if failure.kind == "slow_down":
                held.add(row.platform)
            await run_sync(self._reply_failed, row, failure)
            return False
        await run_sync(self._replied, row.id, "sent" if receipt is not None else "unsupported")
        return receipt is not None

    def _replied(self, request_id: int, state: str) -> None:
        r = m.MemberRequest
        with self.store.engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.id == request_id)
                .values(reply_state=state, replied_at=self.clock.now(), reply_error=None)
            )

    def _reply_vetoed(self, row: Any, verdict: Verdict) -> None:
        """Held (a freeze): back to pending until then. Stopped (opted out, blocked): never sent."""
        r = m.MemberRequest
        values: dict[str, Any] = {"reply_error": verdict.reason[:1000]}
        if verdict.until is not None:
            values.update(reply_state="pending", reply_next_at=verdict.until)
        else:
            values.update(reply_state="vetoed")
        with self.store.engine.begin() as conn:
            conn.execute(update(r).where(r.id == row.id).values(**values))
        log.info(
            "answer to a member " + ("held" if verdict.until is not None else "not sent"),
            extra={"community": self.slug, "platform": row.platform, "reason": verdict.reason},
        )

    def _claim_reply(self, request_id: int, now: datetime) -> bool:
        r = m.MemberRequest
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(r)
                .where(r.id == request_id, r.reply_state == "pending")
                .values(reply_state="sending", reply_next_at=now + LEASE)
            )
            return res.rowcount == 1

    def _reply_failed(self, row: Any, failure: Failure) -> None:
        now = self.clock.now()
        retry = self.retries.after(failure, row.reply_attempts, self.rng)
        r = m.MemberRequest
        with self.store.engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.id == row.id)
                .values(
                    reply_state="failed" if retry.last else "pending",
                    reply_attempts=retry.attempts,
                    reply_error=str(failure)[:1000],
                    reply_next_at=now + timedelta(seconds=retry.delay),
                )
            )
            if retry.last:
                raise_alert(
                    conn,
                    self.cid,
                    f"reply:{row.id}",
                    f"⚠️ Could not answer a member ({row.handle} on {str(row.platform).capitalize()}, "
                    f"about {row.kind}) after {retry.attempts} tries: {str(failure)[:300]}",
                    now,
                )
        log.warning(
            "could not confirm to a member"
            + ("; giving up, the curators are alerted" if retry.last else "; will retry"),
            extra={"community": self.slug, "platform": row.platform, "error": str(failure)},
        )
