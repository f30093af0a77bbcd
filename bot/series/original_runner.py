"""Publishes approved original posts when their time comes, through the series' publisher: the
publication row of (``original:<id>``, slot, platform) is written before the first part and each
part is recorded as it lands, so a post goes out once per platform across restarts and workers,
and the publisher's last look (the curators' /freeze) is taken before every part."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from bot.clock import Clock, sleep_or_stop
from bot.config import Settings
from bot.domain import Platform
from bot.durable import run_sync
from bot.inert import own_tags
from bot.ports import PlatformCatalog
from bot.series.markup import Markup
from bot.series.original_text import PlatformFit, compose, fit, markup_for
from bot.series.originals import OriginalBook, OriginalView, series_of
from bot.series.publisher import FINAL, Publisher, PublishOutcome
from bot.store.store import Store
from bot.trust.veto import is_frozen

log = logging.getLogger(__name__)


class OriginalWriter:
    """How an original reads on each platform, from the platform catalog (no adapter needed): the
    preview and the publisher both ask here, so the preview is exactly what goes out."""

    def __init__(self, settings: Settings, catalog: PlatformCatalog) -> None:
        self.settings = settings
        self.catalog = catalog

    def markup(self, platform: Platform) -> Markup:
        return markup_for(
            self.catalog.markup(platform), self.catalog.inert_rules(platform), own_tags(self.settings)
        )

    def parts(self, text: str, platform: Platform) -> list[str]:
        return compose(text, self.catalog.limits(platform), self.markup(platform))

    def fit(self, text: str, platform: Platform) -> PlatformFit:
        return fit(text, platform, self.catalog.limits(platform), self.markup(platform))


class OriginalsRunner:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        settings: Settings,
        clock: Clock,
        catalog: PlatformCatalog,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.settings = settings
        self.clock = clock
        self.writer = OriginalWriter(settings, catalog)
        self.book = OriginalBook(store, settings.curation.approvals_required)

    async def run_due(self) -> list[PublishOutcome]:
        """Start the approved posts that are due, and publish (or finish) every one publishing."""
        if await run_sync(is_frozen, self.store):
            return []  # held: approved posts wait, due, for the unfreeze
        if self.publisher.dry_run:
            return []
        await run_sync(self.book.start_due, self.clock.now())
        outcomes: list[PublishOutcome] = []
        for original in await run_sync(self.book.publishing):
            try:
                outcomes.extend(await self._publish(original))
            except Exception:  # one post that goes wrong fails alone; the next cycle tries again
                log.exception("original post not published", extra={"original": original.id})
        return outcomes

    async def _publish(self, original: OriginalView) -> list[PublishOutcome]:
        assert original.slot is not None  # set with the state "publishing"
        outcomes = []
        for platform in original.platforms:
            compose_parts = partial(self.writer.parts, original.text, platform)
            outcomes.append(
                await self.publisher.publish(series_of(original.id), original.slot, platform, compose_parts)
            )
        states = await run_sync(self.book.publication_states, original.id)
        finished = all(states.get(p) in FINAL for p in original.platforms)
        if finished and await run_sync(self.book.mark_published, original.id, self.clock.now()):
            said = " ".join(f"{p.value}:{state}" for p, state in states.items())
            log.info("original post published", extra={"original": original.id, "platforms": said})
        return outcomes

    async def service(self, _app: object, stop: asyncio.Event) -> None:
        """A pass every ``run.poll_seconds`` until ``stop``; a failing pass is logged and retried."""
        poll = self.settings.run.poll_seconds
        while not stop.is_set():
            try:
                for outcome in await self.run_due():
                    log.info(
                        "original post",
                        extra={
                            "series": outcome.series,
                            "platform": outcome.platform.value,
                            "state": outcome.state,
                        },
                    )
            except Exception:
                log.exception("originals cycle failed")
            await sleep_or_stop(self.clock, poll, stop)
