"""Conferences and their champions, written once for the CLI, the Telegram console and the web:
add, edit, list, remove a conference; name or remove a champion. Each returns a Result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.conference.model import DEFAULT_SETTINGS, MATCHES, ConferenceView, conferences
from bot.config import Settings
from bot.domain import Platform, normalize_tag
from bot.errors import ConfigError
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store


@dataclass(frozen=True)
class ConferenceFields:
    """What a curator gives for a conference; None leaves a field as it is (on edit)."""

    name: str | None = None
    tag: str | None = None
    starts_on: str | None = None
    ends_on: str | None = None
    timezone: str | None = None
    match: str | None = None
    highlights_at: str | None = None


class _Bad(ValueError):
    """A field a curator gave is not usable: the message says which and why."""


def _curator(settings: Settings, name: str) -> str | None:
    try:
        settings.curator(name)
    except ConfigError as exc:
        return str(exc)
    return None


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{what} must be a date like 2027-10-16, not {text!r}") from None


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """The row's values from checked fields; raises _Bad with a sentence for the curator."""
    if not values["name"].strip():
        raise _Bad("the conference needs a name")
    tag = normalize_tag(values["tag"].strip())
    if not tag or not tag.replace("_", "").isalnum():
        raise _Bad(f"{values['tag']!r} is not a hashtag")
    starts = (
        _day(values["starts_on"], "--from") if isinstance(values["starts_on"], str) else values["starts_on"]
    )
    ends = _day(values["ends_on"], "--to") if isinstance(values["ends_on"], str) else values["ends_on"]
    if ends < starts:
        raise _Bad(f"the conference ends ({ends}) before it starts ({starts})")
    if (ends - starts).days > 31:
        raise _Bad("a conference window is at most 32 days")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"{values['timezone']!r} is not a time zone (like America/Chicago)") from None
    settings = dict(values["settings"])
    if settings["match"] not in MATCHES:
        raise _Bad(f"--match must be one of {', '.join(MATCHES)}, not {settings['match']!r}")
    try:
        settings["highlights_at"] = time.fromisoformat(settings["highlights_at"]).strftime("%H:%M")
    except ValueError:
        raise _Bad(
            f"--highlights-at must be a local time like 20:00, not {settings['highlights_at']!r}"
        ) from None
    return {
        "name": values["name"].strip(),
        "tag": tag,
        "starts_on": starts,
        "ends_on": ends,
        "timezone": values["timezone"],
        "settings": json.dumps(settings, sort_keys=True),
    }


def _find(store: Store, tag: str) -> ConferenceView | None:
    key = normalize_tag(tag)
    with store.engine.connect() as conn:
        return next((c for c in conferences(conn, store.community_id) if c.tag == key), None)


def list_conferences(store: Store) -> Result[list[ConferenceView]]:
    with store.engine.connect() as conn:
        found = conferences(conn, store.community_id)
    if not found:
        return done("No conferences yet (add one with `conferences add`).", found)
    return done(f"{len(found)} conference{'s' if len(found) != 1 else ''}.", found)


def add_conference(
    store: Store, settings: Settings, fields: ConferenceFields, *, by: str, now: datetime
) -> Result[ConferenceView]:
    if (why := _curator(settings, by)) is not None:
        return usage(why)
    missing = [k for k in ("name", "tag", "starts_on", "ends_on", "timezone") if getattr(fields, k) is None]
    if missing:
        return usage("a conference needs " + ", ".join(missing))
    extra = {k: v for k in ("match", "highlights_at") if (v := getattr(fields, k)) is not None}
    try:
        row = _check({**fields.__dict__, "settings": {**DEFAULT_SETTINGS, **extra}})
    except _Bad as exc:
        return usage(str(exc))
    c = m.Conference
    with store.engine.begin() as conn:
        old = conn.execute(
            select(c.id, c.removed_at).where(c.community_id == store.community_id, c.tag == row["tag"])
        ).one_or_none()
        if old is not None and old.removed_at is None:
            return refused(f"#{row['tag']} is already a conference; change it with `conferences edit`")
        stamp = {**row, "created_by": by, "updated_at": now, "removed_at": None, "removed_by": None}
        try:
            if old is None:
                conn.execute(
                    m.table(c).insert().values(community_id=store.community_id, created_at=now, **stamp)
                )
            else:  # a removed conference of the same tag comes back with the new fields
                conn.execute(update(c).where(c.id == old.id).values(**stamp))
        except IntegrityError:
            return refused(f"#{row['tag']} was added by someone else just now")
    view = _find(store, row["tag"])
    assert view is not None
    return done(f"Conference {view.name} (#{view.tag}) added: {_span(view)}.", view)


def edit_conference(
    store: Store, settings: Settings, tag: str, fields: ConferenceFields, *, by: str, now: datetime
) -> Result[ConferenceView]:
    if (why := _curator(settings, by)) is not None:
        return usage(why)
    current = _find(store, tag)
    if current is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    given = {k: v for k, v in fields.__dict__.items() if v is not None}
    if not given:
        return usage(
            "nothing to change: give --name, --tag, --from, --to, --timezone, --match or --highlights-at"
        )
    merged_settings = {"match": current.match, "highlights_at": current.highlights_at.strftime("%H:%M")}
    merged_settings |= {k: given.pop(k) for k in ("match", "highlights_at") if k in given}
    values = {
        "name": current.name,
        "tag": current.tag,
        "starts_on": current.starts_on,
        "ends_on": current.ends_on,
        "timezone": current.timezone,
        **given,
        "settings": merged_settings,
    }
    try:
        row = _check(values)
    except _Bad as exc:
        return usage(str(exc))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                update(m.Conference).where(m.Conference.id == current.id).values(updated_at=now, **row)
            )
    except IntegrityError:
        return refused(f"#{row['tag']} is already another conference's tag")
    view = _find(store, row["tag"])
    assert view is not None
    return done(f"Conference {view.name} (#{view.tag}) changed: {_span(view)}.", view)


