"""The community in numbers: the reach report for a period, the member directory and its marks,
and one round of fetching the numbers from the platforms.

Periods are read as people write them (``yesterday``, ``30d``, ``last-month``, ``2026-03``,
``2026-03-01``); days are UTC days and the last day of a period is included."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot import files
from bot.clock import Clock
from bot.config import Settings
from bot.domain import Platform
from bot.errors import DirectoryError
from bot.ops import series_messages as say
from bot.ops.result import Outcome, Result, done, refused, usage
from bot.ops.series_common import not_a_curator, write_all, write_failed
from bot.ports import PlatformAdapter
from bot.progress import Progress
from bot.report import directory
from bot.report.model import Report
from bot.report.refresh import PlatformRefresh
from bot.store.store import Store

DAY_WORDS = "2026-03-01, 2026-03, today, yesterday, 30d, 4w, this-week, last-week, this-month, last-month"

_AGO = re.compile(r"(\d{1,4})\s*([dw])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Days:
    """What one date word means: its first and last day (both included), or a moment; ``closed``
    when it names a whole span that is over (a month, a week, a day) rather than a starting point."""

    first: date | datetime
    last: date | datetime
    closed: bool


def _month_last(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def read_days(text: str, now: datetime) -> Days:
    """``text`` as a span of days, counted from ``now`` (UTC). ValueError saying what is understood."""
    word = text.strip().lower()
    today = now.astimezone(UTC).date()
    if word == "today":
        return Days(today, today, False)
    if word == "yesterday":
        day = today - timedelta(days=1)
        return Days(day, day, True)
    if word in ("this-week", "last-week"):
        monday = (
            today
            - timedelta(days=today.weekday())
            - (timedelta(weeks=1) if word == "last-week" else timedelta())
        )
        return Days(monday, monday + timedelta(days=6), word == "last-week")
    if word in ("this-month", "last-month"):
        first = today.replace(day=1)
        if word == "last-month":
            first = (first - timedelta(days=1)).replace(day=1)
            return Days(first, _month_last(first), True)
        return Days(first, today, False)
    if m := _AGO.fullmatch(word):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        return Days(today - timedelta(days=days), today, False)
    if m := _MONTH.fullmatch(word):
        try:
            first = date(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise ValueError(f"cannot read {text!r} as a date: try {DAY_WORDS}") from None
        return Days(first, _month_last(first), True)
    try:
        if len(word) == 10:
            day = date.fromisoformat(word)
            return Days(day, day, False)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a date: try {DAY_WORDS}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Days(moment, moment, False)


def check_days(text: str) -> str:
    """``text`` if it reads as a date word (for an argument parser); ValueError otherwise."""
    read_days(text, datetime.now(UTC))
    return text


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time(), UTC)


def _end(value: date | datetime) -> datetime:
    """The end (exclusive) of a last day: the midnight after it; a moment is its own end."""
    if isinstance(value, datetime):
        return value
    return _start(value) + timedelta(days=1)


def moments(since: str | None, until: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The bounds a filter means by two date words (either may be left out: no bound): from the
    start of the first day ``since`` names (included) to the end of the last day ``until`` names
    (excluded). ValueError for a word that cannot be read, or bounds the wrong way round."""
    start = _start(read_days(since, now).first) if since else None
    end = _end(read_days(until, now).last) if until else None
    if start is not None and end is not None and end <= start:
        raise ValueError(say.backwards_period())
    return start, end


@dataclass(frozen=True)
class Period:
    since_text: str  # as typed ("" when the default)
    until_text: str
    since: datetime  # included
    until: datetime  # excluded: the midnight after the last day
    first_day: date
    last_day: date  # included
    so_far: bool  # the period runs to now: today is not over

    @property
    def label(self) -> str:
        typed = self.since_text or "last-month (the default: the last full month)"
        return say.period_line(typed, self.until_text, self.first_day, self.last_day, so_far=self.so_far)


def period(since: str | None, until: str | None, now: datetime) -> Period:
    """The report period for ``--since`` and ``--until`` as typed. Neither: the last full month.
    A closed span alone (``last-month``, ``yesterday``, ``2026-03``) is that span; a starting
    point alone (``2026-03-01``, ``30d``) runs to now. ValueError for what cannot be read, or a
    period that ends before it starts."""
    if not since and not until:
        span = read_days("last-month", now)
        start, end = _start(span.first), _end(span.last)
    else:
        if not since:
            raise ValueError(
                "give --since too: the first day of the period (or leave both out for last month)"
            )
        first = read_days(since, now)
        start = _start(first.first)
        if until:
            end = _end(read_days(until, now).last)
        elif first.closed:
            end = _end(first.last)
        else:
            end = now
    if end <= start:
        raise ValueError(say.backwards_period())
    so_far = end >= now
    end = min(end, now)
    if end <= start:
        raise ValueError(f"the period starts after now ({now:%Y-%m-%d %H:%M} UTC): nothing to count yet")
    last_day = (end - timedelta(microseconds=1)).date()
    return Period(since or "", until or "", start, end, start.date(), last_day, so_far)


@dataclass(frozen=True)
class ReportMade:
    period: Period
    report: Report
    written: list[str] = field(default_factory=list)


