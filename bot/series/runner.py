"""Runs the series: finds the slots that are due, composes each for every platform and language,
and hands them to the publisher; skips (and logs) slots missed for longer than the grace
window; finishes half-published threads; deletes withdrawn interviews. One call per cycle
(``run --once``) or a service that wakes at each slot (``run``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from bot.clock import Clock, sleep_or_stop
from bot.config import Settings
from bot.domain import Platform, TextLimits
from bot.durable import run_sync
from bot.inert import InertRules, inert, inert_html, own_tags
from bot.ports import PlatformAdapter, PlatformCatalog
from bot.report.compute import build_report
from bot.report.numbers import compose_numbers, last_month
from bot.series.checkpoints import checked_until, mark_checked
from bot.series.digest import Digest, DigestContext, compose_digest
from bot.series.interviews import (
    SCHEDULED,
    WITHDRAWN,
    Interview,
    InterviewBook,
    check_fit,
    interview_limits,
)
from bot.series.markup import Markup
from bot.series.opportunities import Opportunity, OpportunityList
from bot.series.originals import original_of
from bot.series.profiles import unread_authors
from bot.series.publisher import FINAL, Publisher, PublishOutcome
from bot.series.schedule import Schedule, zone
from bot.series.settings import SeriesRule
from bot.store.alerts import alert
from bot.store.store import Store
from bot.text import split_thread
from bot.trust.curator_names import names_a_curator
from bot.trust.discovery import ProfileRule
from bot.trust.veto import LastLook, Verdict, is_frozen

log = logging.getLogger(__name__)

MONTHLY = SeriesRule(name="numbers", kind="numbers", cron="0 10 1 * *")


@dataclass(frozen=True)
class Edition:
    """What one series publishes in one slot in one language: its key in the publications table."""

    key: str
    language: str


@dataclass(frozen=True)
class Preview:
    series: str
    language: str
    platform: Platform
    slot: datetime
    digest: Digest


class SeriesRunner:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        worker: str,
        dry_run: bool = False,
        catalog: PlatformCatalog,  # each platform's text limits and markup, without an adapter
        last_look: LastLook | None = None,
    ) -> None:
        self.store = store
        self.last_look = last_look or LastLook(store, settings)
        self.rule = ProfileRule.of(settings)  # the opt-out markers, read in members' profiles
        self.settings = settings
        self.series = settings.series
        self.clock = clock
        self.catalog = catalog  # for whoever composes beside the series (original posts, the calendar)
        self.limits: Callable[[Platform], TextLimits] = catalog.limits
        self.markup: Callable[[Platform], str] = catalog.markup
        self.inert_rules: Callable[[Platform], InertRules | None] = catalog.inert_rules
        self.rules = {r.name: r for r in self.series.schedule if r.enabled}
        if settings.report.monthly_post and not any(r.kind == "numbers" for r in self.series.schedule):
            # report.monthly_post without a series of its own: 10:00 on the 1st, series time zone
            self.rules[MONTHLY.name] = MONTHLY
        self.schedule = Schedule.of((r.name, r.cron, self.series.zone_of(r)) for r in self.rules.values())
        for adapter in adapters.values():  # the community's tags stay live in what it publishes
            adapter.own_tags = adapter.own_tags | own_tags(settings)
        self.publisher = Publisher(
            store,
            adapters,
            clock,
            worker=worker,
            dry_run=dry_run,
            screen=self._names_a_curator,
            veto=self._last_look,
        )
        self._paused = False  # a freeze is logged once, when it is first seen
        self.opportunities = OpportunityList(store)
        self.interviews = InterviewBook.of(store, settings)

    # -- what a rule means ------------------------------------------------------------------

    def languages(self, rule: SeriesRule) -> tuple[str, ...]:
        return rule.languages or self.settings.community.languages

    def platforms(self, rule: SeriesRule) -> list[Platform]:
        return list(rule.platforms) or self.settings.enabled_platforms()

    def editions(self, rule: SeriesRule) -> list[Edition]:
        """A digest in two languages is two publications per platform; an interview is one,
        in its member's language; the monthly numbers are one (their composer writes English)."""
        langs = self.languages(rule)
        if rule.kind in ("interview", "numbers"):
            return [Edition(rule.name, "")]
        if len(langs) == 1:
            return [Edition(rule.name, langs[0])]
        return [Edition(f"{rule.name}/{lang}", lang) for lang in langs]

    def local_day(self, rule: SeriesRule, at: datetime) -> date:
        """The slot's date where the series is published: what "closing soon" is counted from."""
        return at.astimezone(self.schedule.rules[rule.name].tz).date()

    # -- composing --------------------------------------------------------------------------

    def digest_context(self) -> DigestContext:
        opp = self.series.opportunities
        return DigestContext(
            community=self.settings.community.name,
            hashtag="#" + self.settings.community.hashtags[0].lstrip("#"),
            tag="#" + opp.tag.lstrip("#"),
            closing_soon_days=opp.closing_soon_days,
            show_eligibility=opp.show_eligibility,
            call_for_submissions=opp.call_for_submissions,
        )

    def _names_a_curator(self, text: str) -> str | None:
        """The account speaks as "the curators": a text naming one of them is not published."""
        name = names_a_curator(text, self.settings)
        if name is None:
            return None
        return f"the text names the curator {name}; the account speaks as the curators"

    def _listable(self, opportunity: Opportunity) -> bool:
        """An opportunity whose title, organisation or link names a curator stays out of the
        digest (logged), so that one entry does not hold back the whole list."""
        why = self._names_a_curator(f"{opportunity.title}\n{opportunity.organisation}\n{opportunity.url}")
        if why is not None:
            log.warning(
                "opportunity left out of the digest", extra={"opportunity": opportunity.id, "error": why}
            )
        return why is None

    def _last_look(self, series: str, slot: datetime) -> Verdict | None:
        return self.last_look.publication(series, slot, self.clock.now())

    def _from_members_withheld(self, listed: list[Opportunity], unread: set[int]) -> set[int]:
        """Opportunities from members that the veto keeps out of a digest now (she opted out,
        is blocked or frozen, deleted the post), or whose author's profile could not be read."""
        withheld = self.last_look.withheld_opportunities([o.id for o in listed], self.clock.now())
        for opportunity_id, why in withheld.items():
            log.info(
                "opportunity left out of the digest", extra={"opportunity": opportunity_id, "error": why}
            )
        return set(withheld) | unread

    def digest(self, language: str, platform: Platform, day: date, unread: set[int] | None = None) -> Digest:
        listed = [o for o in self.opportunities.open_on(day) if self._listable(o)]
        withheld = self._from_members_withheld(listed, unread or set())
        return compose_digest(
            [o for o in listed if o.id not in withheld],
            day=day,
            templates=self.series.templates_for(language),
            limits=self.limits(platform),
            markup=self._markup(platform),
            context=self.digest_context(),
        )

    def _markup(self, platform: Platform) -> Markup:
        """How the series write for ``platform``: its markup, and its adapter's inert step (the
        adapter repeats that step when it publishes; doing it here first keeps the measuring
        true, since a broken mention or tag may count longer than a live one)."""
        kind = self.markup(platform)
        rules = self.inert_rules(platform)
        if rules is None:
            return Markup(kind)
        keep = rules.with_tags(own_tags(self.settings))
        return Markup(kind, inert=partial(inert_html if kind == "html" else inert, rules=keep))

    def interview_limits(self, platforms: list[Platform]) -> dict[str, TextLimits]:
        return interview_limits(self.series.interviews, {p.value: self.limits(p) for p in platforms})

    def preview(
        self, *, platform: Platform | None = None, language: str | None = None, at: datetime | None = None
    ) -> list[Preview]:
        """Exactly what the next slot of each digest series would publish (or, with ``at``, a
        digest published then). Without a digest on the schedule: a digest published now."""
        now = self.clock.now()
        plans: list[tuple[str, tuple[str, ...], list[Platform], str, datetime | None]] = [
            (r.name, self.languages(r), self.platforms(r), self.series.zone_of(r), at)
            for r in self.rules.values()
            if r.kind == "digest"
        ] or [
            (
                "digest",
                self.settings.community.languages,
                self.settings.enabled_platforms(),
                self.series.timezone,
                at or now,
            )
        ]
        out = []
        for name, langs, targets, tz, slot in plans:
            if slot is None:
                upcoming = self.schedule.rules[name].next_after(now)
                slot = upcoming[0] if upcoming else now
            day = slot.astimezone(zone(tz)).date()
            for lang in langs:
                if language and lang != language:
                    continue
                for p in [platform] if platform else targets:
                    out.append(Preview(name, lang, p, slot, self.digest(lang, p, day)))
        return out

    # -- one cycle --------------------------------------------------------------------------

    async def run_due(self) -> list[PublishOutcome]:
        """Publish every slot in the grace window that is not published yet, skip older missed
        ones, finish interrupted threads, delete withdrawn posts."""
        now = self.clock.now()
        if await run_sync(is_frozen, self.store):
            # The curators' /freeze holds the series too. A slot still inside its grace window
            # when they unfreeze is published then; one past it is skipped and says why.
            if not self._paused:
                log.warning("series paused: the curators froze the account", extra={"at": now.isoformat()})
            self._paused = True
            return await self.publisher.retract_pending()  # taking back is never held
        self._paused = False
        grace = self.series.grace
        await run_sync(self._skip_missed, now)
        states = await run_sync(self.publisher.states_since, now - grace)
        outcomes: list[PublishOutcome] = []
        handled: set[tuple[str, datetime, Platform]] = set()
        for slot in self.schedule.due(now, grace):
            rule = self.rules[slot.series]
            try:
                outcomes.extend(await self._publish_slot(rule, slot.at, states, handled))
            except Exception as exc:  # one series slot that goes wrong fails alone, saying why
                outcomes.extend(await run_sync(self._slot_failed, rule, slot.at, exc))
        outcomes.extend(await self._finish_unfinished(now, handled))
        await run_sync(self._settle_interviews)
        outcomes.extend(await self.publisher.retract_pending())
        await run_sync(self._checkpoint, now)
        return outcomes

    async def _publish_slot(
        self,
        rule: SeriesRule,
        at: datetime,
        states: Mapping[tuple[str, datetime, Platform], str],
        handled: set[tuple[str, datetime, Platform]],
    ) -> list[PublishOutcome]:
        pending = [
            (edition, platform)
            for edition in self.editions(rule)
            for platform in self.platforms(rule)
            if states.get((edition.key, at, platform)) not in FINAL
        ]
        if not pending:
            return []
        handled.update((e.key, at, p) for e, p in pending)
        if rule.kind == "interview":
            return await self._publish_interview(rule, at, [p for _, p in pending])
        if rule.kind == "numbers":
            return [
                await self.publisher.publish(rule.name, at, p, self._numbers(rule, at, p)) for _, p in pending
            ]
        day = self.local_day(rule, at)
        listed = await run_sync(self.opportunities.open_on, day)
        unread = await unread_authors(self.store, self.publisher.adapters, self.rule, [o.id for o in listed])
        outcomes = []
        for edition, platform in pending:

            def compose(lang: str = edition.language, p: Platform = platform) -> list[str]:
                return self.digest(lang, p, day, unread).parts

            outcomes.append(await self.publisher.publish(edition.key, at, platform, compose))
        return outcomes

    def _slot_failed(self, rule: SeriesRule, at: datetime, exc: Exception) -> list[PublishOutcome]:
        """Record the slot as failed on each platform still open, and tell the curators once."""
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        log.error("series slot failed", extra={"series": rule.name, "slot": at.isoformat()}, exc_info=exc)
        out = []
        for edition in self.editions(rule):
            for platform in self.platforms(rule):
                try:
                    self.publisher.record(edition.key, at, platform, "failed", reason)
                except Exception:  # the database: the next cycle tries the slot again
                    log.exception("could not record a failed slot", extra={"series": rule.name})
                out.append(PublishOutcome(edition.key, at, platform, "failed", detail=reason))
        try:
            alert(
                self.store,
                f"series:{rule.name}:{at.isoformat()}",
                f"⚠️ The {rule.name} of {at:%d %b %H:%M} UTC could not be published: {reason}",
                self.clock.now(),
            )
        except Exception:
            log.exception("could not alert the curators", extra={"series": rule.name})
        return out

    def _numbers(self, rule: SeriesRule, at: datetime, platform: Platform) -> Callable[[], list[str]]:
        """The monthly "community in numbers" post for the calendar month before the slot (in the
        series' time zone), from the reach report's numbers as the database holds them."""

        def compose() -> list[str]:
            since, until = last_month(at.astimezone(self.schedule.rules[rule.name].tz))
            text = compose_numbers(build_report(self.store, self.settings, since, until))
            markup = self._markup(platform)
            return [markup.text(part) for part in split_thread(text, self.limits(platform))]

        return compose

    async def _publish_interview(
        self, rule: SeriesRule, at: datetime, platforms: list[Platform]
    ) -> list[PublishOutcome]:
        if self.publisher.dry_run:
            return []
        # an interview of a member who opted out (or was blocked) leaves the queue first, with a note
        await run_sync(self.last_look.sweep, self.clock.now())
        now = self.clock.now()
        # an interview whose member is frozen waits in the queue; the next one takes the slot
        interview = await run_sync(
            self.interviews.assign,
            rule.name,
            at,
            rule.languages,
            eligible=lambda i: self.last_look.interview(i.id, now) is None,
        )
        outcomes = []
        verdict = None if interview is None else await run_sync(self.last_look.interview, interview.id, now)
        if verdict is not None and verdict.until is not None:  # a freeze: the slot waits, in its grace
            return [PublishOutcome(rule.name, at, p, "held", detail=verdict.reason) for p in platforms]
        for platform in platforms:
            if interview is None:
                note = "no confirmed interview in the queue"
                await run_sync(self.publisher.record, rule.name, at, platform, "empty", note)
                outcomes.append(PublishOutcome(rule.name, at, platform, "empty", detail="the queue is empty"))
                continue
            if interview.state == WITHDRAWN:
                reason = f"interview #{interview.id} was withdrawn before its slot"
                await run_sync(self.publisher.record, rule.name, at, platform, "empty", reason)
                outcomes.append(PublishOutcome(rule.name, at, platform, "empty", detail=reason))
                continue
            markup = self._markup(platform)
            written = markup.text(interview.consent_text or "")  # escaped and made inert
            overflow = check_fit(markup.visible(written), self.interview_limits([platform]))
            if overflow:
                reason = overflow[0].describe()
                await run_sync(self.publisher.record, rule.name, at, platform, "failed", reason)
                log.error(
                    "interview not published",
                    extra={"series": rule.name, "platform": platform.value, "error": reason},
                )
                outcomes.append(PublishOutcome(rule.name, at, platform, "failed", detail=reason))
                continue
            parts = [written]
            outcomes.append(await self.publisher.publish(rule.name, at, platform, parts.copy))
        return outcomes

    async def _finish_unfinished(
        self, now: datetime, handled: set[tuple[str, datetime, Platform]]
    ) -> list[PublishOutcome]:
        """Threads left half-published (a crash, a platform down) are finished whatever their
        age; a publication of which nothing went out is given up once out of the grace window."""
        outcomes = []
        for row in await run_sync(self.publisher.rows, states=("intent",)):
            if (row.series, row.slot, row.platform) in handled or original_of(row.series) is not None:
                continue  # an original post is its own runner's: curators decide when it is late
            if row.slot <= now - self.series.grace and not await run_sync(self.publisher.parts, row.id):
                await run_sync(self.publisher.give_up, row, "nothing was published within the grace window")
                log.warning(
                    "unfinished publication given up",
                    extra={
                        "series": row.series,
                        "slot": row.slot.isoformat(),
                        "platform": row.platform.value,
                    },
                )
                continue
            try:
                outcomes.append(await self.publisher.resume(row))
            except Exception as exc:  # one thread that cannot be finished fails alone
                log.exception("could not finish a publication", extra={"series": row.series})
                outcomes.append(PublishOutcome(row.series, row.slot, row.platform, "retry", detail=str(exc)))
        return outcomes

    def _skip_missed(self, now: datetime) -> None:
        since = checked_until(self.store)
        for name, rule in self.rules.items():
            last = since.get(name)
            if last is None:
                continue  # first start: there was no schedule to miss
            for slot in self.schedule.missed(last, now, self.series.grace, name):
                new = [
                    self.publisher.record(
                        e.key,
                        slot.at,
                        p,
                        "skipped",
                        "missed while the bot was down or frozen, past the grace window",
                    )
                    for e in self.editions(rule)
                    for p in self.platforms(rule)
                ]
                if any(new):
                    log.warning(
                        "missed slot skipped",
                        extra={
                            "series": name,
                            "slot": slot.at.isoformat(),
                            "late_by_h": round((now - slot.at).total_seconds() / 3600, 1),
                            "grace_h": self.series.grace_hours,
                        },
                    )

    def _checkpoint(self, now: datetime) -> None:
        if self.rules and not self.publisher.dry_run:
            mark_checked(self.store, list(self.rules), now)

    def _settle_interviews(self) -> None:
        """A scheduled interview is published once no platform is still working on its slot."""
        for interview in self.interviews.in_states([SCHEDULED]):
            if interview.series is None or interview.slot is None:
                continue
            rows = self.publisher.rows(series=interview.series)
            mine = [r for r in rows if r.slot == interview.slot]
            if mine and all(r.state in FINAL for r in mine):
                self.interviews.mark_published(interview.id, self.clock.now())

    # -- member-facing actions that need the platforms -------------------------------------------

    async def withdraw_interview(
        self, interview_id: int, *, by: str
    ) -> tuple[Interview, list[PublishOutcome]]:
        """Withdraw an interview and delete whatever of it was published, on every platform.
        A platform that is down keeps its deletion pending; every cycle retries it."""
        interview = await run_sync(self.interviews.withdraw, interview_id, by=by, now=self.clock.now())
        return interview, await self.publisher.retract_pending()

    # -- the running service -------------------------------------------------------------------

    def next_slot(self, now: datetime) -> datetime | None:
        upcoming = [at for slots in self.schedule.upcoming(now, 1).values() for at in slots]
        return min(upcoming) if upcoming else None

    async def service(self, _app: object, stop: asyncio.Event) -> None:
        """Run due slots now (the start-up catch-up), then again at every slot, until ``stop``."""
        poll = self.settings.run.poll_seconds
        while not stop.is_set():
            try:
                for outcome in await self.run_due():
                    log.info(
                        "series slot",
                        extra={
                            "series": outcome.series,
                            "platform": outcome.platform.value,
                            "state": outcome.state,
                            "url": outcome.url,
                        },
                    )
            except Exception:  # one bad cycle must not end the series for good; the next one retries
                log.exception("series cycle failed")
            now = self.clock.now()
            upcoming = self.next_slot(now)
            wait = poll if upcoming is None else max(0.0, min(poll, (upcoming - now).total_seconds()))
            await sleep_or_stop(self.clock, wait, stop)
