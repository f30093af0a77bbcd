"""SQL pieces the directory and the report share: what a hashtag post is, who the central
accounts are, who counts as an organisation, and time arithmetic that reads the same on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, extract, false, func, literal, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.config import Settings
from bot.store import models as m

OUT = "out"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def has_tag(hashtags: Any, tags: Sequence[str]) -> ColumnElement[bool]:
    """``hashtags`` (space-separated, normalised) holds one of ``tags`` as a whole word."""
    words = []
    for tag in tags:
        t = _escape_like(tag)
        escape = "\\" if t != tag else None
        # Four plain comparisons cost less per row than padding the column with spaces first.
        words += [
            hashtags == tag,
            hashtags.like(f"{t} %", escape=escape),
            hashtags.like(f"% {t}", escape=escape),
            hashtags.like(f"% {t} %", escape=escape),
        ]
    return or_(*words) if words else false()


def hashtag_posts(community_id: int, tags: Sequence[str]) -> list[ColumnElement[bool]]:
    """The conditions that make a stored post a use of the community's hashtag."""
    p = m.Post
    return [
        p.community_id == community_id,
        p.is_boost.is_(False),
        p.deleted.is_(False),
        has_tag(p.hashtags, tags),
    ]


def central_account_ids(conn: Connection, community_id: int) -> list[int]:
    """Primary keys of the account rows that are the community's central account."""
    a, c = m.Account, m.CentralAccount
    q = (
        select(a.id)
        .join(
            c,
            and_(
                c.community_id == a.community_id,
                c.platform == a.platform,
                c.platform_account_id == a.platform_account_id,
            ),
        )
        .where(a.community_id == community_id)
    )
    return [int(x) for x in conn.execute(q).scalars()]


def organisation(settings: Settings) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
    """(is an organisation, why) for an account row: a curator's mark wins, then the config
    lists, then the platform's own bot/group flags."""
    a = m.Account
    listed_handles = sorted({x.lstrip("@").casefold() for x in settings.directory.organisations})
    listed = or_(
        func.lower(func.ltrim(a.handle, "@")).in_(listed_handles),
        a.platform_account_id.in_(list(settings.directory.organisations)),
    )
    flagged = or_(a.is_bot.is_(True), a.is_group.is_(True))
    is_org = case((a.organisation.is_not(None), a.organisation), (listed, true()), else_=flagged)
    source = case(
        (a.organisation.is_not(None), a.organisation_source),
        (listed, literal("config")),
        (flagged, literal("platform")),
        else_=literal(None),
    )
    return is_org, source


def minutes_between(start: Any, end: Any, dialect: str) -> ColumnElement[int]:
    """Whole minutes from ``start`` to ``end`` (NULL when either is)."""
    if dialect == "sqlite":
        # julianday is much cheaper than strftime per row; the nudge keeps an exact 60 minutes
        # from landing on 59.999… and rounding down.
        return cast((func.julianday(end) - func.julianday(start)) * 1440 + 0.0001, Integer)
    return cast(func.floor(extract("epoch", end - start) / 60), BigInteger)
