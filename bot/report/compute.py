"""Computes a reach report with set-based SQL, on SQLite and PostgreSQL alike.

A handful of statements, each one pass: the period's hashtag posts grouped by platform and
week (counts, engagement and distinct authors together); the period's authors found from the
accounts side (one index probe per member, not a sort of every post); the best received posts
through their engagement index; the period's candidates grouped by state and minutes to
decision; its amplifications by member. Read-only: the transaction is rolled back at the end.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.config import Settings
from bot.domain import CandidateState
from bot.progress import Progress
from bot.report import sql
from bot.report.model import Curation, FollowerMonth, PlatformNumbers, Report, Spotlight, TopPost, Week
from bot.store import models as m
from bot.store.models import UTCDateTime
from bot.store.store import Store

WALK_ENGAGEMENT_FROM = 20_000  # posts in the period

_APPROVED = {s.value for s in (CandidateState.APPROVED, CandidateState.AMPLIFIED, CandidateState.FAILED)}
_OPEN = {s.value for s in (CandidateState.PENDING, CandidateState.SNOOZED)}


def build_report(
    store: Store,
    settings: Settings,
    since: datetime,
    until: datetime,
    *,
    made_at: datetime | None = None,
    progress: Progress | None = None,
) -> Report:
    """The community's numbers for ``since`` <= time < ``until``; ``made_at`` (default: now)
    is printed on the report, ``progress`` hears of each week and step as it is counted."""
    if until <= since:
        raise ValueError("the period must end after it starts")
    with store.engine.connect() as conn:
        try:
            if conn.dialect.name == "postgresql":
                # Statements run once over many rows: sort in memory, skip JIT compilation.
                conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
                conn.exec_driver_sql("SET LOCAL jit = off")
            builder = _Builder(
                conn, store.community_id, settings, since, until, progress or Progress.silent()
            )
            return replace(builder.build(), made_at=made_at or datetime.now(UTC))
        finally:
            conn.rollback()


@dataclass(frozen=True)
class _Group:
    """The period's hashtag posts of one platform in one week."""

    platform: str
    week: int
    posts: int
    central: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    authors: int  # distinct, the central account and blocked accounts aside
    counted: int  # posts whose counts the platform told (none on Telegram: unknown, not 0)


@dataclass(frozen=True)
class _Author:
    platform: str
    organisation: bool
    follows: bool | None
    new: bool
    blocked: bool


