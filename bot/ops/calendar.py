"""Everything the central account will post in a week or a month, in the community's time zone:
the series' slots with the exact text per platform and language, approved amplifications waiting
for their paced turn with the time they are expected, original posts, conference highlights and
chat posts. What was already written for a slot (the publication's plan) is shown as written;
the rest is composed now, as its slot would compose it with what the database holds today."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Literal

from sqlalchemy import select

from bot.chats.compose import compose_slot
from bot.chats.model import ChatView, view_of
from bot.conference.daily import day_items, days_of, slot_of
from bot.conference.daily import series_of as highlights_series
from bot.conference.highlights import compose_highlights
from bot.conference.model import ConferenceView, conferences
from bot.domain import Platform
from bot.ops import pacing
from bot.ops.result import Result, done, usage
from bot.ports import PlatformCatalog
from bot.series.interviews import QUEUED, SCHEDULED
from bot.series.original_runner import OriginalWriter
from bot.series.originals import APPROVED, PENDING, PUBLISHED, PUBLISHING, OriginalBook, series_of
from bot.series.runner import SeriesRunner
from bot.series.schedule import zone
from bot.store import models as m
from bot.trust.veto import is_frozen

View = Literal["week", "month"]
Kind = Literal["series", "amplification", "original", "highlights", "chat"]


@dataclass(frozen=True)
class Version:
    """What one platform gets, in one language ("" when the item has one language)."""

    platform: Platform
    language: str
    parts: tuple[str, ...]  # what a reader sees, part by part
    fits: bool
    state: str  # planned | waiting | held | a publication's state (intent, done, failed, …)
    note: str = ""


@dataclass(frozen=True)
class Entry:
    at: datetime  # UTC
    local: datetime  # in the community's time zone
    kind: Kind
    title: str
    detail: str
    ref: str  # series name (digest, original:3, chat:2:q1…) or candidate:<id>
    versions: tuple[Version, ...]


@dataclass(frozen=True)
class Calendar:
    view: View
    first_day: date
    last_day: date  # included
    timezone: str
    now: datetime
    frozen: bool
    entries: tuple[Entry, ...]

    def days(self) -> list[tuple[date, list[Entry]]]:
        """Each day of the window with its entries, in time order."""
        n = (self.last_day - self.first_day).days + 1
        out: list[tuple[date, list[Entry]]] = [(self.first_day + timedelta(days=i), []) for i in range(n)]
        index = dict(out)
        for entry in self.entries:
            index.setdefault(entry.local.date(), []).append(entry)
        return out


def window(view: View, day: date) -> tuple[date, date]:
    """The week (Monday to Sunday) or the calendar month holding ``day``: first and last day."""
    if view == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class _Written:
    state: str
    parts: tuple[str, ...]


class _Builder:
    def __init__(
        self, runner: SeriesRunner, catalog: PlatformCatalog, start: datetime, end: datetime
    ) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.store = runner.store
        self.catalog = catalog
        self.start, self.end = start, end
        self.tz = zone(self.settings.series.timezone)
        self.writer = OriginalWriter(self.settings, catalog)
        self.written = self._written()

    def _written(self) -> dict[tuple[str, datetime, Platform], _Written]:
        """Every publication row of a slot in the window: its state and the parts it planned."""
        p = m.Publication
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(p.series, p.slot, p.platform, p.state, p.plan).where(
                    p.community_id == self.store.community_id, p.slot >= self.start, p.slot < self.end
                )
            )
            return {
                (s, at, Platform(pf)): _Written(state, tuple(json.loads(plan) if plan else ()))
                for s, at, pf, state, plan in rows
            }

    def version(
        self, series: str, at: datetime, platform: Platform, language: str, compose: Callable[[], list[str]]
    ) -> Version:
        markup = self.writer.markup(platform)
        limits = self.catalog.limits(platform)
        found = self.written.get((series, at, platform))
        if found is not None:
            parts = tuple(markup.visible(x) for x in found.parts)
            return Version(platform, language, parts, True, found.state)
        try:
            raw = compose()
        except Exception as exc:  # one item that cannot be composed is shown so, the rest go on
            return Version(platform, language, (), False, "planned", f"cannot be composed: {exc}")
        parts = tuple(markup.visible(x) for x in raw)
        measure = markup.measure(limits)
        fits = all(measure(x) <= limits.max_length for x in raw)
        note = "" if parts else "nothing to publish as things stand"
        return Version(platform, language, parts, fits, "planned", note)

    def entry(
        self, at: datetime, kind: Kind, title: str, detail: str, ref: str, versions: Sequence[Version]
    ) -> Entry:
        return Entry(at, at.astimezone(self.tz), kind, title, detail, ref, tuple(versions))

    # -- composing, as each kind's own composer does ---------------------------------------------

    def _interview(self, platform: Platform, text: str | None) -> list[str]:
        return [self.writer.markup(platform).text(text)] if text else []

    def _chat(self, chat: ChatView, key: str, platform: Platform) -> list[str]:
        return compose_slot(chat, key, self.catalog.limits(platform), self.writer.markup(platform))

    def _highlights(self, conf: ConferenceView, day: date, platform: Platform) -> list[str]:
        return compose_highlights(
            conference=conf.name,
            tag=conf.tag,
            day=day,
            day_number=(day - conf.starts_on).days + 1,
            items=day_items(self.store, conf, day),
            limits=self.catalog.limits(platform),
            markup=self.writer.markup(platform),
            consent_mode=self.settings.community.consent,
        )

    # -- the sources ----------------------------------------------------------------------------

    def series(self) -> list[Entry]:
        runner = self.runner
        out = []
        queue = list(runner.interviews.in_states([QUEUED]))
        for name, rule in runner.rules.items():
            for at in runner.schedule.rules[name].between(self.start - timedelta(microseconds=1), self.end):
                if at >= self.end:
                    continue
                versions: list[Version] = []
                if rule.kind == "digest":
                    day = runner.local_day(rule, at)
                    for edition in runner.editions(rule):
                        for p in runner.platforms(rule):
                            versions.append(
                                self.version(
                                    edition.key,
                                    at,
                                    p,
                                    edition.language,
                                    partial(_digest, runner, edition.language, p, day),
                                )
                            )
                    detail = "the weekly digest"
                elif rule.kind == "interview":
                    interview = runner.interviews.by_slot(name, at)
                    if interview is None or interview.state not in (SCHEDULED, "published"):
                        fits_lang = [i for i in queue if not rule.languages or i.language in rule.languages]
                        interview = fits_lang[0] if fits_lang else None
                        if interview is not None:
                            queue.remove(interview)
                    text = interview.consent_text if interview is not None else None
                    lang = interview.language if interview is not None else ""
                    for p in runner.platforms(rule):
                        versions.append(self.version(name, at, p, lang, partial(self._interview, p, text)))
                    detail = (
                        f"mini-interview: {interview.name}" if interview else "no confirmed interview yet"
                    )
                else:
                    for p in runner.platforms(rule):
                        found = self.written.get((name, at, p))
                        parts = found.parts if found else ()
                        state = found.state if found else "planned"
                        note = "" if found else "composed at its slot from last month's report"
                        versions.append(Version(p, "", parts, True, state, note))
                    detail = "the community in numbers"
                out.append(self.entry(at, "series", name, detail, name, versions))
        return out

    def originals(self) -> list[Entry]:
        book = OriginalBook(self.store, self.settings.curation.approvals_required)
        out = []
        states = (PENDING, APPROVED, PUBLISHING, PUBLISHED)
        for o in book.listing(states, due_from=self.start, due_until=self.end, details=False):
            at = o.slot or o.due_at
            assert at is not None
            versions = []
            for p in o.platforms:
                fit = self.writer.fit(o.text, p)
                found = self.written.get((series_of(o.id), at, p))
                state = found.state if found else ("planned" if o.state == APPROVED else "waiting")
                parts = tuple(x.shown for x in fit.parts)
                versions.append(Version(p, "", parts, fit.fits, state))
            detail = {
                PENDING: f"waits for {o.needs} more approval(s)",
                APPROVED: "approved",
                PUBLISHING: "publishing",
                PUBLISHED: "published",
            }[o.state]
            title = o.text.strip().splitlines()[0][:80]
            out.append(self.entry(at, "original", title, detail, series_of(o.id), versions))
        return out

    def amplifications(self, now: datetime) -> list[Entry]:
        out = []
        for w in pacing.expected(self.store, self.settings, now):
            if not self.start <= w.expected_at < self.end:
                continue
            version = Version(w.platform, "", (w.text,), True, "waiting", w.url)
            title = f"boost of {w.author_handle}"
            detail = "approved; waits for its paced turn"
            out.append(
                self.entry(
                    w.expected_at, "amplification", title, detail, f"candidate:{w.candidate_id}", [version]
                )
            )
        return out

    def chats(self) -> list[Entry]:
        s, c = m.ChatSlot, m.Chat
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(s.key, s.due_at, m.table(c))
                .join(c, c.id == s.chat_id)
                .where(
                    s.community_id == self.store.community_id,
                    c.removed_at.is_(None),
                    s.due_at >= self.start,
                    s.due_at < self.end,
                )
                .order_by(s.due_at, s.id)
            ).all()
        out = []
        for r in rows:
            chat = view_of(r)
            series = f"chat:{chat.id}:{r.key}"
            versions = [
                self.version(series, r.due_at, p, "", partial(self._chat, chat, r.key, p))
                for p in self.settings.enabled_platforms()
            ]
            out.append(self.entry(r.due_at, "chat", f"#{chat.tag} {r.key}", chat.topic, series, versions))
        return out

    def highlights(self) -> list[Entry]:
        with self.store.engine.connect() as conn:
            found = conferences(conn, self.store.community_id)
        out = []
        for conf in found:
            for day in days_of(conf):
                at = slot_of(conf, day)
                if not self.start <= at < self.end:
                    continue
                series = highlights_series(conf)

                versions = [
                    self.version(series, at, p, "", partial(self._highlights, conf, day, p))
                    for p in self.settings.enabled_platforms()
                ]
                out.append(
                    self.entry(at, "highlights", f"{conf.name} highlights", f"#{conf.tag}", series, versions)
                )
        return out


def _digest(runner: SeriesRunner, language: str, platform: Platform, day: date) -> list[str]:
    return runner.digest(language, platform, day).parts


def calendar(
    runner: SeriesRunner,
    catalog: PlatformCatalog,
    now: datetime,
    *,
    view: View = "week",
    day: date | None = None,
) -> Result[Calendar]:
    """The week or month holding ``day`` (today in the community's time zone by default)."""
    if view not in ("week", "month"):
        return usage(f"no view {view!r}: week or month")
    tz = zone(runner.settings.series.timezone)
    first, last = window(view, day or now.astimezone(tz).date())
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    builder = _Builder(runner, catalog, start, end)
    entries = [
        *builder.series(),
        *builder.originals(),
        *builder.amplifications(now),
        *builder.chats(),
        *builder.highlights(),
    ]
    entries.sort(key=lambda e: (e.at, e.kind, e.ref))
    found = Calendar(
        view, first, last, runner.settings.series.timezone, now, is_frozen(runner.store), tuple(entries)
    )
    return done(summary(found), found)


def summary(cal: Calendar) -> str:
    span = f"{cal.first_day:%a %d %b %Y} to {cal.last_day:%a %d %b %Y}"
    head = f"{cal.view.capitalize()} of {span} ({cal.timezone})"
    if cal.frozen:
        head += " — the account is frozen: nothing goes out until it is unfrozen"
    lines = [head]
    for day, items in cal.days():
        if not items:
            continue
        lines.append(f"{day:%a %d %b}")
        for e in items:
            where = ", ".join(sorted({v.platform.value for v in e.versions}))
            lines.append(f"  {e.local:%H:%M} {e.kind:<13} {e.title} — {e.detail} [{where}]")
    if len(lines) == 1:
        lines.append("Nothing planned.")
    return "\n".join(lines)
