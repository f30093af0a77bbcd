"""Computes a reach report with set-based SQL, on SQLite and PostgreSQL alike.

One pass copies the period's hashtag posts (with their engagement) into a narrow temporary
table, and their authors into another; every figure is then an aggregate over those. All of
it happens in one transaction that is rolled back, so the temporary tables vanish with it and
the report never writes to the community's data.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Connection

from bot import models as m
from bot.config import Settings
from bot.domain import CandidateState
from bot.report import sql
from bot.report.model import Curation, FollowerMonth, PlatformNumbers, Report, Spotlight, TopPost, Week
from bot.store import Store

WEEK = 7 * 86400

_APPROVED = (CandidateState.APPROVED, CandidateState.AMPLIFIED, CandidateState.FAILED)
_OPEN = (CandidateState.PENDING, CandidateState.SNOOZED)


def _temp_tables() -> tuple[Table, Table]:
    meta = MetaData()
    posts = Table(
        "report_posts",
        meta,
        Column("post_id", BigInteger),
        Column("platform", String(16)),
        Column("account_id", BigInteger),
        Column("week", Integer),
        Column("central", Integer),
        Column("likes", Integer),
        Column("reposts", Integer),
        Column("replies", Integer),
        Column("quotes", Integer),
        prefixes=["TEMPORARY"],
    )
    authors = Table(
        "report_authors",
        meta,
        Column("account_id", BigInteger, primary_key=True),
        Column("platform", String(16)),
        Column("new", Integer),
        prefixes=["TEMPORARY"],
    )
    return posts, authors


def build_report(store: Store, settings: Settings, since: datetime, until: datetime) -> Report:
    """The community's numbers for ``since`` <= time < ``until``."""
    if until <= since:
        raise ValueError("the period must end after it starts")
    tags = settings.community.tags
    with store.engine.connect() as conn:
        try:
            return _Builder(conn, store.community_id, settings, tags, since, until).build()
        finally:
            conn.rollback()


