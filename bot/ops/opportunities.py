"""The opportunity list as curators work it: add, correct, remove, list, import a file.

Every operation takes the store, the settings, the time and who acts, and returns a `Result`;
the command line and the Telegram console only present it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import SeriesError
from bot.ops import series_messages as say
from bot.ops.result import Result, done, refused, usage
from bot.ops.series_common import not_a_curator, read_input, today
from bot.series.opportunities import Opportunity, OpportunityDraft, OpportunityList, guess_kind
from bot.store.store import Store


@dataclass(frozen=True)
class Added:
    opportunity: Opportunity
    merged: bool  # the link was on the list already; what was new joined that entry
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Imported:
    imported_by: str
    added: list[Opportunity] = field(default_factory=list)
    merged: list[Opportunity] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    today: date
    include_closed: bool
    opportunities: list[Opportunity]


def _deadline(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if text.lower() in ("", "none"):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SeriesError(say.bad_deadline(text)) from None


def _tags(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(t.strip() for t in items if t.strip())


def _warnings(settings: Settings, now: datetime, items: Sequence[Opportunity]) -> tuple[str, ...]:
    day = today(settings, now)
    return tuple(
        say.deadline_passed(o.id, o.deadline, day)
        for o in items
        if o.deadline is not None and o.deadline < day and not o.removed
    )


def _with_warnings(message: str, warnings: Sequence[str]) -> str:
    return "\n".join([message, *warnings])


def add(
    store: Store,
    settings: Settings,
    now: datetime,
    actor: str,
    *,
    title: str,
    url: str,
    kind: str | None = None,
    organisation: str = "",
    deadline: date | str | None = None,
    eligibility: str | Sequence[str] | None = None,
    language: str | None = None,
    source: str = "cli",
) -> Result[Added]:
    """Put an opportunity on the list (the same link twice merges into one entry). Without a
    kind, it is guessed from the title. A deadline already past is added, with a warning."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    try:
        draft = OpportunityDraft(
            title=title,
            url=url,
            kind=(kind or guess_kind(title)).strip().lower(),
            organisation=organisation or "",
            deadline=_deadline(deadline),
            eligibility=_tags(eligibility),
            language=language,
            submitted_by=actor,
            source=source,
        )
        added = OpportunityList(store).add(draft, now)
    except SeriesError as exc:
        return refused(str(exc))
    o = added.opportunity
    warnings = _warnings(settings, now, [o])
    said = say.opportunity_merged(o.id, o.title) if added.merged else say.opportunity_added(o.id, o.title)
    return done(_with_warnings(said, warnings), Added(o, added.merged, warnings))


EDITABLE = ("title", "url", "kind", "organisation", "deadline", "eligibility", "language")


def edit(
    store: Store,
    settings: Settings,
    now: datetime,
    actor: str,
    opportunity_id: int,
    changes: Mapping[str, Any],
) -> Result[Added]:
    """Correct the fields given in ``changes`` (None values are left as they are; a deadline of
    "none" or "" clears it)."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    given = {k: v for k, v in changes.items() if v is not None}
    unknown = [k for k in given if k not in EDITABLE]
    if unknown:
        return usage(f"{unknown[0]}: cannot be edited (expected one of: {', '.join(EDITABLE)})")
    if not given:
        return usage(say.nothing_to_change())
    try:
        if "deadline" in given:
            given["deadline"] = _deadline(given["deadline"])
        if "eligibility" in given:
            given["eligibility"] = _tags(given["eligibility"])
        o = OpportunityList(store).edit(opportunity_id, now, **given)
    except SeriesError as exc:
        return refused(str(exc))
    warnings = _warnings(settings, now, [o])
    return done(_with_warnings(say.opportunity_updated(o.id, o.title), warnings), Added(o, False, warnings))


def remove(
    store: Store, settings: Settings, now: datetime, actor: str, opportunity_id: int
) -> Result[Opportunity]:
    """Take an opportunity off the list for good (the row stays, so its link is not added again)."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    book = OpportunityList(store)
    try:
        if book.get(opportunity_id).removed:
            return refused(say.opportunity_already_removed(opportunity_id))
        o = book.remove(opportunity_id, actor, now)
    except SeriesError as exc:
        return refused(str(exc))
    return done(say.opportunity_removed(o.id, o.title), o)


def listing(
    store: Store, settings: Settings, now: datetime, *, include_closed: bool = False
) -> Result[Listing]:
    """Open opportunities, soonest deadline first; with ``include_closed``, closed and removed ones too."""
    day = today(settings, now)
    items = OpportunityList(store).all(include_removed=include_closed)
    if not include_closed:
        items = [o for o in items if o.is_open(day)]
    soon = settings.series.opportunities.closing_soon_days
    lines = [_line(o, day, soon) for o in items]
    if not lines:
        message = say.no_open_opportunities(include_closed)
    else:
        message = "\n".join([f"{'ID':>5}  {'KIND':11} {'DEADLINE':30} TITLE", *lines])
    return done(message, Listing(day, include_closed, items))


def _line(o: Opportunity, day: date, soon_days: int) -> str:
    if o.removed:
        note = "removed"
    elif o.deadline is None:
        note = "no deadline"
    elif o.deadline < day:
        note = f"closed {o.deadline}"
    else:
        note = f"closes {o.deadline}" + (" (closing soon)" if o.closing_soon(day, soon_days) else "")
    org = f" — {o.organisation}" if o.organisation else ""
    return f"{o.id:>5}  {o.kind:11} {note:30} {o.title}{org}\n{'':>7}{o.url}"


def import_file(
    store: Store, settings: Settings, now: datetime, actor: str, path: str | Path
) -> Result[Imported]:
    """Every opportunity in a YAML file, or none: a file with problems is refused with every
    problem numbered from 1. Each entry records ``actor`` as who submitted it (unless the entry
    names its own submitter) and ``import`` as its source."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    if isinstance(unreadable := read_input(path), Result):
        return unreadable
    try:
        report = OpportunityList(store).import_file(path, submitted_by=actor, now=now)
    except SeriesError as exc:
        return refused(str(exc))
    warnings = _warnings(settings, now, [*report.added, *report.merged])
    lines = [say.imported(len(report.added), len(report.merged), actor)]
    lines += [say.merged_into(o.id, o.title) for o in report.merged]
    return done(
        _with_warnings("\n".join(lines), warnings), Imported(actor, report.added, report.merged, warnings)
    )