def remove_conference(store: Store, settings: Settings, tag: str, *, by: str, now: datetime) -> Result[None]:
    if (why := _curator(settings, by)) is not None:
        return usage(why)
    current = _find(store, tag)
    if current is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    with store.engine.begin() as conn:
        conn.execute(
            update(m.Conference)
            .where(m.Conference.id == current.id, m.Conference.removed_at.is_(None))
            .values(removed_at=now, removed_by=by, updated_at=now)
        )
    return done(f"Conference {current.name} (#{current.tag}) removed; its champions lose their role.")


def _span(view: ConferenceView) -> str:
    return f"{view.starts_on} to {view.ends_on} ({view.timezone}), posts matched by {view.match}"


# -- champions -------------------------------------------------------------------------------


def add_champion(
    store: Store, settings: Settings, tag: str, platform: str, handle: str, *, by: str, now: datetime
) -> Result[ConferenceView]:
    """Name a member champion of one conference. The member must have been seen on ``platform``
    (her account is what the role is tied to, so a look-alike handle elsewhere gets nothing)."""
    if (why := _curator(settings, by)) is not None:
        return usage(why)
    try:
        where = Platform(platform)
    except ValueError:
        return usage(f"--platform must be one of {', '.join(p.value for p in Platform)}")
    current = _find(store, tag)
    if current is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    ch = m.ConferenceChampion
    with store.engine.begin() as conn:
        account_id = _account(conn, store.community_id, where, handle)
        if account_id is None:
            return refused(f"no member {handle} seen on {where.value} yet: she needs to have posted once")
        existing = conn.execute(
            select(ch.id, ch.removed_at).where(ch.conference_id == current.id, ch.account_id == account_id)
        ).one_or_none()
        if existing is not None and existing.removed_at is None:
            return refused(f"{handle} is already a champion of #{current.tag}")
        stamp = {"named_by": by, "named_at": now, "removed_by": None, "removed_at": None}
        if existing is None:
            conn.execute(
                m.table(ch)
                .insert()
                .values(
                    community_id=store.community_id, conference_id=current.id, account_id=account_id, **stamp
                )
            )
        else:
            conn.execute(update(ch).where(ch.id == existing.id).values(**stamp))
    view = _find(store, current.tag)
    assert view is not None
    return done(
        f"{handle} is a champion of {current.name} (#{current.tag}): she may approve or reject its posts "
        f"from {current.starts_on} to {current.ends_on}.",
        view,
    )


def remove_champion(
    store: Store, settings: Settings, tag: str, platform: str, handle: str, *, by: str, now: datetime
) -> Result[None]:
    if (why := _curator(settings, by)) is not None:
        return usage(why)
    try:
        where = Platform(platform)
    except ValueError:
        return usage(f"--platform must be one of {', '.join(p.value for p in Platform)}")
    current = _find(store, tag)
    if current is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    ch = m.ConferenceChampion
    with store.engine.begin() as conn:
        account_id = _account(conn, store.community_id, where, handle)
        res = conn.execute(
            update(ch)
            .where(ch.conference_id == current.id, ch.account_id == account_id, ch.removed_at.is_(None))
            .values(removed_by=by, removed_at=now)
        )
    if not res.rowcount:
        return refused(f"{handle} is not a champion of #{current.tag}")
    return done(f"{handle} is no longer a champion of #{current.tag}.")


def _account(conn: Any, community_id: int, platform: Platform, handle: str) -> int | None:
    a = m.Account
    folded = handle.lstrip("@").casefold()
    found = conn.execute(
        select(a.id)
        .where(
            a.community_id == community_id,
            a.platform == platform.value,
            func.lower(a.handle).in_([folded, f"@{folded}"]),
        )
        .order_by(a.id)
        .limit(1)
    ).scalar_one_or_none()
    return int(found) if found is not None else None


def show_conference(store: Store, tag: str) -> Result[ConferenceView]:
    """One conference with its champions, as `/champions TAG` shows it."""
    current = _find(store, tag)
    if current is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    n = len(current.champions)
    return done(f"{current.name} (#{current.tag}): {n} champion{'s' if n != 1 else ''}.", current)


def champion_on(store: Store, platform: Platform, account_id: str) -> str | None:
    """The handle under which the person with ``account_id`` on ``platform`` decides as a
    champion of some conference in force, or None. Only the account she was named with counts;
    what she may decide is the queue's to check (bot.conference.roles.champion_scope)."""
    a, ch, c = m.Account, m.ConferenceChampion, m.Conference
    with store.engine.connect() as conn:
        handle = conn.execute(
            select(a.handle)
            .join(ch, ch.account_id == a.id)
            .join(c, c.id == ch.conference_id)
            .where(
                a.community_id == store.community_id,
                a.platform == platform.value,
                a.platform_account_id == account_id,
                ch.removed_at.is_(None),
                c.removed_at.is_(None),
            )
            .limit(1)
        ).scalar_one_or_none()
    return str(handle) if handle is not None else None
