"""Original posts in the store: written, edited, approved, rejected, scheduled and cancelled by
curators, and published by the series' publisher under the series name ``original:<id>``.

Every change is a compare-and-set on the post's version inside one transaction with its audit
row, as in the curation queue: two curators tapping at once never make two approvals of one
text, and an edit never slips past a publication that has begun (``publishing`` is final for
every curator action: the publications' intent rows decide from then on)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.domain import Platform
from bot.errors import QueueError
from bot.store import models as m
from bot.store.store import Store

PENDING, APPROVED, PUBLISHING, PUBLISHED = "pending", "approved", "publishing", "published"
REJECTED, CANCELLED = "rejected", "cancelled"
STATES = (PENDING, APPROVED, PUBLISHING, PUBLISHED, REJECTED, CANCELLED)
OPEN = (PENDING, APPROVED)  # what curators may still change
PREFIX = "original:"


def series_of(original_id: int) -> str:
    """The series name of an original's publications."""
    return f"{PREFIX}{original_id}"


def original_of(series: str) -> int | None:
    """The original post a publication's series name belongs to, if it is one."""
    rest = series.removeprefix(PREFIX)
    return int(rest) if rest != series and rest.isdigit() else None


@dataclass(frozen=True)
class DecisionView:
    curator: str
    action: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class PublicationView:
    platform: Platform
    state: str  # intent | done | failed | empty | … (bot.series.publisher)
    published: int  # parts on the platform
    total: int
    url: str | None  # of the first part
    error: str | None


@dataclass(frozen=True)
class OriginalView:
    id: int
    text: str
    platforms: tuple[Platform, ...]
    state: str
    approvals: int
    approvals_required: int
    due_at: datetime | None
    slot: datetime | None
    written_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    decisions: tuple[DecisionView, ...] = field(default=())
    publications: tuple[PublicationView, ...] = field(default=())
    approved_by: tuple[str, ...] = field(default=())  # approvals of the text as it stands

    @property
    def needs(self) -> int:
        """Approvals still missing."""
        return max(0, self.approvals_required - self.approvals)


class _Conflict(Exception):
    """Someone else changed the post between our read and our write: read again."""


Change = Callable[[Any, Connection], dict[str, Any]]


