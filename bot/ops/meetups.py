"""Meet-ups at a conference, written once for every face: add (its announcement becomes a slot
of the publishing path), list with each platform's state, remove. Each returns a Result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.conference.meetups import DEFAULT_LEAD, MeetupView, meetups
from bot.conference.model import ConferenceView, conferences
from bot.config import Settings
from bot.domain import normalize_tag
from bot.errors import ConfigError
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store

LONGEST_TEXT = 300  # place and ribbon: a sentence each, not an essay


@dataclass(frozen=True)
class MeetupFields:
    tag: str
    at: str  # local "2027-10-17 18:30" in the conference's time zone
    place: str
    ribbon: str
    announce: str | None = None  # local time of the announcement; DEFAULT_LEAD before by default


class _Bad(ValueError):
    """What a curator gave is not usable: the message says which and why."""


def _local(text: str, zone: ZoneInfo, what: str) -> datetime:
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{what} must be a local time like 2027-10-17 18:30, not {text!r}") from None
    if naive.tzinfo is not None:
        raise _Bad(f"{what} is a local time in the conference's zone: leave the offset out")
    local = naive.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise _Bad(f"{text} does not exist in {zone.key} (a clock change): pick another time")
    return local.astimezone(UTC)


def _text(value: str, what: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise _Bad(f"the meet-up needs {what}")
    if len(cleaned) > LONGEST_TEXT:
        raise _Bad(f"{what} is {len(cleaned)} characters: at most {LONGEST_TEXT}")
    return cleaned


def _conference(store: Store, tag: str) -> ConferenceView | None:
    key = normalize_tag(tag)
    with store.engine.connect() as conn:
        return next((c for c in conferences(conn, store.community_id) if c.tag == key), None)


def add_meetup(
    store: Store, settings: Settings, fields: MeetupFields, *, by: str, now: datetime
) -> Result[MeetupView]:
    try:
        settings.curator(by)
    except ConfigError as exc:
        return usage(str(exc))
    conference = _conference(store, fields.tag)
    if conference is None:
        return refused(f"no conference #{normalize_tag(fields.tag)} (add it with `conferences add`)")
    try:
        at = _local(fields.at, conference.zone, "--at")
        announce = _local(fields.announce, conference.zone, "--announce") if fields.announce else None
        place, ribbon = _text(fields.place, "a place (--place)"), _text(fields.ribbon, "--ribbon")
    except _Bad as exc:
        return usage(str(exc))
    if at <= now:
        return usage(f"the meet-up would be in the past ({conference.local_day(at)})")
    announce = announce or max(now, at - DEFAULT_LEAD)
    if not now <= announce < at:
        return usage("--announce must be between now and the meet-up")
    with store.engine.begin() as conn:
        meetup_id = conn.execute(
            m.table(m.Meetup)
            .insert()
            .values(
                community_id=store.community_id,
                conference_id=conference.id,
                at=at,
                announce_at=announce,
                place=place,
                ribbon=ribbon,
                created_by=by,
                created_at=now,
            )
            .returning(m.Meetup.id)
        ).scalar_one()
    view = next(x for x in meetups(store) if x.id == meetup_id)
    return done(
        f"Meet-up #{view.id} at {conference.name} (#{conference.tag}): {_when(view, view.at)}, {view.place}. "
        f"Announced {_when(view, view.announce_at)} on every platform.",
        view,
    )


def list_meetups(store: Store, *, tag: str | None = None) -> Result[list[MeetupView]]:
    found = [x for x in meetups(store) if tag is None or x.tag == normalize_tag(tag)]
    if not found:
        return done("No meet-ups scheduled (add one with `conferences meetup add`).", found)
    return done(f"{len(found)} meet-up{'s' if len(found) != 1 else ''}.", found)


def remove_meetup(
    store: Store, settings: Settings, meetup_id: int, *, by: str, now: datetime
) -> Result[None]:
    """Call a meet-up off: an announcement not yet made is never made."""
    try:
        settings.curator(by)
    except ConfigError as exc:
        return usage(str(exc))
    x = m.Meetup
    with store.engine.begin() as conn:
        res = conn.execute(
            update(x)
            .where(x.id == meetup_id, x.community_id == store.community_id, x.removed_at.is_(None))
            .values(removed_at=now, removed_by=by)
        )
    if not res.rowcount:
        return refused(f"no meet-up #{meetup_id} on the schedule")
    return done(f"Meet-up #{meetup_id} called off: its announcement will not go out.")


def _when(view: MeetupView, at: datetime) -> str:
    return f"{view.local(at):%a %d %b %H:%M} ({view.timezone})"