class _Builder:
    def __init__(
        self,
        conn: Connection,
        community_id: int,
        settings: Settings,
        since: datetime,
        until: datetime,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.cid = community_id
        self.settings = settings
        self.tags = settings.community.tags
        self.since = since
        self.until = until
        self.dialect = conn.dialect.name
        self.central = sql.central_account_ids(conn, community_id)
        self.progress = progress
        a = m.Account
        self.blocked = [
            int(pk)
            for (pk,) in conn.execute(select(a.id).where(a.community_id == community_id, a.blocked.is_(True)))
        ]

    def build(self) -> Report:
        groups = self._posts()
        everyone = self._authors()
        authors = {k: a for k, a in everyone.items() if not a.blocked}
        snapshots = self._snapshots()
        start, end = _starts(snapshots, self.since, self.until), _levels(snapshots, self.until)
        organisations = sum(1 for a in authors.values() if a.organisation)
        return Report(
            community=self.settings.community.name,
            hashtags=tuple(self.settings.community.hashtags),
            since=self.since,
            until=self.until,
            platforms=_platforms(groups, authors),
            new_authors=sum(1 for a in authors.values() if a.new),
            individuals=len(authors) - organisations,
            organisations=organisations,
            blocked_authors=len(everyone) - len(authors),
            follows_known=sum(1 for a in authors.values() if a.follows is not None),
            follows_central=sum(1 for a in authors.values() if a.follows),
            followers_start={p: v for p, v in start.items() if v is not None},
            followers_end={p: v for p, v in end.items() if v is not None},
            follower_months=_months(snapshots, self.since, self.until),
            curation=self._curation(),
            spotlight=self._spotlight({k for k, a in authors.items() if a.new}),
            weeks=self._weeks(groups, snapshots),
            top_posts=self._top_posts(sum(g.posts for g in groups)),
            follower_series=_series(snapshots, self.since),
        )

    def _in_period(self) -> list[ColumnElement[bool]]:
        p = m.Post
        return [
            *sql.hashtag_posts(self.cid, self.tags),
            p.created_at >= self.since,
            p.created_at < self.until,
        ]

    # -- posts ------------------------------------------------------------------------------------

    def _posts(self) -> list[_Group]:
        """One statement per week: the week is its range on the created_at index, so no date
        arithmetic runs per row and each grouping sorts one week's posts, not the period's."""
        p = m.Post
        start, end = bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
        is_central = p.account_id.in_(self.central)
        is_author = ~p.account_id.in_([*self.central, *self.blocked])
        q = (
            select(
                p.platform,
                func.count(),
                func.sum(case((is_central, 1), else_=0)),
                func.sum(func.coalesce(p.likes, 0)),
                func.sum(func.coalesce(p.reposts, 0)),
                func.sum(func.coalesce(p.replies, 0)),
                func.sum(func.coalesce(p.quotes, 0)),
                func.count(func.distinct(case((is_author, p.account_id)))),
                func.count(p.engagement_at),
            )
            .where(*sql.hashtag_posts(self.cid, self.tags), p.created_at >= start, p.created_at < end)
            .group_by(p.platform)
        )
        out = []
        bounds = self._week_bounds()
        with self.progress.step("counting posts week by week", total=len(bounds), unit="weeks") as done:
            for week, (since, until) in enumerate(bounds):
                for platform, *numbers in self.conn.execute(q, {"start": since, "end": until}):
                    out.append(_Group(str(platform), week, *(int(x or 0) for x in numbers)))
                done(1)
        return out

    def _week_bounds(self) -> list[tuple[datetime, datetime]]:
        """The period cut into weeks from its first day; the last may be shorter."""
        bounds = []
        start = self.since
        while start < self.until:
            end = min(start + timedelta(days=7), self.until)
            bounds.append((start, end))
            start = end
        return bounds

    def _authors(self) -> dict[int, _Author]:
        """Everyone (the central account aside) who used the hashtag in the period, found by
        probing each account's posts through (account_id, created_at)."""
        a, p = m.Account, m.Post
        is_org, _ = sql.organisation(self.settings)
        used = exists(
            select(literal(1)).where(
                p.account_id == a.id,
                *sql.hashtag_posts(self.cid, self.tags),
                p.created_at >= self.since,
                p.created_at < self.until,
            )
        )
        before = exists(
            select(literal(1)).where(
                p.account_id == a.id, *sql.hashtag_posts(self.cid, self.tags), p.created_at < self.since
            )
        )
        q = select(a.id, a.platform, is_org, a.follows_central, ~before, a.blocked).where(
            a.community_id == self.cid, a.id.not_in(self.central), used
        )
        with self.progress.step("finding the period's authors"):
            return {
                int(pk): _Author(str(platform), bool(org), follows, bool(new), bool(blocked))
                for pk, platform, org, follows, new, blocked in self.conn.execute(q)
            }

    def _weeks(
        self,
        groups: list[_Group],
        snapshots: dict[str, list[tuple[datetime, int]]],
    ) -> tuple[Week, ...]:
        posts: dict[int, int] = defaultdict(int)
        authors: dict[int, int] = defaultdict(int)
        for g in groups:
            posts[g.week] += g.posts
            authors[g.week] += g.authors  # an account lives on one platform: no double counting
        weeks = []
        for index, (start, end) in enumerate(self._week_bounds()):
            levels = [v for v in _levels(snapshots, end).values() if v is not None]
            weeks.append(Week(start, posts[index], authors[index], sum(levels) if levels else None, end))
        return tuple(weeks)

    def _top_posts(self, period_posts: int) -> tuple[TopPost, ...]:
        limit = self.settings.report.top_posts
        if limit == 0 or period_posts == 0:
            return ()
        p, a = m.Post, m.Account
        created: Any = p.created_at
        if period_posts >= WALK_ENGAGEMENT_FROM:
            # A long period: walking the engagement index from the top finds the best posts
            # after a few rows, where the created_at index would have the database sort them all.
            created = func.coalesce(p.created_at, p.created_at)
        hidden = select(a.id).where(
            a.community_id == self.cid, or_(a.consent == sql.OUT, a.blocked.is_(True))
        )
        best = (
            select(p.id, p.account_id)
            .where(
                *sql.hashtag_posts(self.cid, self.tags),
                created >= self.since,
                created < self.until,
                p.engagement > 0,
                p.account_id.not_in(self.central),
                p.account_id.not_in(hidden),
            )
            .order_by(p.engagement.desc(), p.id.desc())
            .limit(limit)
            .subquery()
        )
        q = (
            select(p.platform, a.handle, p.url, p.created_at, p.likes, p.reposts, p.replies, p.quotes)
            .select_from(best)
            .join(p, p.id == best.c.id)
            .join(a, a.id == best.c.account_id)
            .order_by(p.engagement.desc(), p.id.desc())
        )
        return tuple(
            TopPost(
                platform=row.platform,
                handle=row.handle,
                url=row.url,
                created_at=row.created_at,
                likes=row.likes or 0,
                reposts=row.reposts or 0,
                replies=row.replies or 0,
                quotes=row.quotes or 0,
            )
            for row in self.conn.execute(q)
        )

    # -- curation -------------------------------------------------------------------------------

    def _curation(self) -> Curation:
        c = m.Candidate
        minutes = sql.minutes_between(c.created_at, c.decided_at, self.dialect).label("minutes")
        q = (
            select(c.state, minutes, func.count())
            .where(c.community_id == self.cid, c.created_at >= self.since, c.created_at < self.until)
            .group_by(c.state, minutes)
        )
        states: dict[str, int] = defaultdict(int)
        took: dict[int, int] = defaultdict(int)
        for state, mins, n in self.conn.execute(q):
            states[str(state)] += int(n)
            if mins is not None:
                took[int(mins)] += int(n)
        histogram = sorted(took.items())
        seen = sum(states.values())
        approved = sum(n for s, n in states.items() if s in _APPROVED)
        rejected = states[CandidateState.REJECTED.value]
        still_open = sum(n for s, n in states.items() if s in _OPEN)
        return Curation(
            seen=seen,
            approved=approved,
            rejected=rejected,
            open=still_open,
            other=seen - approved - rejected - still_open,
            decided=sum(n for _, n in histogram),
            decision_median_minutes=percentile(histogram, 0.5),
            decision_p90_minutes=percentile(histogram, 0.9),
        )

    def _spotlight(self, new_authors: set[int]) -> Spotlight:
        x, c, p = m.Amplification, m.Candidate, m.Post
        q = (
            select(p.account_id, func.count())
            .select_from(x)
            .join(c, c.id == x.candidate_id)
            .join(p, p.id == c.post_id)
            .where(
                x.community_id == self.cid,
                x.state == "done",
                x.completed_at >= self.since,
                x.completed_at < self.until,
            )
            .group_by(p.account_id)
        )
        per_member = {int(k): int(v) for k, v in self.conn.execute(q)}
        counts = sorted(per_member.values())
        total = sum(counts)
        top = max(1, math.ceil(len(counts) / 10)) if counts else 0
        return Spotlight(
            amplifications=total,
            members=len(counts),
            most_for_one=counts[-1] if counts else 0,
            top_tenth_share=sum(counts[-top:]) / total if total else None,
            gini=gini(counts),
            first_time_contributors=len(new_authors & per_member.keys()),
        )

    def _snapshots(self) -> dict[str, list[tuple[datetime, int]]]:
        s = m.FollowerSnapshot
        q = (
            select(s.platform, s.day, s.followers)
            .where(s.community_id == self.cid, s.day < self.until)
            .order_by(s.platform, s.day)
        )
        out: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        for platform, day, followers in self.conn.execute(q):
            out[str(platform)].append((day, int(followers)))
        return dict(out)


def _platforms(groups: list[_Group], authors: dict[int, _Author]) -> tuple[PlatformNumbers, ...]:
    per_platform: dict[str, int] = defaultdict(int)
    for author in authors.values():
        per_platform[author.platform] += 1
    out = []
    for platform in sorted({g.platform for g in groups}):
        mine = [g for g in groups if g.platform == platform]
        told = any(g.counted for g in mine)  # no post with counts: the platform cannot tell
        out.append(
            PlatformNumbers(
                platform,
                posts=sum(g.posts for g in mine),
                central_posts=sum(g.central for g in mine),
                authors=per_platform[platform],
                likes=sum(g.likes for g in mine) if told else None,
                reposts=sum(g.reposts for g in mine) if told else None,
                replies=sum(g.replies for g in mine) if told else None,
                quotes=sum(g.quotes for g in mine) if told else None,
            )
        )
    return tuple(out)


# -- pure helpers ------------------------------------------------------------------------------


def percentile(histogram: Sequence[tuple[int, int]], p: float) -> int | None:
    """Nearest-rank percentile of values given as sorted (value, count) pairs."""
    n = sum(count for _, count in histogram)
    if n == 0:
        return None
    rank = max(1, math.ceil(p * n))
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def gini(counts: Sequence[int]) -> float | None:
    """Gini coefficient of ``counts`` (sorted ascending): 0 when everyone has the same."""
    n, total = len(counts), sum(counts)
    if n == 0 or total == 0:
        return None
    weighted = sum(i * x for i, x in enumerate(counts, 1))
    return (2 * weighted) / (n * total) - (n + 1) / n


def _series(
    snapshots: dict[str, list[tuple[datetime, int]]], since: datetime
) -> dict[str, tuple[tuple[datetime, int], ...]]:
    """Each platform's counts for the chart: the last one before the period, then those in it
    (``snapshots`` already stop at the period's end)."""
    out = {}
    for platform, series in snapshots.items():
        first = max(0, bisect.bisect_left([day for day, _ in series], since) - 1)
        out[platform] = tuple(series[first:])
    return out


def _levels(snapshots: dict[str, list[tuple[datetime, int]]], before: datetime) -> dict[str, int | None]:
    """Each platform's last follower count taken before ``before`` (None: none yet)."""
    out: dict[str, int | None] = {}
    for platform, series in snapshots.items():
        i = bisect.bisect_left([day for day, _ in series], before)
        out[platform] = series[i - 1][1] if i else None
    return out


def _starts(
    snapshots: dict[str, list[tuple[datetime, int]]], since: datetime, until: datetime
) -> dict[str, int | None]:
    """Each platform's count as the period began: the last before it, else its first within it."""
    out = _levels(snapshots, since)
    for platform, series in snapshots.items():
        if out[platform] is None:
            out[platform] = next((v for day, v in series if since <= day < until), None)
    return out


def _month_starts(since: datetime, until: datetime) -> Iterable[tuple[datetime, datetime]]:
    start = since
    while start < until:
        first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + timedelta(days=32)).replace(day=1)
        end = min(following, until)
        yield start, end
        start = end


def _months(
    snapshots: dict[str, list[tuple[datetime, int]]], since: datetime, until: datetime
) -> tuple[FollowerMonth, ...]:
    """Follower growth of each calendar month of the period, all platforms added up. A month
    starts from the last count before it, or (for a platform counted only from then on) its
    first count within it."""
    out = []
    for start, end in _month_starts(since.astimezone(UTC), until.astimezone(UTC)):
        first_total = last_total = 0
        counted = False
        for series in snapshots.values():
            inside = [v for day, v in series if start <= day < end]
            before = [v for day, v in series if day < start]
            if not inside and not before:
                continue
            counted = True
            first_total += before[-1] if before else inside[0]
            last_total += inside[-1] if inside else before[-1]
        if counted:
            out.append(FollowerMonth(start.strftime("%Y-%m"), first_total, last_total))
    return tuple(out)
