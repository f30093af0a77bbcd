"""The rows the directory and the reach report keep: who the central account is, engagement of
recent posts, daily follower counts, who follows the central account, curators' marks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain import Author, Platform, Post
from bot.ports import Engagement
from bot.report import sql
from bot.store import models as m
from bot.store.store import Store, chunks, dialect_insert, to_domain


class ReachStore:
    """Reach data of one community, next to (and on the same engine as) its Store."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.community_id = store.community_id

    # -- the central account -----------------------------------------------------------------

    def set_central(self, platform: Platform, account: Author, now: datetime) -> None:
        values = {"platform_account_id": account.account_id, "handle": account.handle, "updated_at": now}
        with self.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, m.table(m.CentralAccount))
                .values(community_id=self.community_id, platform=platform.value, **values)
                .on_conflict_do_update(index_elements=["community_id", "platform"], set_=values)
            )

    def central_ids(self, conn: Connection) -> list[int]:
        return sql.central_account_ids(conn, self.community_id)

    # -- engagement ----------------------------------------------------------------------------

    def posts_to_refresh(
        self, platform: Platform, now: datetime, window: timedelta, limit: int
    ) -> list[Post]:
        """Posts younger than ``window``, the longest unrefreshed first (never refreshed: first)."""
        p, a = m.Post, m.Account
        q = (
            select(p, a)
            .join(a, a.id == p.account_id)
            .where(
                p.community_id == self.community_id,
                p.platform == platform.value,
                p.created_at >= now - window,
                p.is_boost.is_(False),
                p.deleted.is_(False),
            )
            .order_by(case_never(p.engagement_at).desc(), p.engagement_at, p.id)
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [to_domain(post, account) for post, account in session.execute(q)]

    def save_engagement(self, platform: Platform, counts: Mapping[str, Engagement], now: datetime) -> int:
        """Store the platform's counts by its post ids; returns how many posts were updated."""
        p = m.Post
        rows = [
            {
                "pid": pid,
                "likes": c.likes,
                "reposts": c.reposts,
                "replies": c.replies,
                "quotes": c.quotes,
                "engagement": c.likes + c.reposts + c.replies + c.quotes,
            }
            for pid, c in counts.items()
        ]
        if not rows:
            return 0
        stmt = (
            update(m.table(m.Post))
            .where(
                p.community_id == self.community_id,
                p.platform == platform.value,
                p.platform_post_id == bindparam("pid"),
            )
            .values(
                likes=bindparam("likes"),
                reposts=bindparam("reposts"),
                replies=bindparam("replies"),
                quotes=bindparam("quotes"),
                engagement=bindparam("engagement"),
                engagement_at=now,
            )
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt, rows)
        return int(result.rowcount or 0)

    def touch_engagement(self, posts: list[Post], now: datetime) -> None:
        """Posts the platform no longer shows still count as refreshed, so they do not crowd
        out the others at the head of the line (their last counts stay)."""
        with self.engine.begin() as conn:
            for platform in {x.platform for x in posts}:
                ids = [x.post_id for x in posts if x.platform is platform]
                self._update(conn, m.Post, m.Post.platform_post_id, platform, ids, engagement_at=now)

    # -- followers -----------------------------------------------------------------------------

    def snapshot_followers(self, platform: Platform, followers: int, now: datetime) -> None:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        values = {"followers": followers, "taken_at": now}
        with self.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, m.table(m.FollowerSnapshot))
                .values(community_id=self.community_id, platform=platform.value, day=day, **values)
                .on_conflict_do_update(index_elements=["community_id", "platform", "day"], set_=values)
            )

    def accounts_to_check(
        self, platform: Platform, now: datetime, recheck: timedelta, limit: int
    ) -> list[str]:
        """Accounts whose following of the central account is unknown or stale, the most
        recently active first."""
        a = m.Account
        with self.engine.connect() as conn:
            central = self.central_ids(conn)
            q = (
                select(a.platform_account_id)
                .where(
                    a.community_id == self.community_id,
                    a.platform == platform.value,
                    a.id.not_in(central),
                    or_(a.follows_checked_at.is_(None), a.follows_checked_at < now - recheck),
                )
                .order_by(case_never(a.follows_checked_at).desc(), a.last_seen.desc(), a.id)
                .limit(limit)
            )
            return [str(x) for x in conn.execute(q).scalars()]

    def save_follows(
        self, platform: Platform, checked: list[str], follows: Mapping[str, bool], now: datetime
    ) -> None:
        """Record what the platform said; accounts it did not answer for become unknown."""
        key = m.Account.platform_account_id
        with self.engine.begin() as conn:
            for value in (True, False, None):
                ids = [i for i in checked if follows.get(i) is value]
                self._update(
                    conn, m.Account, key, platform, ids, follows_central=value, follows_checked_at=now
                )

    def _update(
        self, conn: Connection, model: Any, key: Any, platform: Platform, ids: list[str], **values: Any
    ) -> None:
        """Set ``values`` on this community's rows of ``platform`` whose ``key`` is in ``ids``."""
        for part in chunks(ids):
            conn.execute(
                update(model)
                .where(
                    model.community_id == self.community_id, model.platform == platform.value, key.in_(part)
                )
                .values(**values)
            )

    # -- directory -----------------------------------------------------------------------------

    def consenting(self, platform: Platform) -> list[Author]:
        """Members on ``platform`` who said yes: the only ones a members list may show."""
        a = m.Account
        with self.engine.connect() as conn:
            central = self.central_ids(conn)
            q = (
                select(a)
                .where(
                    a.community_id == self.community_id,
                    a.platform == platform.value,
                    a.consent == "in",
                    a.blocked.is_(False),
                    a.id.not_in(central),
                )
                .order_by(a.id)
            )
            with Session(bind=conn) as session:
                return [
                    Author(
                        account_id=x.platform_account_id,
                        handle=x.handle,
                        display_name=x.display_name,
                        url=x.url,
                    )
                    for x in session.execute(q).scalars()
                ]

    def mark_organisation(self, account_pk: int, organisation: bool, source: str) -> None:
        a = m.Account
        with self.engine.begin() as conn:
            conn.execute(
                update(a)
                .where(and_(a.id == account_pk, a.community_id == self.community_id))
                .values(organisation=organisation, organisation_source=source)
            )


def case_never(column: Any) -> ColumnElement[int]:
    """1 for rows never done (NULL), else 0: sorts them first on both backends alike."""
    return case((column.is_(None), 1), else_=0)
