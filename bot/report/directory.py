"""The member directory: everyone who used the hashtag or was amplified, one record per account.

Members who opted out are counted but never listed or exported; blocked accounts neither.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, func, or_, select

from bot import files
from bot.config import Settings
from bot.domain import Platform
from bot.errors import DirectoryError
from bot.report import sql
from bot.report.store import ReachStore
from bot.store import models as m
from bot.store.store import Store


@dataclass(frozen=True)
class Member:
    platform: str
    handle: str
    display_name: str
    url: str | None
    first_seen: datetime
    last_seen: datetime
    hashtag_posts: int
    amplified: int
    consent: str | None  # "in", or None when the member has not said (opted-out ones never show)
    organisation: bool
    organisation_source: str | None  # curator:NAME, config or platform; None for an individual
    follows_central: bool | None

    def row(self) -> dict[str, str]:
        """The member as CSV cells."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                out[f.name] = ""
            elif isinstance(value, bool):
                out[f.name] = "yes" if value else "no"
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = str(value)
        return out


COLUMNS = [f.name for f in fields(Member)]


@dataclass(frozen=True)
class Directory:
    members: list[Member]  # listable members only
    total: int  # every member, those who opted out and blocked accounts included
    opted_out: int
    blocked: int


def _member_query(store: Store, settings: Settings, central: list[int]) -> Select[*tuple[Any, ...]]:
    """Every member with their counts and kind: shared by listing and marking."""
    p, a, x, c = m.Post, m.Account, m.Amplification, m.Candidate
    tagged = (
        select(p.account_id.label("account_id"), func.count().label("n"))
        .where(*sql.hashtag_posts(store.community_id, settings.community.tags))
        .group_by(p.account_id)
        .subquery()
    )
    amplified = (
        select(p.account_id.label("account_id"), func.count().label("n"))
        .select_from(x)
        .join(c, c.id == x.candidate_id)
        .join(p, p.id == c.post_id)
        .where(x.community_id == store.community_id, x.state == "done")
        .group_by(p.account_id)
        .subquery()
    )
    is_org, source = sql.organisation(settings)
    q: Select[*tuple[Any, ...]] = (
        select(
            a.id,
            a.platform,
            a.handle,
            a.display_name,
            a.url,
            a.first_seen,
            a.last_seen,
            func.coalesce(tagged.c.n, 0).label("hashtag_posts"),
            func.coalesce(amplified.c.n, 0).label("amplified"),
            a.consent,
            a.blocked,
            is_org.label("is_org"),
            source.label("org_source"),
            a.follows_central,
        )
        .select_from(a)
        .outerjoin(tagged, tagged.c.account_id == a.id)
        .outerjoin(amplified, amplified.c.account_id == a.id)
        .where(
            a.community_id == store.community_id,
            a.id.not_in(central),
            or_(tagged.c.n.is_not(None), amplified.c.n.is_not(None)),
        )
    )
    return q


def members(
    store: Store, settings: Settings, *, platform: Platform | None = None, limit: int | None = None
) -> Directory:
    """The directory, the most recently seen first."""
    a = m.Account
    with store.engine.connect() as conn:
        central = sql.central_account_ids(conn, store.community_id)
        q = _member_query(store, settings, central)
        if platform is not None:
            q = q.where(a.platform == platform.value)
        rows = conn.execute(q.order_by(a.last_seen.desc(), a.id)).all()
    listed: list[Member] = []
    opted_out = blocked = 0
    for r in rows:
        if r.consent == sql.OUT:
            opted_out += 1
            continue
        if r.blocked:
            blocked += 1
            continue
        if limit is None or len(listed) < limit:
            listed.append(_member(r))
    return Directory(listed, total=len(rows), opted_out=opted_out, blocked=blocked)


def _member(r: Row[*tuple[Any, ...]]) -> Member:
    return Member(
        platform=r.platform,
        handle=r.handle,
        display_name=r.display_name,
        url=r.url,
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        hashtag_posts=int(r.hashtag_posts),
        amplified=int(r.amplified),
        consent=r.consent,
        organisation=bool(r.is_org),
        organisation_source=r.org_source if r.is_org else None,
        follows_central=r.follows_central,
    )


def export_csv(directory: Directory, path: Path, mode: int = files.OWNER_ONLY) -> int:
    """Write the listable members to ``path`` (owner-only unless ``mode`` says otherwise; names
    a spreadsheet would run as formulas stay text); returns how many."""
    rows = ([member.row()[c] for c in COLUMNS] for member in directory.members)
    return files.write_csv(path, COLUMNS, rows, mode)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [{k: files.csv_value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def mark(
    store: Store,
    settings: Settings,
    who: str,
    *,
    organisation: bool,
    curator: str,
    platform: Platform | None = None,
) -> Member:
    """A curator says ``who`` (a handle or an account id) is an organisation, or is not; that
    word wins over the config lists and the platform's flags."""
    settings.curator(curator)  # raises, naming the curators it knows
    a = m.Account
    wanted = who.strip().lstrip("@").casefold()
    with store.engine.connect() as conn:
        central = sql.central_account_ids(conn, store.community_id)
        q = _member_query(store, settings, central)
        q = q.where(
            or_(func.lower(func.ltrim(a.handle, "@")) == wanted, a.platform_account_id == who.strip())
        )
        if platform is not None:
            q = q.where(a.platform == platform.value)
        found = conn.execute(q).all()
    if not found:
        raise DirectoryError(
            f"no member {who!r} in the directory (try the handle as `members list` shows it)"
        )
    if len(found) > 1:
        where = ", ".join(sorted(r.platform for r in found))
        raise DirectoryError(f"{who!r} is a member on several platforms ({where}): add --platform")
    ReachStore(store).mark_organisation(found[0].id, organisation, f"curator:{curator}")
    return members_by_id(store, settings, found[0].id)


def members_by_id(store: Store, settings: Settings, account_pk: int) -> Member:
    a = m.Account
    with store.engine.connect() as conn:
        q = _member_query(store, settings, sql.central_account_ids(conn, store.community_id))
        return _member(conn.execute(q.where(a.id == account_pk)).one())


def summary(directory: Directory) -> str:
    hidden = []
    if directory.opted_out:
        hidden.append(f"{directory.opted_out} opted out")
    if directory.blocked:
        hidden.append(f"{directory.blocked} blocked")
    tail = f" ({', '.join(hidden)}: counted, never listed)" if hidden else ""
    return f"{directory.total} members{tail}"


def table(rows: Sequence[Member]) -> str:
    """The members as a terminal table."""
    head = f"{'PLATFORM':9} {'HANDLE':32} {'POSTS':>5} {'AMPL':>4} {'KIND':13} {'FOLLOWS':7} LAST SEEN"
    lines = [head]
    for x in rows:
        kind = "organisation" if x.organisation else "individual"
        follows = {True: "yes", False: "no", None: "?"}[x.follows_central]
        lines.append(
            f"{x.platform:9} {x.handle[:32]:32} {x.hashtag_posts:>5} {x.amplified:>4} {kind:13} "
            f"{follows:7} {x.last_seen:%Y-%m-%d}"
        )
    return "\n".join(lines)
