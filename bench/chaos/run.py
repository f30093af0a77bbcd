"""The chaos run from start to end: a world, two workers on a fresh PostgreSQL schema, the
traffic with faults, the drain, the counts (the ``chaos`` group of ``python -m bench``)."""

from __future__ import annotations

import os
import random
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.registry import settings_class
from bench.chaos.checks import Checks
from bench.chaos.common import FAULT_RATE, Made
from bench.chaos.common import fresh_schema as _schema
from bench.chaos.common import now as _now
from bench.chaos.common import say as _say
from bench.chaos.traffic import Traffic
from bench.chaos.world import Workers, World
from bench.registry import group
from bot.config import Settings, load
from bot.curation.queue import Queue
from bot.schema import Environment
from bot.store.store import Store, make_engine


class Chaos:
    def __init__(self, seconds: float, seed: int) -> None:
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.made = Made()

    def run(self) -> dict[str, float]:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, _schema() as db_url:
            directory = Path(tmp)
            world = World(self.rng).start()
            try:
                config, env = world.config(directory, db_url)
                settings = load(config, Environment({**os.environ, **env}), schemas=settings_class)
                engine = make_engine(db_url)
                workers = Workers(config, env, directory)
                try:
                    return self._run(world, settings, engine, workers, directory)
                finally:
                    workers.stop()
                    engine.dispose()
            finally:
                world.stop()

    def _run(
        self, world: World, settings: Settings, engine: Any, workers: Workers, directory: Path
    ) -> dict[str, float]:
        from bot.store.migrate import upgrade

        upgrade(engine)
        store = Store.open(engine, settings.community.slug, settings.community.name, _now())
        queue = Queue(store, settings)
        checks = Checks(self.made)
        self._opportunities(store)
        for name in ("w1", "w2"):
            workers.start(name)
        world.faults(FAULT_RATE)
        _say(f"{self.seconds:.0f} s of traffic with {FAULT_RATE:.0%} of platform calls failing…")
        Traffic(self.seconds, self.rng, self.made).drive(world, store, queue, workers)
        world.faults(0)
        injected = world.injected()
        _say(f"traffic over ({injected} faults, {self.made.restarts} restarts); draining…")
        drained = checks.drain(world, store, engine, workers)
        workers.stop()
        counts = checks.count(world, store, engine, drained)
        counts["chaos_faults_injected"] = float(injected)
        counts["chaos_restarts"] = float(self.made.restarts)
        logs = "".join(p.read_text(errors="replace") for p in directory.glob("w*.log"))
        counts["chaos_worker_tracebacks"] = float(logs.count("Traceback"))
        keep = os.environ.get("COALESCE_CHAOS_KEEP")
        if keep:  # the workers' logs, for a person to read after a bad run
            Path(keep).mkdir(parents=True, exist_ok=True)
            for log in directory.glob("w*.log"):
                (Path(keep) / log.name).write_bytes(log.read_bytes())
        return counts

    def _opportunities(self, store: Store) -> None:
        from bot.series.opportunities import OpportunityDraft, OpportunityList

        book = OpportunityList(store)
        for i in range(6):
            book.add(
                OpportunityDraft(
                    f"Research fellowship number {i}",
                    f"https://grants.example.org/chaos/{i}",
                    kind="scholarship",
                    organisation="Fundación de Médicas Latinas",
                    deadline=(_now() + timedelta(days=20 + i)).date(),
                ),
                _now(),
            )


@group(
    "chaos",
    [
        ("chaos_duplicates", "count", "0"),
        ("chaos_lost", "count", "0"),
        ("chaos_optout_violations", "count", "0"),
        ("chaos_faults_injected", "count", "hundreds"),
        ("chaos_restarts", "count", ">= 2"),
        ("chaos_posts", "count", "hundreds"),
        ("chaos_amplified", "count", "-"),
        ("chaos_taken_back", "count", "-"),
        ("chaos_digest_slots", "count", "2"),
        ("chaos_handed_to_curators", "count", "few (answers lost on Telegram)"),
        ("chaos_untracked_after_optout", "count", "0 (or a handed-over copy)"),
        ("chaos_worker_tracebacks", "count", "0"),
    ],
)
def chaos() -> dict[str, float]:
    seconds = float(os.environ.get("COALESCE_CHAOS_SECONDS", "60"))
    seed = int(os.environ.get("COALESCE_CHAOS_SEED", "7"))
    return Chaos(seconds, seed).run()