class _Builder:
    def __init__(
        self,
        conn: Connection,
        community_id: int,
        settings: Settings,
        tags: Sequence[str],
        since: datetime,
        until: datetime,
    ) -> None:
        self.conn = conn
        self.cid = community_id
        self.settings = settings
        self.tags = tags
        self.since = since
        self.until = until
        self.dialect = conn.dialect.name
        self.rp, self.ra = _temp_tables()

    def build(self) -> Report:
        self._fill()
        authors, new_authors = self._authors()
        platforms = self._platforms(authors)
        individuals, organisations, known, following = self._kinds()
        snapshots = self._snapshots()
        start, end = _starts(snapshots, self.since, self.until), _levels(snapshots, self.until)
        return Report(
            community=self.settings.community.name,
            hashtags=tuple(self.settings.community.hashtags),
            since=self.since,
            until=self.until,
            platforms=platforms,
            new_authors=len(new_authors),
            individuals=individuals,
            organisations=organisations,
            follows_known=known,
            follows_central=following,
            followers_start={p: v for p, v in start.items() if v is not None},
            followers_end={p: v for p, v in end.items() if v is not None},
            follower_months=_months(snapshots, self.since, self.until),
            curation=self._curation(),
            spotlight=self._spotlight(new_authors),
            weeks=self._weeks(snapshots),
            top_posts=self._top_posts(),
        )

    # -- the one pass over posts ---------------------------------------------------------------

    def _fill(self) -> None:
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql("PRAGMA temp_store=MEMORY")
        self.rp.create(self.conn)
        self.ra.create(self.conn)
        p, e = m.Post, m.PostEngagement
        central = sql.central_account_ids(self.conn, self.cid)
        since_s = literal(int(self.since.timestamp()), BigInteger)
        week = sql.floor_div(sql.epoch_seconds(p.created_at, self.dialect) - since_s, WEEK, self.dialect)
        rows = (
            select(
                p.id,
                p.platform,
                p.account_id,
                week,
                case((p.account_id.in_(central), 1), else_=0),
                func.coalesce(e.likes, 0),
                func.coalesce(e.reposts, 0),
                func.coalesce(e.replies, 0),
                func.coalesce(e.quotes, 0),
            )
            .select_from(p)
            .outerjoin(e, e.post_id == p.id)
            .where(
                *sql.hashtag_posts(self.cid, self.tags), p.created_at >= self.since, p.created_at < self.until
            )
        )
        self.conn.execute(insert(self.rp).from_select([c.name for c in self.rp.c], rows))
        rp = self.rp.c
        firsts = (
            select(rp.account_id, func.min(rp.platform), literal(0))
            .where(rp.central == 0)
            .group_by(rp.account_id)
        )
        self.conn.execute(insert(self.ra).from_select(["account_id", "platform", "new"], firsts))
        earlier = (
            select(literal(1))
            .select_from(p)
            .where(
                p.account_id == self.ra.c.account_id,
                p.created_at < self.since,
                *sql.hashtag_posts(self.cid, self.tags),
            )
        )
        self.conn.execute(update(self.ra).where(~exists(earlier)).values(new=1))

    # -- figures ------------------------------------------------------------------------------

    def _authors(self) -> tuple[dict[str, int], set[int]]:
        ra = self.ra.c
        per_platform = {
            str(k): int(v)
            for k, v in self.conn.execute(select(ra.platform, func.count()).group_by(ra.platform))
        }
        new = {int(x) for x in self.conn.execute(select(ra.account_id).where(ra.new == 1)).scalars()}
        return per_platform, new

    def _platforms(self, authors: dict[str, int]) -> tuple[PlatformNumbers, ...]:
        rp = self.rp.c
        q = (
            select(
                rp.platform,
                func.count(),
                func.sum(rp.central),
                func.sum(rp.likes),
                func.sum(rp.reposts),
                func.sum(rp.replies),
                func.sum(rp.quotes),
            )
            .group_by(rp.platform)
            .order_by(rp.platform)
        )
        return tuple(
            PlatformNumbers(
                platform=str(platform),
                posts=int(n),
                central_posts=int(central or 0),
                authors=authors.get(str(platform), 0),
                likes=int(likes or 0),
                reposts=int(reposts or 0),
                replies=int(replies or 0),
                quotes=int(quotes or 0),
            )
            for platform, n, central, likes, reposts, replies, quotes in self.conn.execute(q)
        )

    def _kinds(self) -> tuple[int, int, int, int]:
        """(individuals, organisations, follow status known, following the central account)."""
        a = m.Account
        is_org, _ = sql.organisation(self.settings)
        q = select(
            func.count(),
            func.sum(case((is_org, 1), else_=0)),
            func.sum(case((a.follows_central.is_not(None), 1), else_=0)),
            func.sum(case((a.follows_central.is_(True), 1), else_=0)),
        ).select_from(self.ra.join(a, a.id == self.ra.c.account_id))
        total, orgs, known, following = self.conn.execute(q).one()
        orgs = int(orgs or 0)
        return int(total) - orgs, orgs, int(known or 0), int(following or 0)

    def _weeks(self, snapshots: dict[str, list[tuple[datetime, int]]]) -> tuple[Week, ...]:
        rp = self.rp.c
        q = select(
            rp.week, func.count(), func.count(func.distinct(case((rp.central == 0, rp.account_id))))
        ).group_by(rp.week)
        counts = {int(w): (int(n), int(a)) for w, n, a in self.conn.execute(q)}
        weeks = []
        start = self.since
        index = 0
        while start < self.until:
            end = min(start + timedelta(days=7), self.until)
            posts, authors = counts.get(index, (0, 0))
            levels = [v for v in _levels(snapshots, end).values() if v is not None]
            weeks.append(Week(start, posts, authors, sum(levels) if levels else None))
            start, index = end, index + 1
        return tuple(weeks)

    def _top_posts(self) -> tuple[TopPost, ...]:
        limit = self.settings.report.top_posts
        if limit == 0:
            return ()
        rp, a, p = self.rp.c, m.Account, m.Post
        score = rp.likes + rp.reposts + rp.replies + rp.quotes
        best = (
            select(rp.post_id, rp.likes, rp.reposts, rp.replies, rp.quotes)
            .select_from(self.rp.join(a, a.id == rp.account_id))
            .where(rp.central == 0, score > 0, sql.not_opted_out())
            .order_by(score.desc(), rp.post_id)
            .limit(limit)
            .subquery()
        )
        q = (
            select(p.platform, a.handle, p.url, p.created_at, best)
            .select_from(best.join(p, p.id == best.c.post_id).join(a, a.id == p.account_id))
            .order_by((best.c.likes + best.c.reposts + best.c.replies + best.c.quotes).desc(), best.c.post_id)
        )
        return tuple(
            TopPost(
                platform=row.platform,
                handle=row.handle,
                url=row.url,
                created_at=row.created_at,
                likes=row.likes,
                reposts=row.reposts,
                replies=row.replies,
                quotes=row.quotes,
            )
            for row in self.conn.execute(q)
        )

    def _curation(self) -> Curation:
        c = m.Candidate
        period = (c.community_id == self.cid, c.created_at >= self.since, c.created_at < self.until)
        states = {
            str(s): int(n)
            for s, n in self.conn.execute(select(c.state, func.count()).where(*period).group_by(c.state))
        }
        took = sql.epoch_seconds(c.decided_at, self.dialect) - sql.epoch_seconds(c.created_at, self.dialect)
        minutes = sql.floor_div(took, 60, self.dialect).label("minutes")
        histogram = sorted(
            (int(x), int(n))
            for x, n in self.conn.execute(
                select(minutes, func.count()).where(*period, c.decided_at.is_not(None)).group_by(minutes)
            )
        )
        seen = sum(states.values())
        approved = sum(states.get(s.value, 0) for s in _APPROVED)
        rejected = states.get(CandidateState.REJECTED.value, 0)
        still_open = sum(states.get(s.value, 0) for s in _OPEN)
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
