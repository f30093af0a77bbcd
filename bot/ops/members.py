"""Finding members: a search by handle or name across the platforms, each person with her consent,
linked accounts, organisation mark, freeze and block. What a curator then does to a member
(freeze, block, mark, record an opt-out) is the existing operation in `bot.ops.safety` and
`bot.ops.report`; ``ref`` on each account is what they take to name exactly that account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from bot.config import Settings
from bot.links import safe_url
from bot.ops.result import Result, done, usage
from bot.report import sql
from bot.store import models as m
from bot.store.store import Store

MAX_RESULTS = 200


@dataclass(frozen=True)
class LinkedAccount:
    ref: str  # "platform:account id": names this account to freeze, block or mark it
    platform: str
    handle: str
    name: str  # the display name as the platform gave it (member-supplied: show it escaped)
    url: str | None  # the profile, only when it is an http(s) link
    consent: str | None  # what holds for the account: "out", "in" or None (unsaid)
    consent_source: str | None
    organisation: bool  # counted as an organisation (a curator's mark, the config, the platform)
    organisation_source: str | None  # curator:NAME, config, platform; None for an individual
    frozen_by: str | None
    blocked: bool


@dataclass(frozen=True)
class MemberView:
    person: int  # the person's key (her lowest account id): stable across searches
    name: str
    consent: str | None  # the person's standing: "out" if any account is out, else "in" if any is
    frozen: bool
    blocked: bool
    organisation: bool
    accounts: tuple[LinkedAccount, ...]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(store: Store, settings: Settings, text: str, *, limit: int = 50) -> Result[list[MemberView]]:
    """Members whose handle, name or account id contains ``text`` (any case, literally: ``%`` and
    ``_`` are themselves), each with every account linked to hers, the most recently seen first."""
    # no NUL: PostgreSQL refuses it in text, and no handle or name holds one
    wanted = " ".join(text.replace("\x00", "").split()).lstrip("@").casefold()
    if not wanted:
        return usage("name a member to look for: part of a handle or a name")
    if not 1 <= limit <= MAX_RESULTS:
        return usage(f"--limit: give 1 to {MAX_RESULTS}")
    a = m.Account
    person = func.coalesce(a.person_id, a.id)
    pattern = _like(wanted)
    matches = or_(
        func.lower(a.handle).like(pattern, escape="\\"),
        func.lower(a.display_name).like(pattern, escape="\\"),
        func.lower(a.platform_account_id).like(pattern, escape="\\"),
    )
    is_org, org_source = sql.organisation(settings)
    with store.engine.connect() as conn:
        central = sql.central_account_ids(conn, store.community_id)
        found = conn.execute(
            select(person.label("person"), func.max(a.last_seen).label("seen"))
            .where(a.community_id == store.community_id, matches, a.id.not_in(central))
            .group_by(person)
            .order_by(func.max(a.last_seen).desc(), person)
            .limit(limit)
        ).all()
        people = [int(r.person) for r in found]
        rows = conn.execute(
            select(
                a.id,
                a.platform,
                a.platform_account_id,
                a.handle,
                a.display_name,
                a.url,
                a.consent,
                a.consent_source,
                a.own_consent,
                a.frozen_by,
                a.frozen_at,
                a.blocked,
                person.label("person"),
                is_org.label("is_org"),
                org_source.label("org_source"),
            )
            .where(a.community_id == store.community_id, person.in_(people))
            .order_by(a.platform, a.id)
        ).all()
    by_person: dict[int, list[Any]] = {p: [] for p in people}
    for r in rows:
        by_person[int(r.person)].append(r)
    views = [_view(p, by_person[p]) for p in people if by_person[p]]
    if not views:
        return done(f"No member matches {text.strip()!r}.", [])
    return done("\n".join(_describe(v) for v in views), views)


def _view(person: int, rows: list[Any]) -> MemberView:
    accounts = tuple(
        LinkedAccount(
            ref=f"{r.platform}:{r.platform_account_id}",
            platform=r.platform,
            handle=r.handle,
            name=r.display_name or "",
            url=safe_url(r.url),
            consent=r.consent,
            consent_source=r.consent_source,
            organisation=bool(r.is_org),
            organisation_source=r.org_source if r.is_org else None,
            frozen_by=r.frozen_by if r.frozen_at is not None else None,
            blocked=bool(r.blocked),
        )
        for r in rows
    )
    said = {r.consent for r in rows} | {r.own_consent for r in rows}
    consent = "out" if "out" in said else ("in" if "in" in said else None)
    name = next((r.display_name for r in rows if r.display_name), rows[0].handle)
    return MemberView(
        person=person,
        name=name,
        consent=consent,
        frozen=any(r.frozen_at is not None for r in rows),
        blocked=any(r.blocked for r in rows),
        organisation=any(x.organisation for x in accounts),
        accounts=accounts,
    )


def _describe(v: MemberView) -> str:
    marks = [
        {"out": "opted out", "in": "opted in"}.get(v.consent or "", "consent unsaid"),
        *(["frozen"] if v.frozen else []),
        *(["blocked"] if v.blocked else []),
        "organisation" if v.organisation else "individual",
    ]
    lines = [f"{v.name} — {', '.join(marks)}"]
    lines += [f"  {x.platform:9} {x.handle}  ({x.ref})" for x in v.accounts]
    return "\n".join(lines)


__all__ = ["LinkedAccount", "MemberView", "search"]
