"""What curators ask of a conference day or a chat once it is on: preview, hold or release a day's
highlights, the report after the conference (and its CSV, chart and web page), a chat's recap.
Each operation returns a Result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.chats.recap import Recap, build_recap, to_html, to_markdown
from bot.chats.runner import answers_of
from bot.clock import Clock
from bot.conference import daily
from bot.conference.highlights import compose_highlights
from bot.conference.model import ConferenceView, conferences
from bot.conference.report import ConferenceReport, conference_report, to_csv
from bot.config import Settings
from bot.domain import Platform, TextLimits, normalize_tag
from bot.errors import ConfigError
from bot.ops.chats import get_chat
from bot.ops.result import Result, done, refused, usage
from bot.series.markup import Markup
from bot.series.publisher import Publisher
from bot.store.store import Store


@dataclass(frozen=True)
class Preview:
    conference: str
    day: date
    slot: datetime
    parts: dict[str, list[str]]  # platform -> the parts it would get
    # platform -> where that day's thread stands there ("held", "done", "empty"…); absent: not yet
    states: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "conference": self.conference,
            "day": self.day.isoformat(),
            "slot": self.slot.isoformat(),
            "parts": self.parts,
            "states": self.states,
        }


def _conference(store: Store, tag: str) -> ConferenceView | None:
    key = normalize_tag(tag)
    with store.engine.connect() as conn:
        return next((c for c in conferences(conn, store.community_id) if c.tag == key), None)


def _day(conference: ConferenceView, text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--day must be a date like {conference.starts_on}, not {text!r}") from None
    if not conference.starts_on <= day <= conference.ends_on:
        raise ValueError(
            f"{day} is not a day of #{conference.tag} ({conference.starts_on} to {conference.ends_on})"
        )
    return day


def preview_highlights(
    store: Store, settings: Settings, tag: str, day: str, platforms: Mapping[Platform, tuple[TextLimits, str]]
) -> Result[Preview]:
    """Exactly what each platform (its limits and markup) would get for ``day``'s highlights."""
    conference = _conference(store, tag)
    if conference is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    try:
        which = _day(conference, day)
    except ValueError as exc:
        return usage(str(exc))
    items = daily.day_items(store, conference, which)
    parts = {
        p.value: compose_highlights(
            conference=conference.name,
            tag=conference.tag,
            day=which,
            day_number=(which - conference.starts_on).days + 1,
            items=items,
            limits=limits,
            markup=Markup(markup),
            consent_mode=settings.community.consent,
        )
        for p, (limits, markup) in platforms.items()
    }
    slot = daily.slot_of(conference, which)
    count = max((len(v) for v in parts.values()), default=0)
    message = (
        f"{conference.name}, {which}: nothing approved to show yet."
        if not count
        else f"{conference.name}, {which}: {count} part{'s' if count != 1 else ''} "
        f"at {slot:%Y-%m-%d %H:%M} UTC."
    )
    states = {p.value: state for p, state in daily.states(store, conference, which).items()}
    return done(message, Preview(conference.name, which, slot, parts, states))


def _curators_day(
    store: Store, settings: Settings, tag: str, day: str, by: str
) -> tuple[ConferenceView, date] | Result[Any]:
    """The conference and the day a curator named, or why not."""
    try:
        settings.curator(by)
    except ConfigError as exc:
        return usage(str(exc))
    conference = _conference(store, tag)
    if conference is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    try:
        return conference, _day(conference, day)
    except ValueError as exc:
        return usage(str(exc))


def hold_highlights(
    store: Store, settings: Settings, clock: Clock, tag: str, day: str, platforms: list[Platform], *, by: str
) -> Result[list[Platform]]:
    found = _curators_day(store, settings, tag, day, by)
    if isinstance(found, Result):
        return found
    conference, which = found
    publisher = Publisher(store, {}, clock, worker=f"hold:{by}")
    held = daily.hold(publisher, conference, which, platforms, by)
    if not held:
        return refused(f"the highlights of {which} were already published or held")
    return done(f"The highlights of {which} are held on {', '.join(p.value for p in held)}.", held)


def release_highlights(
    store: Store, settings: Settings, clock: Clock, tag: str, day: str, platforms: list[Platform], *, by: str
) -> Result[list[Platform]]:
    """Let a held day's highlights go out after all, at their time (or at once, if it has come
    and the publisher's grace is not over)."""
    found = _curators_day(store, settings, tag, day, by)
    if isinstance(found, Result):
        return found
    conference, which = found
    if clock.now() >= daily.slot_of(conference, which) + daily.GRACE:
        return refused(f"the highlights of {which} were due long ago: they will not go out now")
    released = daily.release(store, conference, which, platforms)
    if not released:
        return refused(f"the highlights of {which} are not held")
    return done(f"The highlights of {which} will go out on {', '.join(p.value for p in released)}.", released)


def report(store: Store, settings: Settings, tag: str) -> Result[ConferenceReport]:
    conference = _conference(store, tag)
    if conference is None:
        return refused(f"no conference #{normalize_tag(tag)}")
    found = conference_report(store, conference, settings.community.consent)
    return done(f"{conference.name}: {found.posts} posts by {found.authors} members.", found)


def report_csv(found: ConferenceReport) -> str:
    """The figures and the top posts as one CSV file (no cell a spreadsheet runs)."""
    return to_csv(found)


def report_chart(found: ConferenceReport) -> bytes:
    """The posts day by day, drawn as a PNG (matplotlib: callers may want it in a child process)."""
    from bot.conference import report_pages

    return report_pages.png(found)


def report_page(found: ConferenceReport, chart: bytes | None = None) -> str:
    """The report as one self-contained web page, with the chart when one is given."""
    from bot.conference import report_pages

    return report_pages.html_page(found, chart)


def recap(store: Store, settings: Settings, chat_id: int) -> Result[Recap]:
    chat = get_chat(store, chat_id)
    if chat is None:
        return refused(f"no chat #{chat_id}")
    found = build_recap(chat, answers_of(store, chat), settings.community.consent)
    return done(f"Chat #{chat_id}: {found.answers} answers collected.", found)


@dataclass(frozen=True)
class Transcript:
    """A chat's recap as a file: its name, media type and text (member text made inert)."""

    name: str
    media_type: str
    text: str


#: The transcripts a recap is exported as: kind -> (file extension, media type).
TRANSCRIPTS = {"markdown": ("md", "text/markdown"), "html": ("html", "text/html")}


def transcript(store: Store, settings: Settings, chat_id: int, kind: str) -> Result[Transcript]:
    """The recap of chat ``chat_id`` as Markdown or as HTML for the website."""
    if kind not in TRANSCRIPTS:
        return usage(f"a transcript is {' or '.join(TRANSCRIPTS)}, not {kind!r}")
    found = recap(store, settings, chat_id)
    if found.data is None:
        return Result(found.outcome, found.message)
    extension, media_type = TRANSCRIPTS[kind]
    text = to_markdown(found.data) if kind == "markdown" else to_html(found.data)
    name = f"chat-{chat_id}-{found.data.chat.tag}.{extension}"
    return done(found.message, Transcript(name, media_type, text))
