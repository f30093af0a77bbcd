"""The application: start → run → stop. Owns the store, the adapters and every task it starts.

Each platform is watched by its own task; a platform that fails is retried with backoff
while the others carry on. Nothing here knows a platform by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.registry import REGISTRY, create_adapter
from bot.chats.runner import ChatRunner
from bot.clock import Clock, SystemClock
from bot.conference.daily import DailyHighlights
from bot.conference.meetups import Meetups
from bot.conference.service import Gatherings
from bot.config import Settings
from bot.curation.amplifier import Amplifier, Outcome
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.errors import PlatformError, RateLimited, Transient, Unauthorized
from bot.health import WatchHealthRecorder
from bot.ports import PlatformAdapter
from bot.report.refresh import ReachService, Refresher
from bot.series.interview_chat import InterviewChats
from bot.series.interviews import InterviewBook
from bot.series.opportunities import leave_digests
from bot.series.original_runner import OriginalsRunner
from bot.series.publisher import PublishOutcome
from bot.series.runner import SeriesRunner
from bot.store.migrate import upgrade
from bot.store.store import IngestResult, Store, engine_for
from bot.trust.service import TrustService

if TYPE_CHECKING:
    from bot.console.console import Console

log = logging.getLogger(__name__)

Service = Callable[["Coalesce", asyncio.Event], Awaitable[None]]


def default_worker_id() -> str:
    """Stable across restarts of one worker, different between workers (``$DYNO`` on hosts
    that run a Procfile), so a restarted worker can take back its own leases at once."""
    return os.environ.get("COALESCE_WORKER_ID") or os.environ.get("DYNO") or socket.gethostname()


@dataclass
class CycleReport:
    ingested: dict[Platform, IngestResult] = field(default_factory=dict)
    errors: dict[Platform, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    published: list[PublishOutcome] = field(default_factory=list)  # series slots
    gatherings: list[PublishOutcome] = field(default_factory=list)  # highlights, chat slots


class Coalesce:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        adapters: Mapping[Platform, PlatformAdapter] | None = None,
        clock: Clock | None = None,
        dry_run: bool = False,
        worker: str | None = None,
        migrate: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = engine or engine_for(settings)
        self._adapters = dict(adapters) if adapters is not None else None
        self.dry_run = dry_run
        self.worker = worker or default_worker_id()
        self.migrate = migrate
        self.services: list[Service] = []  # later features (consoles, schedulers) plug in here
        self._tasks: set[asyncio.Task[None]] = set()
        self.store: Store
        self.pipeline: Pipeline
        self.queue: Queue
        self.amplifier: Amplifier
        self.series: SeriesRunner  # the weekly digest and the mini-interviews, on their schedule
        self.trust: TrustService  # consent, undos, deleted originals; the amplifier's last veto
        self.health: WatchHealthRecorder
        self.reach: ReachService  # keeps the report's numbers fresh
        self.gatherings: Gatherings  # conferences' highlights, chats' slots and answers, their tags
        self.originals: OriginalsRunner  # the curators' own posts, through the series' publisher
        self.adapters: dict[Platform, PlatformAdapter] = {}
        self._started: set[Platform] = set()  # adapters whose start() succeeded; the rest retry it
        self.wake = asyncio.Event()  # set when there may be new work for the amplifier
        # told when candidates were queued or amplified, so views of them (the console) refresh now
        self.on_change: list[Callable[[], None]] = []
        self.console: Console | None = None

    async def start(self) -> None:
        if self.migrate:
            await asyncio.to_thread(upgrade, self.engine)
        community = self.settings.community
        self.store = Store.open(self.engine, community.slug, community.name, self.clock.now())
        # the mini-interviews' private chats reach the series through the consent registry
        interviews = InterviewChats(
            InterviewBook.of(self.store, self.settings), language=self.settings.community.languages[0]
        )
        self.pipeline = Pipeline(self.settings, self.store, member_chat=interviews)
        self.queue = Queue(self.store, self.settings)
        self.health = WatchHealthRecorder(self.store, self.worker)
        if self._adapters is None:
            self._adapters = {p: create_adapter(p, self.settings) for p in self.settings.enabled_platforms()}
        for platform, adapter in self._adapters.items():
            self.adapters[platform] = adapter
            try:
                await self._ensure_started(platform)
            except Unauthorized:
                raise  # wrong credentials will not fix themselves: stop start-up and say so
            except PlatformError as exc:
                # An outage like any other: the watch loop starts it again with backoff, and the
                # other platforms go on meanwhile.
                error = _first_line(exc)
                log.warning(
                    "platform unavailable at start-up; will retry",
                    extra={"platform": platform.value, "error": error},
                )
                with contextlib.suppress(SQLAlchemyError):
                    await asyncio.to_thread(self.health.error, platform, error, self.clock.now())
        self.amplifier = Amplifier(
            self.store, self.adapters, self.settings, self.clock, dry_run=self.dry_run, worker=self.worker
        )
        self.trust = TrustService(
            self.store,
            self.adapters,
            self.settings,
            self.clock,
            worker=self.worker,
            consent=self.pipeline.consent,
        )
        self.trust.deletions.leave_lists.append(partial(leave_digests, self.store))
        self.amplifier.vetoes.append(self.trust.veto)
        self.amplifier.last_checks.append(self.trust.verdict)
        for platform, adapter in self.adapters.items():  # adapters that answer members on their own
            adapter.use_last_look(partial(self._may_answer, platform))
        self.services.append(self.trust.serve)
        self.series = SeriesRunner(
            self.store,
            self.adapters,
            self.settings,
            self.clock,
            worker=self.worker,
            dry_run=self.dry_run,
            last_look=self.trust.last_look,
            catalog=REGISTRY,
        )
        self.services.append(self.series.service)
        self.gatherings = Gatherings(
            self.store,
            DailyHighlights(self.store, self.series.publisher, self.settings),
            ChatRunner(self.store, self.series.publisher, self.settings, self.clock),
            self.adapters,
            self.clock,
            poll_seconds=self.settings.run.poll_seconds,
            meetups=Meetups(self.store, self.series.publisher, self.settings.community.languages),
        )
        await self.gatherings.refresh()
        self.services.append(self.gatherings.service)
        self.originals = OriginalsRunner(
            self.store, self.series.publisher, self.settings, self.clock, REGISTRY
        )
        self.services.append(self.originals.service)
        open_intents = await self.amplifier.reconcile()
        if open_intents:
            log.warning("resuming amplifications interrupted by a restart", extra={"count": open_intents})
        # engagement, followers, follows, members lists
        refresher = Refresher(
            self.store,
            self.adapters,
            self.settings,
            self.clock,
            dry_run=self.dry_run,
            last_look=self.trust.last_look,
        )
        self.reach = ReachService(refresher, self.clock, self.settings.report.refresh_minutes)
        self.services.append(self.reach.serve)
        for adapter in self.adapters.values():
            adapter.attach(self.adapters)
        self.console = self._console()
        if self.settings.web.enabled:
            self.services.append(self._web_console)

    def _may_answer(self, platform: Platform, account_id: str) -> bool:
        return self.trust.last_look.may_answer(platform, account_id, self.clock.now())

    def _console(self) -> Console | None:
        """The curators' console, on the first platform that offers one; it runs as a service."""
        from bot.console.console import Console

        for adapter in self.adapters.values():
            front = adapter.curator_console()
            if front is not None:
                console = Console(
                    front, self.store, self.queue, self.settings, self.clock, on_approved=self.wake.set
                )
                self.services.append(console.run)
                self.on_change.append(console.poke)
                return console
        return None

    async def _web_console(self, app: object, stop: asyncio.Event) -> None:
        """The curators' web console in this process (``web.enabled``), on this app's store and
        queue; a decision made there makes the Telegram cards and the amplifier look at once."""
        from bot.web.app import WebDeps
        from bot.web.serve import serve

        loop = asyncio.get_running_loop()

        def changed() -> None:
            self.wake.set()
            for hook in self.on_change:
                hook()

        def decided() -> None:  # called from the page's worker thread
            loop.call_soon_threadsafe(changed)

        deps = WebDeps(
            self.settings,
            self.store,
            self.clock,
            queue=self.queue,
            series_runner=lambda: self.series,
            on_decided=decided,
        )
        await serve(deps, self.settings.web.host, self.settings.web.port, stop)

    async def _ensure_started(self, platform: Platform) -> None:
        """Start ``platform``'s adapter unless it already started. Whatever the client library
        raises on the way (Mastodon.py once recursed until the stack ran out when the server
        refused connections) comes out as a PlatformError, so no start-up failure is a crash."""
        if platform in self._started:
            return
        try:
            await self.adapters[platform].start()
        except PlatformError:
            raise
        except Exception as exc:
            log.debug("adapter start failed", exc_info=True, extra={"platform": platform.value})
            raise Transient(f"{platform.value} could not start: {_first_line(exc)}") from exc
        self._started.add(platform)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for adapter in self.adapters.values():
            try:
                await adapter.close()
            except Exception:  # closing must go on for the others
                log.exception("error while closing an adapter", extra={"platform": adapter.platform.value})
        self.engine.dispose()

    # -- one cycle (run --once, demo, tests) ----------------------------------------------------

    def watch_tags(self) -> tuple[str, ...]:
        """The community's tags and those of the conferences and chats active now."""
        return tuple(dict.fromkeys((*self.settings.community.tags, *self.gatherings.tags)))

    async def watch_once(self, platform: Platform) -> IngestResult:
        adapter = self.adapters[platform]
        total = IngestResult()
        await self._ensure_started(platform)
        cursors = self.store.cursors(platform)
        async for batch in adapter.watch(self.watch_tags(), cursors, follow=False):
            result = await asyncio.to_thread(self.pipeline.ingest, platform, batch, self.clock.now())
            await self._healthy(platform, batch, result)
            total.stored += result.stored
            total.candidates.extend(result.candidates)
            total.edited.extend(result.edited)
            for reason, n in result.skipped.items():
                total.skip(reason, n)
        await self._healthy(platform)
        return total

    async def _healthy(
        self, platform: Platform, batch: Batch | None = None, result: IngestResult | None = None
    ) -> None:
        """The platform answered: say so where ``bot health`` looks (new posts or requests = progress)."""
        progressed = bool(result and result.stored) or bool(batch and (batch.requests or batch.nominations))
        await asyncio.to_thread(self.health.ok, platform, self.clock.now(), progressed=progressed)

    async def run_once(self) -> CycleReport:
        report = CycleReport()
        platforms = list(self.adapters)
        # The curators' taps and commands read by the watch are applied while it reads: the watch
        # confirms them to their platform only once applied, so a cron run never drops one.
        events = asyncio.create_task(self.console.serve_events()) if self.console is not None else None
        try:
            results = await asyncio.gather(*(self.watch_once(p) for p in platforms), return_exceptions=True)
        finally:
            if events is not None and self.console is not None:
                events.cancel()
                await asyncio.gather(events, return_exceptions=True)
                await self.console.finish_events()
        for platform, result in zip(platforms, results, strict=True):
            if isinstance(result, PlatformError):
                report.errors[platform] = str(result)
                log.warning("watch failed", extra={"platform": platform.value, "error": str(result)})
                await asyncio.to_thread(self.health.error, platform, str(result), self.clock.now())
            elif isinstance(result, BaseException):
                raise result
            else:
                report.ingested[platform] = result
        self.queue.wake_snoozed(self.clock.now())
        await self.trust.run_once()
        report.outcomes = await self.amplifier.run_due()
        report.published = await self.series.run_due()
        report.published += await self.originals.run_due()
        report.gatherings = (await self.gatherings.run_once()).published
        if self.console is not None:  # the cards that are due, and what changed on the others
            try:
                await self.console.run_once()
            except (PlatformError, SQLAlchemyError) as exc:
                log.warning("console pass failed", extra={"error": str(exc).splitlines()[0][:300]})
        return report

    # -- running until stopped -------------------------------------------------------------------

    def spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        async def runner() -> None:
            await coro

        task = asyncio.create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, stop: asyncio.Event) -> None:
        for platform in self.adapters:
            self.spawn(self._watch_forever(platform), f"watch-{platform.value}")
        self.spawn(self._amplify_forever(), "amplifier")
        for service in self.services:
            name = getattr(service, "__name__", "service")
            self.spawn(self._supervised(service, name, stop), name)
        await stop.wait()

    async def _supervised(self, service: Service, name: str, stop: asyncio.Event) -> None:
        """A service that fails unexpectedly is logged and started again with backoff: a bug in
        one feature must not quietly stop it for good while the process looks alive."""
        delay = self.settings.run.watch_retry_seconds
        while not stop.is_set():
            try:
                await service(self, stop)
                return
            except Exception:
                log.exception("service failed; restarting it", extra={"service": name, "retry_in_s": delay})
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.settings.run.watch_retry_max_seconds)

    async def _watch_forever(self, platform: Platform) -> None:
        adapter = self.adapters[platform]
        delay = self.settings.run.watch_retry_seconds
        while True:
            try:
                await self._ensure_started(platform)
                cursors = self.store.cursors(platform)
                tags = self.watch_tags()
                async for batch in adapter.watch(tags, cursors, follow=True):
                    result = await asyncio.to_thread(self.pipeline.ingest, platform, batch, self.clock.now())
                    await self._healthy(platform, batch, result)
                    if result.candidates or result.edited:
                        self.wake.set()
                        for notify in self.on_change:
                            notify()
                    delay = self.settings.run.watch_retry_seconds
                    if self.watch_tags() != tags:
                        break  # a conference or chat began or ended: watch again with its tags
                else:
                    return
            except Exception as exc:
                # The database going away is survived like a platform outage: retried, not fatal;
                # so is an error an adapter failed to translate (a bug, logged with its traceback).
                wait = exc.retry_after if isinstance(exc, RateLimited) else delay
                error = _first_line(exc)
                if isinstance(exc, PlatformError | SQLAlchemyError):
                    log.warning(
                        "watch failed; retrying",
                        extra={"platform": platform.value, "error": error, "retry_in_s": round(wait)},
                    )
                else:
                    log.exception("watch failed unexpectedly; retrying", extra={"platform": platform.value})
                with contextlib.suppress(SQLAlchemyError):  # the database failed: the log line has it
                    await asyncio.to_thread(self.health.error, platform, error, self.clock.now())
                await self.clock.sleep(wait)
                delay = min(delay * 2, self.settings.run.watch_retry_max_seconds)

    async def _amplify_forever(self) -> None:
        while True:
            self.wake.clear()  # before the cycle: an approval made during it wakes the next one
            try:
                self.queue.wake_snoozed(self.clock.now())
                if await self.amplifier.run_due():
                    for notify in self.on_change:
                        notify()
            except (PlatformError, SQLAlchemyError) as exc:  # adapters' errors are handled inside
                log.warning("amplifier cycle failed", extra={"error": str(exc).splitlines()[0][:300]})
            except Exception:  # a bug must not stop amplification for good while the process lives on
                log.exception("amplifier cycle failed unexpectedly")
            sleeper = asyncio.ensure_future(self.clock.sleep(self.settings.run.poll_seconds))
            waker = asyncio.ensure_future(self.wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()


def _first_line(exc: BaseException) -> str:
    """An error in one log-friendly line: its first line, or its type when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
