"""The opportunity list as curators work it: add, correct, remove, list, import a file.

Every operation takes the store, the settings, the time and who acts, and returns a `Result`;
the command line and the Telegram console only present it."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from bot.config import Settings
from bot.errors import SeriesError
from bot.ops import series_messages as say
from bot.ops.result import Result, done, refused, usage
from bot.ops.series_common import not_a_curator, read_input, today
from bot.progress import Progress
from bot.series.opportunities import (
    Opportunity,
    OpportunityDraft,
    OpportunityList,
    guess_kind,
    normalize_url,
    read_import_text,
)
from bot.store import models as m
from bot.store.store import Store
from bot.text import URL


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
class DigestUse:
    """One digest edition an opportunity went in (or is going in: ``state`` "intent")."""

    series: str  # the edition: "digest", or "digest/es" for one language of several
    slot: datetime
    platform: str
    state: str  # done | intent | failed | withdrawn…


@dataclass(frozen=True)
class Listing:
    today: date
    include_closed: bool
    opportunities: list[Opportunity]
    digests: dict[int, list[DigestUse]] = field(default_factory=dict)  # by opportunity id, newest first


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
    uses = digests_of(store, settings)
    lines = [_line(o, day, soon, len(uses.get(o.id, []))) for o in items]
    if not lines:
        message = say.no_open_opportunities(include_closed)
    else:
        message = "\n".join([f"{'ID':>5}  {'KIND':11} {'DEADLINE':30} TITLE", *lines])
    shown = {o.id: uses[o.id] for o in items if o.id in uses}
    return done(message, Listing(day, include_closed, items, shown))


def digests_of(store: Store, settings: Settings) -> dict[int, list[DigestUse]]:
    """Which digest editions each opportunity went in, newest first. An edition keeps the parts it
    published (its plan), not a list of entries, so the entries are read back from the links in
    those parts, each matched on the key the list itself uses (the same link twice is one entry)."""
    names = [r.name for r in settings.series.schedule if r.kind == "digest"]
    if not names:
        return {}
    p, o = m.Publication, m.Opportunity
    edition = or_(*(or_(p.series == n, p.series.startswith(f"{n}/", autoescape=True)) for n in names))
    with store.engine.connect() as conn:
        keys = dict(conn.execute(select(o.url_key, o.id).where(o.community_id == store.community_id)).all())
        rows = conn.execute(
            select(p.series, p.slot, p.platform, p.state, p.plan)
            .where(p.community_id == store.community_id, edition, p.plan.is_not(None))
            .order_by(p.slot.desc(), p.series, p.platform)
        ).all()
    uses: dict[int, list[DigestUse]] = {}
    for r in rows:
        for opportunity_id in _entries(r.plan, keys):
            uses.setdefault(opportunity_id, []).append(DigestUse(r.series, r.slot, r.platform, r.state))
    return uses


def _entries(plan: str, keys: Mapping[str, int]) -> list[int]:
    try:
        parts = json.loads(plan)
    except ValueError:
        return []
    found: dict[int, None] = {}
    for part in parts if isinstance(parts, list) else []:
        for url in URL.findall(html.unescape(str(part))):
            try:
                key = normalize_url(url)
            except SeriesError:
                continue
            if key in keys:
                found[keys[key]] = None
    return list(found)


def _line(o: Opportunity, day: date, soon_days: int, digests: int = 0) -> str:
    if o.removed:
        note = "removed"
    elif o.deadline is None:
        note = "no deadline"
    elif o.deadline < day:
        note = f"closed {o.deadline}"
    else:
        note = f"closes {o.deadline}" + (" (closing soon)" if o.closing_soon(day, soon_days) else "")
    org = f" — {o.organisation}" if o.organisation else ""
    went = f" (in {digests} digest edition{'s' if digests != 1 else ''})" if digests else ""
    return f"{o.id:>5}  {o.kind:11} {note:30} {o.title}{org}{went}\n{'':>7}{o.url}"


MAX_UPLOAD_BYTES = 256 * 1024  # a list of a few hundred opportunities; a bigger upload is refused unread


def import_file(
    store: Store,
    settings: Settings,
    now: datetime,
    actor: str,
    path: str | Path,
    progress: Progress | None = None,
) -> Result[Imported]:
    """Every opportunity in a YAML file, or none: a file with problems is refused with every
    problem numbered from 1. Each entry records ``actor`` as who submitted it (unless the entry
    names its own submitter) and ``import`` as its source. ``progress`` hears of each entry."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    if isinstance(unreadable := read_input(path), Result):
        return unreadable
    return _import(store, settings, now, actor, unreadable, str(path), progress)


def import_upload(
    store: Store, settings: Settings, now: datetime, actor: str, data: bytes, name: str = "upload"
) -> Result[Imported]:
    """`import_file` for a file sent from a browser: untrusted bytes, so a size cap before
    anything is read, UTF-8 text only (a byte-order mark is allowed), no NUL; the problems name
    the file by the last part of ``name`` as sent, never a path on this host."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    shown = _upload_name(name)
    if len(data) > MAX_UPLOAD_BYTES:
        return usage(say.upload_too_big(shown, len(data), MAX_UPLOAD_BYTES))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return usage(f"{shown}: not a text file in UTF-8")
    if "\x00" in text:
        return usage(f"{shown}: not a text file (it holds NUL bytes)")
    return _import(store, settings, now, actor, text, shown)


def _upload_name(name: str) -> str:
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in last if c.isprintable()).strip()
    return cleaned[:80] or "upload"


def _import(
    store: Store,
    settings: Settings,
    now: datetime,
    actor: str,
    text: str,
    where: str,
    progress: Progress | None = None,
) -> Result[Imported]:
    try:
        drafts = read_import_text(text, where, submitted_by=actor)
        report = OpportunityList(store).import_drafts(drafts, now, progress)
    except SeriesError as exc:
        return refused(str(exc))
    warnings = _warnings(settings, now, [*report.added, *report.merged])
    lines = [say.imported(len(report.added), len(report.merged), actor)]
    lines += [say.merged_into(o.id, o.title) for o in report.merged]
    return done(
        _with_warnings("\n".join(lines), warnings), Imported(actor, report.added, report.merged, warnings)
    )