def report(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    since: str | None = None,
    until: str | None = None,
    csv: Path | None = None,
    chart: Path | None = None,
    html: Path | None = None,
    mode: int = files.OWNER_ONLY,
    progress: Progress | None = None,
) -> Result[ReportMade]:
    """The reach report for the period typed, as a table, and the files asked for: written all
    or none (an output that cannot be written is a usage result naming it; nothing is left)."""
    from bot.report import render
    from bot.report.compute import build_report

    try:
        p = period(since, until, now)
    except ValueError as exc:
        return usage(str(exc))
    built = build_report(store, settings, p.since, p.until, progress=progress)
    outputs: list[tuple[Path, str | bytes]] = []
    if csv is not None:
        outputs.append((csv, files.csv_text(render.CSV_HEADER, built.rows())))
    png = None
    if chart is not None or html is not None:
        from bot.report import chart as drawing

        png = drawing.png(built)
    if chart is not None:
        outputs.append((chart, png or b""))
    if html is not None:
        outputs.append((html, render.html_page(built, png)))
    try:
        write_all(outputs, mode)
    except OSError as exc:
        return write_failed(exc)
    written = [str(path) for path, _ in outputs]
    lines = [p.label, "", render.terminal(built)]
    if written:
        lines += ["", say.wrote(written)]
    return done("\n".join(lines), ReportMade(p, built, written))


def csv_text(made: ReportMade) -> str:
    """Every figure of a report made, as the rows ``--csv`` writes (no cell a spreadsheet runs)."""
    from bot.report import render

    return files.csv_text(render.CSV_HEADER, made.report.rows())


def chart_png(made: ReportMade) -> bytes:
    """The weekly posts, authors and followers of a report made, drawn as ``--chart`` draws them."""
    from bot.report import chart as drawing

    return drawing.png(made.report)


# -- the member directory ----------------------------------------------------------------------


def members(
    store: Store, settings: Settings, *, platform: Platform | None = None, limit: int | None = 100
) -> Result[directory.Directory]:
    """Listable members, the most recently seen first (opted-out and blocked ones are counted,
    never listed)."""
    if limit is not None and limit < 1:
        return usage("--limit: give at least 1 (leave it out for the first 100)")
    found = directory.members(store, settings, platform=platform, limit=limit)
    table = [directory.table(found.members), ""] if found.members else []
    return done("\n".join([*table, directory.summary(found)]), found)


@dataclass(frozen=True)
class Exported:
    path: str
    count: int
    total: int


def export_members(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    platform: Platform | None = None,
    mode: int = files.OWNER_ONLY,
) -> Result[Exported]:
    """The directory as a CSV file (no cell a spreadsheet would run as a formula)."""
    found = directory.members(store, settings, platform=platform)
    rows = ([member.row()[c] for c in directory.COLUMNS] for member in found.members)
    try:
        write_all([(path, files.csv_text(directory.COLUMNS, rows))], mode)
    except OSError as exc:
        return write_failed(exc)
    count = len(found.members)
    return done(
        say.exported(count, str(path), directory.summary(found)), Exported(str(path), count, found.total)
    )


def mark(
    store: Store,
    settings: Settings,
    actor: str,
    who: str,
    *,
    organisation: bool,
    platform: Platform | None = None,
) -> Result[directory.Member]:
    """A curator says ``who`` (a handle or an account id) is an organisation, or is not; that word
    wins over the config lists and the platform's flags."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    try:
        member = directory.mark(
            store, settings, who, organisation=organisation, curator=actor, platform=platform
        )
    except DirectoryError as exc:
        return refused(str(exc))
    return done(say.marked(member.handle, member.platform, member.organisation), member)


# -- refresh -------------------------------------------------------------------------------------


async def refresh(
    store: Store,
    adapters: Mapping[Platform, PlatformAdapter],
    settings: Settings,
    clock: Clock,
    progress: Progress | None = None,
) -> Result[dict[str, PlatformRefresh]]:
    """One round of fetching engagement, follower counts, follows and the members lists from
    each platform (adapters started by the caller). No platform configured is a usage result;
    a platform that stopped early makes the result refused, with the others' figures kept."""
    from bot.report.refresh import Refresher

    if not adapters:
        return usage(say.nothing_to_refresh())
    results = await Refresher(store, adapters, settings, clock, progress=progress).run_once()
    lines = []
    for platform, r in results.items():
        said = [f"{r.engagement} posts' engagement", f"{r.follows_checked} accounts' follows"]
        if r.followers is not None:
            said.append(f"{r.followers:,} followers")
        if r.list_sync is not None:
            s = r.list_sync
            said.append(
                f"members list +{s.added} -{s.removed}"
                + (f" ({len(s.pending)} waiting)" if s.pending else "")
            )
        line = f"{platform.value}: " + ", ".join(said)
        if r.skipped:
            line += f"; not available here: {', '.join(r.skipped)}"
        if r.error:
            line += f"; stopped early: {r.error}"
        lines.append(line)
    data = {p.value: r for p, r in results.items()}
    if any(r.error for r in results.values()):
        return Result(Outcome.REFUSED, "\n".join(lines), data)
    return done("\n".join(lines), data)