class OriginalBook:
    def __init__(self, store: Store, approvals_required: int) -> None:
        self.store = store
        self.required = approvals_required

    # -- reading -------------------------------------------------------------------------------

    def _view(self, row: Any, conn: Connection | None = None) -> OriginalView:
        decisions: tuple[DecisionView, ...] = ()
        publications: tuple[PublicationView, ...] = ()
        approved_by: tuple[str, ...] = ()
        if conn is not None:
            d = m.OriginalDecision
            decisions = tuple(
                DecisionView(*r)
                for r in conn.execute(
                    select(d.curator, d.action, d.reason, d.at).where(d.original_id == row.id).order_by(d.id)
                )
            )
            approved_by = tuple(_approvers(conn, row.id))
            publications = tuple(self._publications(conn, row.id))
        return OriginalView(
            id=row.id,
            text=row.text,
            platforms=tuple(Platform(p) for p in row.platforms.split()),
            state=row.state,
            approvals=row.approvals,
            approvals_required=self.required,
            due_at=row.due_at,
            slot=row.slot,
            written_by=row.written_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            decisions=decisions,
            publications=publications,
            approved_by=approved_by,
        )

    def _publications(self, conn: Connection, original_id: int) -> list[PublicationView]:
        p, part = m.Publication, m.PublicationPart
        landed = select(func.count()).where(part.publication_id == p.id).correlate(p).scalar_subquery()
        first = (
            select(part.receipt_url)
            .where(part.publication_id == p.id, part.position == 1)
            .correlate(p)
            .scalar_subquery()
        )
        rows = conn.execute(
            select(p.platform, p.state, landed, p.parts_total, first, p.error)
            .where(p.community_id == self.store.community_id, p.series == series_of(original_id))
            .order_by(p.platform)
        )
        return [
            PublicationView(Platform(platform), state, int(landed), int(total), url, error)
            for platform, state, landed, total, url, error in rows
        ]

    def get(self, original_id: int) -> OriginalView:
        with self.store.engine.connect() as conn:
            row = self._row(conn, original_id)
            return self._view(row, conn)

    def _row(self, conn: Connection, original_id: int) -> Any:
        o = m.OriginalPost
        row = conn.execute(
            select(m.table(o)).where(o.id == original_id, o.community_id == self.store.community_id)
        ).one_or_none()
        if row is None:
            raise QueueError(f"no original post #{original_id} in this community")
        return row

    def listing(
        self,
        states: Sequence[str] = (),
        *,
        due_from: datetime | None = None,
        due_until: datetime | None = None,
        limit: int = 200,
        details: bool = False,
    ) -> list[OriginalView]:
        """Newest first; ``due_from``/``due_until`` keep those due (or published) in a window."""
        o = m.OriginalPost
        q = select(m.table(o)).where(o.community_id == self.store.community_id)
        if states:
            q = q.where(o.state.in_(list(states)))
        when = func.coalesce(o.slot, o.due_at)
        if due_from is not None:
            q = q.where(when >= due_from)
        if due_until is not None:
            q = q.where(when < due_until)
        q = q.order_by(o.id.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [self._view(r, conn if details else None) for r in conn.execute(q)]

    # -- changing ------------------------------------------------------------------------------

    def write(
        self, text: str, platforms: Sequence[Platform], by: str, now: datetime, due_at: datetime | None = None
    ) -> OriginalView:
        with self.store.engine.begin() as conn:
            new_id = conn.execute(
                m.table(m.OriginalPost)
                .insert()
                .values(
                    community_id=self.store.community_id,
                    text=text,
                    platforms=" ".join(p.value for p in platforms),
                    state=PENDING,
                    approvals=0,
                    version=0,
                    due_at=due_at,
                    written_by=by,
                    created_at=now,
                    updated_at=now,
                )
                .returning(m.OriginalPost.id)
            ).scalar_one()
            self._audit(conn, int(new_id), by, "write", _when(due_at), now)
            return self._view(self._row(conn, int(new_id)), conn)

    def edit(
        self, original_id: int, by: str, now: datetime, *, text: str, platforms: Sequence[Platform]
    ) -> OriginalView:
        """A new text (or platforms): the approvals given to the old one no longer count."""

        def change(row: Any, conn: Connection) -> dict[str, Any]:
            return {
                "text": text,
                "platforms": " ".join(p.value for p in platforms),
                "approvals": 0,
                "state": PENDING,
            }

        return self._decide(original_id, by, "edit", None, now, change)

    def approve(self, original_id: int, by: str, now: datetime, reason: str | None = None) -> OriginalView:
        def change(row: Any, conn: Connection) -> dict[str, Any]:
            if row.state != PENDING:
                raise QueueError(f"original #{row.id} is already {row.state}")
            if by in _approvers(conn, row.id):
                raise QueueError(f"original #{row.id} already has your approval; it needs another curator")
            approvals = row.approvals + 1
            return {"approvals": approvals, "state": APPROVED if approvals >= self.required else PENDING}

        return self._decide(original_id, by, "approve", reason, now, change)

    def reject(self, original_id: int, by: str, now: datetime, reason: str | None = None) -> OriginalView:
        return self._decide(original_id, by, "reject", reason, now, lambda row, conn: {"state": REJECTED})

    def cancel(self, original_id: int, by: str, now: datetime, reason: str | None = None) -> OriginalView:
        return self._decide(original_id, by, "cancel", reason, now, lambda row, conn: {"state": CANCELLED})

    def schedule(self, original_id: int, by: str, now: datetime, due_at: datetime) -> OriginalView:
        """When it goes out (once approved); a new time needs no new approval: the text is the same."""
        return self._decide(
            original_id, by, "schedule", _when(due_at), now, lambda row, conn: {"due_at": due_at}
        )

    def _audit(
        self, conn: Connection, original_id: int, by: str, action: str, reason: str | None, now: datetime
    ) -> None:
        conn.execute(
            m.table(m.OriginalDecision)
            .insert()
            .values(
                community_id=self.store.community_id,
                original_id=original_id,
                curator=by,
                action=action,
                reason=reason,
                at=now,
            )
        )

    def _decide(
        self, original_id: int, by: str, action: str, reason: str | None, now: datetime, change: Change
    ) -> OriginalView:
        for _ in range(20):
            try:
                return self._decide_once(original_id, by, action, reason, now, change)
            except _Conflict:
                continue
        raise QueueError(f"original #{original_id} is changing too fast; try again")

    def _decide_once(
        self, original_id: int, by: str, action: str, reason: str | None, now: datetime, change: Change
    ) -> OriginalView:
        o = m.OriginalPost
        with self.store.engine.begin() as conn:
            row = self._row(conn, original_id)
            if row.state not in OPEN:
                raise QueueError(f"original #{row.id} is already {row.state}")
            values = change(row, conn)
            res = conn.execute(
                update(o)
                .where(o.id == row.id, o.version == row.version, o.state.in_(OPEN))
                .values(version=row.version + 1, updated_at=now, **values)
            )
            if res.rowcount != 1:
                raise _Conflict
            self._audit(conn, row.id, by, action, reason, now)
            return self._view(self._row(conn, row.id), conn)

    # -- publishing (the runner) ----------------------------------------------------------------

    def start_due(self, now: datetime) -> int:
        """Approved posts whose time has come begin publishing, their slot fixed now; how many.
        Several workers may call this at once: each post moves once (its state is the guard)."""
        o = m.OriginalPost
        with self.store.engine.begin() as conn:
            due = [
                (r.id, r.version)
                for r in conn.execute(
                    select(o.id, o.version).where(
                        o.community_id == self.store.community_id,
                        o.state == APPROVED,
                        o.due_at.is_not(None),
                        o.due_at <= now,
                    )
                )
            ]
        started = 0
        for original_id, version in due:
            with self.store.engine.begin() as conn:
                res = conn.execute(
                    update(o)
                    .where(o.id == original_id, o.version == version, o.state == APPROVED)
                    .values(state=PUBLISHING, slot=now, version=version + 1, updated_at=now)
                )
                if res.rowcount == 1:
                    self._audit(conn, original_id, "system", "publish", None, now)
                    started += 1
        return started

    def publishing(self) -> list[OriginalView]:
        return self.listing([PUBLISHING], limit=1000)

    def mark_published(self, original_id: int, now: datetime) -> bool:
        o = m.OriginalPost
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(o)
                .where(o.id == original_id, o.state == PUBLISHING)
                .values(state=PUBLISHED, version=o.version + 1, updated_at=now)
            )
            return res.rowcount == 1

    def publication_states(self, original_id: int) -> dict[Platform, str]:
        with self.store.engine.connect() as conn:
            return {p.platform: p.state for p in self._publications(conn, original_id)}


def _approvers(conn: Connection, original_id: int) -> list[str]:
    """Who approved the text as it stands (approvals before its last edit were of another text)."""
    d = m.OriginalDecision
    edited = (
        select(func.coalesce(func.max(d.id), 0))
        .where(d.original_id == original_id, d.action == "edit")
        .scalar_subquery()
    )
    return list(
        conn.execute(
            select(d.curator)
            .where(d.original_id == original_id, d.action == "approve", d.id > edited)
            .order_by(d.id)
        ).scalars()
    )


def _when(at: datetime | None) -> str | None:
    return None if at is None else f"for {at.isoformat(timespec='minutes')}"
