"""Publishes one series slot on one platform exactly once, and takes withdrawn ones back.

The row of (community, series, slot, platform) is written *before* the first part is posted,
with the composed parts and a lease; each part is recorded as it lands. So a second worker
finds the row and leaves the slot alone, and a worker that died mid-thread is followed by one
that posts the remaining parts of the same text, replying to the last part that landed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.clock import Clock
from bot.domain import Action, Platform, Receipt
from bot.durable import Lease, classify, run_sync
from bot.errors import PlatformError
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust.veto import Verdict

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # renewed at every part; far longer than one platform call
FINAL = ("done", "empty", "skipped", "failed", "withdrawing", "withdrawn")


@dataclass(frozen=True)
class PublishOutcome:
    series: str
    slot: datetime
    platform: Platform
    state: str  # done | empty | skipped | retry | failed | busy | already | dry-run | withdrawn | held
    published: int = 0  # parts on the platform now
    total: int = 0
    url: str | None = None  # of the first part
    detail: str = ""


@dataclass(frozen=True)
class PublicationRow:
    id: int
    series: str
    slot: datetime
    platform: Platform
    state: str
    parts_total: int
    plan: list[str]
    lease_owner: str | None
    lease_until: datetime | None
    error: str | None


def _row(r: Any) -> PublicationRow:
    return PublicationRow(
        id=r.id,
        series=r.series,
        slot=r.slot,
        platform=Platform(r.platform),
        state=r.state,
        parts_total=r.parts_total,
        plan=json.loads(r.plan) if r.plan else [],
        lease_owner=r.lease_owner,
        lease_until=r.lease_until,
        error=r.error,
    )


class Publisher:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        clock: Clock,
        *,
        worker: str,
        dry_run: bool = False,
        screen: Callable[[str], str | None] | None = None,
        veto: Callable[[str, datetime], Verdict | None] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.worker = worker
        self.lease = Lease(m.Publication, worker, LEASE)
        self.dry_run = dry_run
        self.screen = screen  # a reason a text must not go out as it is (it names a curator), or None
        # the last look (bot.trust.veto) before each part: (series, slot) -> why not now, or None
        self.veto = veto

    # -- reading ----------------------------------------------------------------------------

    def _select(self) -> Any:
        return select(m.table(m.Publication)).where(m.Publication.community_id == self.store.community_id)

    def find(self, series: str, slot: datetime, platform: Platform) -> PublicationRow | None:
        with self.store.engine.connect() as conn:
            r = conn.execute(
                self._select().where(
                    m.Publication.series == series,
                    m.Publication.slot == slot,
                    m.Publication.platform == platform.value,
                )
            ).one_or_none()
        return _row(r) if r else None

    def states_since(self, since: datetime) -> dict[tuple[str, datetime, Platform], str]:
        """(series, slot, platform) -> state of every publication whose slot is after ``since``."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    m.Publication.series, m.Publication.slot, m.Publication.platform, m.Publication.state
                ).where(m.Publication.community_id == self.store.community_id, m.Publication.slot > since)
            )
            return {(s, at, Platform(p)): state for s, at, p, state in rows}

    def rows(self, *, series: str | None = None, states: tuple[str, ...] = ()) -> list[PublicationRow]:
        q = self._select()
        if series is not None:
            q = q.where(m.Publication.series == series)
        if states:
            q = q.where(m.Publication.state.in_(states))
        with self.store.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q.order_by(m.Publication.slot, m.Publication.id))]

    def parts(self, publication_id: int) -> list[tuple[int, str, str | None]]:
        """(position, receipt ref, url) of the parts that landed, in order."""
        with self.store.engine.connect() as conn:
            return [
                (pos, ref, url)
                for pos, ref, url in conn.execute(
                    select(
                        m.PublicationPart.position,
                        m.PublicationPart.receipt_ref,
                        m.PublicationPart.receipt_url,
                    )
                    .where(m.PublicationPart.publication_id == publication_id)
                    .order_by(m.PublicationPart.position)
                )
            ]

    # -- recording slots that publish nothing ---------------------------------------------------

    def record(
        self, series: str, slot: datetime, platform: Platform, state: str, note: str | None = None
    ) -> bool:
        """A slot that publishes nothing (``empty`` week, ``skipped`` while down); True if new."""
        return self._insert_row(series, slot, platform, state=state, parts=[], error=note) is not None

    def _insert_row(
        self, series: str, slot: datetime, platform: Platform, *, state: str, parts: list[str], **values: Any
    ) -> int | None:
        """The slot's row, unless one exists already: its id, or None when someone was first."""
        now = self.clock.now()
        if state != "intent":
            values["completed_at"] = now
        with self.store.engine.begin() as conn:
            res = conn.execute(
                dialect_insert(conn, m.table(m.Publication))
                .values(
                    community_id=self.store.community_id,
                    series=series,
                    slot=slot,
                    platform=platform.value,
                    state=state,
                    parts_total=len(parts),
                    started_at=now,
                    plan=json.dumps(parts, ensure_ascii=False),
                    **values,
                )
                .on_conflict_do_nothing(index_elements=["community_id", "series", "slot", "platform"])
                .returning(m.Publication.id)
            )
            found: int | None = res.scalar_one_or_none()
            return found

    # -- publishing -------------------------------------------------------------------------

    def _outcome(self, row: PublicationRow, state: str, detail: str = "") -> PublishOutcome:
        done = self.parts(row.id)
        return PublishOutcome(
            row.series,
            row.slot,
            row.platform,
            state,
            published=len(done),
            total=row.parts_total,
            url=done[0][2] if done else None,
            detail=detail or (row.error or ""),
        )

    async def publish(
        self, series: str, slot: datetime, platform: Platform, compose: Callable[[], list[str]]
    ) -> PublishOutcome:
        """Publish the slot on ``platform`` unless it already is (or is being) published.
        ``compose`` is only called when nothing was written for the slot yet."""
        adapter = self.adapters.get(platform)
        if adapter is None:
            return PublishOutcome(series, slot, platform, "failed", detail="platform not running")
        row = await run_sync(self.find, series, slot, platform)
        if row is None:
            verdict = await run_sync(self.veto, series, slot) if self.veto is not None else None
            if verdict is not None and verdict.until is not None:
                return PublishOutcome(series, slot, platform, "held", detail=verdict.reason)
            if verdict is not None:
                await run_sync(self.record, series, slot, platform, "empty", verdict.reason)
                return PublishOutcome(series, slot, platform, "empty", detail=verdict.reason)
            try:
                parts = await run_sync(compose)
            except Exception as exc:  # one publication that cannot be composed fails alone, saying why
                reason = f"could not be composed: {type(exc).__name__}: {str(exc)[:300]}"
                log.exception(
                    "publication not composed", extra={"series": series, "platform": platform.value}
                )
                await run_sync(self.record, series, slot, platform, "failed", reason)
                return PublishOutcome(series, slot, platform, "failed", detail=reason)
            if not parts:
                await run_sync(self.record, series, slot, platform, "empty")
                return PublishOutcome(series, slot, platform, "empty", detail="nothing to publish")
            refused = next((why for why in map(self.screen, parts) if why), None) if self.screen else None
            if refused is not None:
                await run_sync(self.record, series, slot, platform, "failed", refused)
                log.error(
                    "publication refused",
                    extra={"series": series, "platform": platform.value, "error": refused},
                )
                return PublishOutcome(series, slot, platform, "failed", detail=refused)
            if self.dry_run:
                log.info("dry run: would publish", extra={"series": series, "platform": platform.value})
                return PublishOutcome(series, slot, platform, "dry-run", total=len(parts))
            pub_id = await run_sync(self._open, series, slot, platform, parts)
            if pub_id is not None:
                return await self._run(pub_id, parts, [], platform)
            row = await run_sync(self.find, series, slot, platform)  # another worker wrote it first
            assert row is not None
        return await self.resume(row)

    async def resume(self, row: PublicationRow) -> PublishOutcome:
        """Carry on with a publication that is not finished, if no live worker holds it."""
        if row.state != "intent":
            return await run_sync(self._outcome, row, "already", f"already {row.state}")
        if self.dry_run:
            return await run_sync(self._outcome, row, "dry-run")
        if row.platform not in self.adapters:
            return await run_sync(self._outcome, row, "failed", "platform not running")
        if not await run_sync(self._take, row.id):
            return await run_sync(self._outcome, row, "busy", "another worker is publishing it")
        done = await run_sync(self.parts, row.id)
        if done:
            log.info(
                "resuming a half-published thread",
                extra={"series": row.series, "platform": row.platform.value, "from_part": len(done) + 1},
            )
        return await self._run(row.id, row.plan, done, row.platform)

    def _open(self, series: str, slot: datetime, platform: Platform, parts: list[str]) -> int | None:
        lease = {"lease_owner": self.worker, "lease_until": self.clock.now() + LEASE}
        return self._insert_row(series, slot, platform, state="intent", parts=parts, **lease)

    def _take(self, pub_id: int) -> bool:
        """The lease, if it is free, expired, or already ours (a restart of this worker)."""
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            return self.lease.claim(conn, pub_id, now, m.Publication.state == "intent", again=True)

    async def _run(
        self, pub_id: int, plan: list[str], done: list[tuple[int, str, str | None]], platform: Platform
    ) -> PublishOutcome:
        adapter = self.adapters[platform]
        reply_to = Receipt(platform, Action.PUBLISH, done[-1][1], done[-1][2]) if done else None
        for position in range(len(done) + 1, len(plan) + 1):
            stopped = await run_sync(self._vetoed, pub_id)
            if stopped is not None:
                return stopped
            try:
                receipt = await adapter.publish_part(plan[position - 1], reply_to)
            except PlatformError as exc:
                failure = classify(exc, platform.value)
                state = "failed" if failure.kind == "permanent" else "retry"
                row = await run_sync(self._failed, pub_id, exc, final=state == "failed")
                log.warning(
                    "publishing failed",
                    extra={
                        "series": row.series,
                        "platform": platform.value,
                        "part": position,
                        "error": str(exc),
                        "retryable": exc.retryable,
                    },
                )
                return await run_sync(self._outcome, row, state, str(exc))
            verdict = await run_sync(self._landed, pub_id, position, receipt)
            if verdict != "continue":
                row = await run_sync(self._get, pub_id)
                return await run_sync(
                    self._outcome, row, verdict, f"stopped after part {position}: {verdict}"
                )
            reply_to = receipt
        row = await run_sync(self._complete, pub_id)
        log.info(
            "published",
            extra={
                "series": row.series,
                "slot": row.slot.isoformat(),
                "platform": platform.value,
                "parts": len(plan),
            },
        )
        return await run_sync(self._outcome, row, "done")

    def _vetoed(self, pub_id: int) -> PublishOutcome | None:
        """The last look right before a part goes out. Held (a freeze): the lease is let go and
        a later round carries on. Stopped (the member opted out): what landed is taken back."""
        if self.veto is None:
            return None
        row = self._get(pub_id)
        verdict = self.veto(row.series, row.slot)
        if verdict is None:
            return None
        held = verdict.until is not None
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Publication)
                .where(m.Publication.id == pub_id, m.Publication.state == "intent")
                .values(
                    error=verdict.reason,
                    lease_owner=None,
                    lease_until=None,
                    **({} if held else {"state": "withdrawing"}),
                )
            )
        log.info(
            "publication held" if held else "publication stopped",
            extra={"series": row.series, "platform": row.platform.value, "reason": verdict.reason},
        )
        return self._outcome(self._get(pub_id), "held" if held else "withdrawn", verdict.reason)

    def _get(self, pub_id: int) -> PublicationRow:
        with self.store.engine.connect() as conn:
            return _row(conn.execute(self._select().where(m.Publication.id == pub_id)).one())

    def _landed(self, pub_id: int, position: int, receipt: Receipt) -> str:
        """Record a part that landed. "continue" while the lease is ours; "withdrawn" when the
        publication was withdrawn meanwhile (the part is recorded so it gets deleted too)."""
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, m.table(m.PublicationPart))
                .values(
                    publication_id=pub_id,
                    position=position,
                    receipt_ref=receipt.ref,
                    receipt_url=receipt.url,
                    published_at=now,
                )
                .on_conflict_do_nothing(index_elements=["publication_id", "position"])
            )
            if self.lease.renew(conn, pub_id, now, m.Publication.state == "intent"):
                return "continue"
            state = conn.execute(select(m.Publication.state).where(m.Publication.id == pub_id)).scalar_one()
            if state in ("withdrawing", "withdrawn"):
                conn.execute(
                    update(m.Publication).where(m.Publication.id == pub_id).values(state="withdrawing")
                )
                return "withdrawn"
            return "busy"  # the lease ran out and another worker carries on

    def _complete(self, pub_id: int) -> PublicationRow:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Publication)
                .where(m.Publication.id == pub_id, m.Publication.state == "intent")
                .values(
                    state="done",
                    completed_at=self.clock.now(),
                    error=None,
                    lease_owner=None,
                    lease_until=None,
                )
            )
        return self._get(pub_id)

    def _failed(self, pub_id: int, error: PlatformError, *, final: bool) -> PublicationRow:
        """The part did not land: the lease is let go for a later round, or (``final``: the
        platform refused it) the publication fails."""
        values: dict[str, Any] = {"error": str(error), "lease_owner": None, "lease_until": None}
        if final:
            values.update(state="failed", completed_at=self.clock.now())
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Publication)
                .where(m.Publication.id == pub_id, m.Publication.state == "intent")
                .values(**values)
            )
        return self._get(pub_id)

    def give_up(self, row: PublicationRow, reason: str) -> None:
        """An unfinished publication that nothing was posted of and whose time has passed."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Publication)
                .where(m.Publication.id == row.id, m.Publication.state == "intent")
                .values(state="failed", error=reason, completed_at=self.clock.now(), lease_owner=None)
            )

    # -- taking back ------------------------------------------------------------------------

    def withdraw(self, series: str, slot: datetime) -> int:
        """Mark every platform's publication of the slot for deletion; returns how many."""
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(m.Publication)
                .where(
                    m.Publication.community_id == self.store.community_id,
                    m.Publication.series == series,
                    m.Publication.slot == slot,
                    m.Publication.state.in_(("intent", "done", "failed")),
                )
                .values(state="withdrawing", lease_owner=None, lease_until=None)
            )
            return int(res.rowcount or 0)

    async def retract_pending(self) -> list[PublishOutcome]:
        """Delete the posts of every publication marked ``withdrawing``, last part first. A
        platform that fails keeps its row ``withdrawing`` for the next round."""
        outcomes = []
        for row in await run_sync(self.rows, states=("withdrawing",)):
            adapter = self.adapters.get(row.platform)
            if adapter is None:
                continue
            parts = await run_sync(self.parts, row.id)
            try:
                for _, ref, url in reversed(parts):
                    await adapter.undo(Receipt(row.platform, Action.PUBLISH, ref, url))
            except Exception as exc:  # one deletion that fails waits alone for the next round
                log.warning(
                    "could not delete a withdrawn post yet",
                    extra={"series": row.series, "platform": row.platform.value, "error": str(exc)},
                )
                outcomes.append(await run_sync(self._outcome, row, "retry", str(exc)))
                continue
            await run_sync(self._mark_withdrawn, row.id, len(parts))
            log.info(
                "withdrawn posts deleted",
                extra={"series": row.series, "platform": row.platform.value, "parts": len(parts)},
            )
            outcomes.append(await run_sync(self._outcome, row, "withdrawn", f"{len(parts)} post(s) deleted"))
        return outcomes

    def _mark_withdrawn(self, pub_id: int, deleted: int) -> None:
        # Only if no part landed after we listed them (a publisher racing the withdrawal).
        count = select(func.count()).where(m.PublicationPart.publication_id == pub_id).scalar_subquery()
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Publication)
                .where(m.Publication.id == pub_id, m.Publication.state == "withdrawing", count == deleted)
                .values(state="withdrawn", completed_at=self.clock.now())
            )
