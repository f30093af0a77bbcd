"""Is the bot keeping up? The watch loops record each platform's last success and last error
here; ``python -m bot health`` reads them with the queue, undo and reply backlogs and fails
(exit 1) when a platform has gone quiet for longer than ``trust.health_stale_minutes``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.domain import CandidateState, Platform
from bot.store import models as m
from bot.store.store import Store, dialect_insert

WRITE_EVERY = timedelta(seconds=5)  # a busy stream needn't write its health on every batch


class WatchHealthRecorder:
    """Written by the watch loops: one upsert per platform, at most every few seconds."""

    def __init__(self, store: Store, worker: str) -> None:
        self.store = store
        self.worker = worker
        self._last_ok: dict[Platform, datetime] = {}

    def ok(self, platform: Platform, now: datetime, *, progressed: bool) -> None:
        last = self._last_ok.get(platform)
        if not progressed and last is not None and now - last < WRITE_EVERY:
            return
        self._last_ok[platform] = now
        values: dict[str, Any] = {"last_ok_at": now, "worker": self.worker}
        if progressed:
            values["last_progress_at"] = now
        self._upsert(platform, values)

    def error(self, platform: Platform, error: str, now: datetime) -> None:
        self._last_ok.pop(platform, None)
        self._upsert(platform, {"last_error": error[:2000], "last_error_at": now, "worker": self.worker})

    def _upsert(self, platform: Platform, values: dict[str, Any]) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, m.table(m.WatchHealth))
                .values(community_id=self.store.community_id, platform=platform.value, **values)
                .on_conflict_do_update(index_elements=["community_id", "platform"], set_=values)
            )


@dataclass
class PlatformHealth:
    platform: str
    last_ok_at: datetime | None
    last_progress_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    cursor_moved_at: datetime | None  # when any of its cursors last moved
    queue: dict[str, int] = field(default_factory=dict)  # candidate states of its posts
    stale: bool = False
    why: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()}


@dataclass
class HealthReport:
    platforms: list[PlatformHealth]
    undo_backlog: int
    undo_failed: int
    replies_waiting: int
    now: datetime

    @property
    def ok(self) -> bool:
        return not any(p.stale for p in self.platforms)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "now": self.now.isoformat(),
            "platforms": [p.as_json() for p in self.platforms],
            "undo_backlog": self.undo_backlog,
            "undo_failed": self.undo_failed,
            "replies_waiting": self.replies_waiting,
        }


def report(
    store: Store, settings: Settings, now: datetime, stale_after: timedelta | None = None
) -> HealthReport:
    stale_after = stale_after or timedelta(minutes=settings.trust.health_stale_minutes)
    cid = store.community_id
    with store.engine.connect() as conn:
        h = m.WatchHealth
        rows = {r.platform: r for r in conn.execute(select(h).where(h.community_id == cid)).mappings()}
        cursors = dict(
            conn.execute(
                select(m.Cursor.platform, func.max(m.Cursor.updated_at))
                .where(m.Cursor.community_id == cid)
                .group_by(m.Cursor.platform)
            ).all()
        )
        queue: dict[str, dict[str, int]] = {}
        for platform, state, n in conn.execute(
            select(m.Post.platform, m.Candidate.state, func.count())
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(
                m.Candidate.community_id == cid,
                m.Candidate.state.in_(
                    [
                        CandidateState.PENDING.value,
                        CandidateState.SNOOZED.value,
                        CandidateState.APPROVED.value,
                        CandidateState.FAILED.value,
                    ]
                ),
            )
            .group_by(m.Post.platform, m.Candidate.state)
        ):
            queue.setdefault(platform, {})[state] = int(n)
        u = m.Undo
        undo = dict(
            conn.execute(select(u.state, func.count()).where(u.community_id == cid).group_by(u.state)).all()
        )
        r = m.MemberRequest
        replies = conn.execute(
            select(func.count()).where(r.community_id == cid, r.reply_state.in_(["pending", "sending"]))
        ).scalar_one()
    platforms = []
    # The configured platforms; a sandbox world (the demo) configures none: those it watched.
    known = {p.value for p in Platform}
    watched = settings.enabled_platforms() or [Platform(p) for p in sorted(rows) if p in known]
    for platform in watched:
        row = rows.get(platform.value)
        health = PlatformHealth(
            platform=platform.value,
            last_ok_at=row["last_ok_at"] if row else None,
            last_progress_at=row["last_progress_at"] if row else None,
            last_error=row["last_error"] if row else None,
            last_error_at=row["last_error_at"] if row else None,
            cursor_moved_at=cursors.get(platform.value),
            queue=queue.get(platform.value, {}),
        )
        if health.last_ok_at is None:
            health.stale, health.why = True, "never watched successfully"
        elif now - health.last_ok_at > stale_after:
            health.stale = True
            health.why = f"no successful watch for {_age(now - health.last_ok_at)}"
        platforms.append(health)
    return HealthReport(platforms, int(undo.get("pending", 0)), int(undo.get("failed", 0)), int(replies), now)


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def age(when: datetime | None, now: datetime) -> str:
    return "never" if when is None else _age(now - when) + " ago"
