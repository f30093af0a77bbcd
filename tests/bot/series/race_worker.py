"""One worker process of the race test: its own engine, adapter and clock on the shared database
and sandbox; it waits at the barrier, runs the due slots once, and reports what it did."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from adapters.registry import REGISTRY, settings_class
from bot.clock import FakeClock
from bot.config import parse
from bot.domain import Platform
from bot.schema import Environment
from bot.series.runner import SeriesRunner
from bot.store.store import Store, make_engine
from tests.bot.series.conftest import TOKEN, mastodon_adapter


def run(config: dict[str, Any], db_url: str, now: str, worker: str, barrier: Any, results: Any) -> None:
    settings = parse(config, Environment({"MASTODON_TOKEN": TOKEN}), schemas=settings_class)
    clock = FakeClock(datetime.fromisoformat(now))
    engine = make_engine(db_url)
    store = Store.open(engine, settings.community.slug, settings.community.name, clock.now())
    adapter = mastodon_adapter(settings.platforms[Platform.MASTODON].api_base_url, clock)
    runner = SeriesRunner(
        store, {Platform.MASTODON: adapter}, settings, clock, worker=worker, catalog=REGISTRY
    )
    barrier.wait(timeout=60)
    outcomes = asyncio.run(runner.run_due())
    results.put((worker, sorted((o.series, o.state) for o in outcomes)))
    engine.dispose()
