"""A conference as the rest of the bot sees it, and the pure rules of its window: which posts
belong to it, and when its champions may act."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.store import models as m

# Which posts with the conference tag are queued: those also carrying the community's tag, or
# any by a known member (one who took part before) even without it.
MATCH_COMMUNITY_TAG = "community_tag"
MATCH_KNOWN_MEMBERS = "known_members"
MATCHES = (MATCH_COMMUNITY_TAG, MATCH_KNOWN_MEMBERS)
DEFAULT_SETTINGS: dict[str, Any] = {"match": MATCH_COMMUNITY_TAG, "highlights_at": "20:00"}


@dataclass(frozen=True)
class ConferenceView:
    id: int
    name: str
    tag: str
    starts_on: date
    ends_on: date
    timezone: str
    match: str = MATCH_COMMUNITY_TAG
    highlights_at: time = time(20, 0)
    champions: tuple[str, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def opens(self) -> datetime:
        """Local midnight of the first day, in UTC."""
        return datetime.combine(self.starts_on, time(0), self.zone).astimezone(UTC)

    @property
    def closes(self) -> datetime:
        """Local midnight after the last day, in UTC (the window is [opens, closes))."""
        return datetime.combine(self.ends_on + timedelta(days=1), time(0), self.zone).astimezone(UTC)

    def is_open(self, now: datetime) -> bool:
        return self.opens <= now < self.closes

    def covers(self, hashtags: Iterable[str], posted_at: datetime) -> bool:
        """Whether a post with ``hashtags`` posted at ``posted_at`` is one of this conference's."""
        return self.tag in set(hashtags) and self.is_open(posted_at)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC span of one local day of the conference (23 or 25 hours across a DST change)."""
        start = datetime.combine(day, time(0), self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
        return start, end

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tag": self.tag,
            "from": self.starts_on.isoformat(),
            "to": self.ends_on.isoformat(),
            "timezone": self.timezone,
            "match": self.match,
            "highlights_at": self.highlights_at.strftime("%H:%M"),
            "champions": list(self.champions),
        }


def view_of(row: Any, champions: Iterable[str] = ()) -> ConferenceView:
    settings = {**DEFAULT_SETTINGS, **json.loads(row.settings or "{}")}
    return ConferenceView(
        id=row.id,
        name=row.name,
        tag=row.tag,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        timezone=row.timezone,
        match=settings["match"],
        highlights_at=time.fromisoformat(settings["highlights_at"]),
        champions=tuple(champions),
    )


def conferences(conn: Connection, community_id: int) -> list[ConferenceView]:
    """Every conference in force (not removed), by start date, with its champions' handles."""
    c, ch, a = m.Conference, m.ConferenceChampion, m.Account
    names: dict[int, list[str]] = {}
    for conf_id, handle, platform in conn.execute(
        select(ch.conference_id, a.handle, a.platform)
        .join(a, a.id == ch.account_id)
        .where(ch.community_id == community_id, ch.removed_at.is_(None))
        .order_by(ch.id)
    ):
        names.setdefault(conf_id, []).append(f"{handle} ({platform})")
    rows = conn.execute(
        select(m.table(c))
        .where(c.community_id == community_id, c.removed_at.is_(None))
        .order_by(c.starts_on, c.id)
    )
    return [view_of(r, names.get(r.id, ())) for r in rows]


def open_at(all_conferences: Iterable[ConferenceView], now: datetime) -> list[ConferenceView]:
    return [c for c in all_conferences if c.is_open(now)]


def conference_of(
    all_conferences: Iterable[ConferenceView], hashtags: str | Iterable[str], posted_at: datetime
) -> ConferenceView | None:
    """The conference a post belongs to (the first by start date when several overlap)."""
    tags = set(hashtags.split()) if isinstance(hashtags, str) else set(hashtags)
    return next((c for c in all_conferences if c.covers(tags, posted_at)), None)
