"""The series inside the application: ``run --once`` publishes due slots, the running app wakes
at a slot, members' opportunity posts reach the list instead of being boosted, and two worker
processes racing one slot publish it once."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adapters.mastodon.normalize import html_to_text
from adapters.registry import REGISTRY, settings_class
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings, parse
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.schema import Environment
from bot.series.opportunities import OpportunityList
from bot.series.runner import SeriesRunner
from bot.store import models as m
from bot.store.store import Store
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import (
    SLOT,
    TOKEN,
    add_opportunities,
    central_statuses,
    mastodon_adapter,
    series_config,
)
from tests.bot.series.test_publishing import confirmed_interview
from tests.conftest import BASE_CONFIG, StartApp


class SlotClock(FakeClock):
    """Sets ``sleeping`` once something sleeps until exactly ``until``: the series service
    waiting for its slot."""

    def __init__(self, start: Any, until: Any) -> None:
        super().__init__(start)
        self.until = until
        self.sleeping = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if self.now() + timedelta(seconds=seconds) == self.until:
            self.sleeping.set()
        await super().sleep(seconds)


@pytest.fixture
def apps(start_app: StartApp, sandbox: MastodonSandbox) -> Callable[..., Any]:
    async def build(settings: Settings, clock: FakeClock) -> Coalesce:
        adapter = mastodon_adapter(sandbox.base_url, clock)
        return await start_app(settings, {Platform.MASTODON: adapter}, clock=clock, worker="w1")

    return build


async def test_run_once_publishes_the_slots_that_are_due(
    apps: Callable[..., Any],
    series_settings: Settings,
    store: Store,
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    add_opportunities(store, 3, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() + 60)
    app = await apps(series_settings, clock)
    report = await app.run_once()
    assert [(p.series, p.slot, p.state) for p in report.published] == [("digest", SLOT, "done")]
    assert (await app.run_once()).published == []
    assert len(central_statuses(sandbox)) == 1


async def test_the_running_app_publishes_when_the_slot_comes(
    apps: Callable[..., Any], series_settings: Settings, store: Store, sandbox: MastodonSandbox
) -> None:
    clock = SlotClock(SLOT - timedelta(seconds=40), until=SLOT)
    add_opportunities(store, 3, clock.now())
    app = await apps(series_settings, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(app.run(stop))
    await asyncio.wait_for(clock.sleeping.wait(), 10)  # the series service waits for 09:00
    assert central_statuses(sandbox) == []
    clock.advance(seconds=40)
    assert await asyncio.to_thread(sandbox.wait_for_request, "POST", r"^/api/v1/statuses$", 10)
    stop.set()
    await asyncio.wait_for(running, 10)
    await app.stop()
    (status,) = central_statuses(sandbox)
    assert html_to_text(status["content"]).startswith("📢 Latinas in Medicine opportunities, week of Mar 9")


async def test_an_approved_opportunity_post_joins_the_list_instead_of_being_boosted(
    apps: Callable[..., Any],
    series_settings: Settings,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    store: Store,
) -> None:
    maria = sandbox.add_account("maria", display_name="Dra. María")
    offer = sandbox.post(
        maria,
        "Beca de investigación para estudiantes, cierra el 30 de abril https://becas.example.mx/inv "
        "#LatinasInMedicine #opportunity",
        language="es",
    )
    news = sandbox.post(maria, "Matched into cardiology! #LatinasInMedicine")
    app = await apps(series_settings, clock)
    await app.run_once()
    queue = Queue(store, series_settings)
    pending = {c.url: c for c in queue.list("pending")}
    assert pending[offer["url"]].reason == "opportunity"
    assert pending[news["url"]].reason == "hashtag"
    for c in pending.values():
        queue.approve(c.id, "ana", clock.now())
    report = await app.run_once()
    details = sorted(o.detail for o in report.outcomes)
    assert details == ["added to the opportunities as #1", "done"]
    (listed,) = OpportunityList(store).all()
    assert (listed.title, listed.url, listed.kind) == (
        "Beca de investigación para estudiantes, cierra el 30 de abril",
        "https://becas.example.mx/inv",
        "scholarship",
    )
    assert listed.deadline is not None
    assert (listed.deadline.month, listed.deadline.day) == (4, 30)
    assert sandbox.reblogs_of(offer["id"]) == []  # not boosted
    assert len(sandbox.reblogs_of(news["id"])) == 1
    assert queue.show(pending[offer["url"]].id).state == "amplified"


def _race(config: dict[str, Any], db_url: str, workers: int) -> list[tuple[str, list[tuple[str, str]]]]:
    from tests.bot.series import race_worker

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=race_worker.run, args=(config, db_url, SLOT.isoformat(), f"worker-{n}", barrier, results)
        )
        for n in range(workers)
    ]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return sorted(out)


async def test_two_worker_processes_racing_a_slot_publish_it_once(
    db_url: str, engine: Engine, store: Store, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    config = {
        **BASE_CONFIG,
        **series_config(
            sandbox,
            schedule=[
                {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": "America/Chicago"},
                {
                    "name": "interview",
                    "kind": "interview",
                    "cron": "0 9 * * mon",
                    "timezone": "America/Chicago",
                },
            ],
        ),
        "database": {"url": db_url},
    }
    runner: SeriesRunner = SeriesRunner(store, {}, _settings(config), clock, worker="setup", catalog=REGISTRY)
    add_opportunities(store, 12, clock.now())
    await confirmed_interview(runner, clock)
    parts = runner.digest("en", Platform.MASTODON, SLOT.date()).parts
    assert len(parts) > 2
    before = len(sandbox.requests)
    results = await asyncio.to_thread(_race, config, db_url, 2)
    posts = [r for r in sandbox.requests[before:] if r == ("POST", "/api/v1/statuses")]
    assert len(posts) == len(parts) + 1  # every part and the interview, each asked for once
    assert len(central_statuses(sandbox)) == len(parts) + 1
    done = [(w, s) for w, outcomes in results for s in outcomes if s[1] == "done"]
    assert sorted(s for _, s in done) == [("digest", "done"), ("interview", "done")]
    others = [s for _, outcomes in results for s in outcomes if s[1] != "done"]
    assert all(state in ("busy", "already") for _, state in others)
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Publication.series, m.Publication.state, m.Publication.parts_total)
        ).all()
        assert sorted(tuple(r) for r in rows) == [("digest", "done", len(parts)), ("interview", "done", 1)]
        assert (
            conn.execute(select(func.count()).select_from(m.PublicationPart)).scalar_one() == len(parts) + 1
        )


def _settings(config: dict[str, Any]) -> Settings:
    return parse(config, Environment({"MASTODON_TOKEN": TOKEN}), schemas=settings_class)
