"""No store work on the event loop: the amplifier and the series (runner and publisher) do theirs
in worker threads (bot.durable.run_sync), checked by a guard on the engine (tests.loop_guard)
while they boost, hold, retry and publish through the real Mastodon.py and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.mastodon.adapter import MastodonAdapter
from adapters.registry import REGISTRY
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.amplifier import Amplifier
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from bot.trust.service import TrustService
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import SLOT, add_opportunities, series_config
from tests.conftest import make_settings
from tests.loop_guard import store_work_off_the_loop
from tests.mastodon_adapter import sandbox_adapter

TOKEN = "sekrit-token-value"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN, clock=clock.now) as sb:
        yield sb


@pytest.fixture
def adapter(sandbox: MastodonSandbox, clock: FakeClock) -> MastodonAdapter:
    return sandbox_adapter(sandbox.base_url, TOKEN, clock)


async def approved(
    store: Store,
    settings: Settings,
    adapter: MastodonAdapter,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    n: int,
) -> list[str]:
    """``n`` member posts with the hashtag, taken in and approved; their sandbox ids."""
    ids = []
    pipeline, queue = Pipeline(settings, store), Queue(store, settings)
    for i in range(n):
        who = sandbox.add_account(f"member{i}")
        status = sandbox.post(who, f"Residency match day {i} #LatinasInMedicine")
        batch = Batch(source="tag", cursor=None, posts=[await adapter.resolve(str(status["id"]))])
        assert pipeline.ingest(Platform.MASTODON, batch, clock.now()).stored == 1
        ids.append(str(status["id"]))
    for view in queue.list("pending"):
        queue.approve(view.id, "ana", clock.now())
    return ids


async def test_the_amplifier_works_the_store_off_the_loop(
    store: Store, settings: Settings, adapter: MastodonAdapter, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    await adapter.start()
    statuses = await approved(store, settings, adapter, sandbox, clock, 3)
    amplifier = Amplifier(store, {Platform.MASTODON: adapter}, settings, clock, worker="w1")
    trust = TrustService(store, {Platform.MASTODON: adapter}, settings, clock, worker="w1")
    amplifier.vetoes.append(trust.veto)
    sandbox.faults.add(r"/reblog$", Fault("status", status=503), times=1, method="POST")
    with store_work_off_the_loop(store.engine):
        first = await amplifier.run_due()  # one refused for now (retried later), two boosted
        clock.advance(hours=2)
        second = await amplifier.run_due()
        assert await amplifier.run_due() == []
    assert sorted(o.ok for o in first) == [False, True, True]
    assert [o.ok for o in second] == [True]
    assert [len(sandbox.reblogs_of(s)) for s in statuses] == [1, 1, 1]
    await adapter.close()


async def test_reconciling_after_a_restart_works_the_store_off_the_loop(
    store: Store, settings: Settings, adapter: MastodonAdapter, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    await adapter.start()
    await approved(store, settings, adapter, sandbox, clock, 2)
    dead = Amplifier(store, {Platform.MASTODON: adapter}, settings, clock, worker="w1")
    # w1 dies holding both candidates: each claimed, an intent row written, nothing sent
    for cid in dead.work.due(clock.now()):
        assert dead.work.claim(cid, clock.now())
    restarted = Amplifier(store, {Platform.MASTODON: adapter}, settings, clock, worker="w1")
    with store_work_off_the_loop(store.engine):
        assert await restarted.reconcile() == 0  # leases freed; no intent row was left open
        outcomes = await restarted.run_due()
    assert sorted(o.ok for o in outcomes) == [True, True]
    await adapter.close()


async def test_the_series_work_the_store_off_the_loop(
    store: Store, adapter: MastodonAdapter, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    settings = make_settings(**series_config(sandbox))
    runner = SeriesRunner(store, {Platform.MASTODON: adapter}, settings, clock, worker="w1", catalog=REGISTRY)
    add_opportunities(store, 12, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    with store_work_off_the_loop(store.engine):
        (outcome,) = await runner.run_due()
        clock.advance(minutes=30)
        assert await runner.run_due() == []
    assert (outcome.series, outcome.state) == ("digest", "done")
    assert outcome.published == outcome.total > 1
