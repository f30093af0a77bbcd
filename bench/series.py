"""The series' figures: composing a 200-opportunity digest for Mastodon, Bluesky and Telegram
(each platform's limits and markup from its adapter class), and finding the due slots among
50 configured series, both as a scheduler that asks every minute and from cold."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from adapters.registry import limits_for, markup_for
from bench.registry import group
from bot.domain import Platform
from bot.series.digest import DigestContext, compose_digest
from bot.series.markup import Markup
from bot.series.opportunities import Opportunity
from bot.series.schedule import Schedule
from bot.series.templates import KINDS, templates_for

DAY = date(2026, 3, 9)
ROUNDS = 30
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles", "Europe/Madrid", "America/Mexico_City")


def opportunities(n: int, seed: int = 7) -> list[Opportunity]:
    """Believable entries: titles of varied length with accents and the odd emoji, long links,
    most with a deadline, some closing soon, some with eligibility tags."""
    rng = random.Random(seed)
    words = [
        "Beca",
        "Fellowship",
        "rotación",
        "médicas",
        "residents",
        "estudiantes",
        "research",
        "cardiología",
        "🎓",
        "Núñez",
    ]
    out = []
    for i in range(n):
        title = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        out.append(
            Opportunity(
                id=i,
                kind=KINDS[i % len(KINDS)],
                title=f"{title} {i}",
                organisation=rng.choice(["", "AAMC", "Fundación de Médicas Latinas", "LMSA"]),
                url=f"https://opportunities.example.org/{rng.randint(1000, 9999)}/apply?id={i}&ref=digest",
                deadline=None if i % 9 == 0 else DAY + timedelta(days=rng.randint(0, 120)),
                eligibility=tuple(rng.sample(["students", "residents", "faculty"], rng.randint(0, 2))),
                language=rng.choice([None, "en", "es"]),
                submitted_by="bench",
                source="import",
                created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
            )
        )
    return out


def _compose_all(items: list[Opportunity]) -> int:
    ctx = DigestContext("Latinas in Medicine", "#LatinasInMedicine", "#opportunity")
    templates = templates_for("en", {}, "bench")
    parts = 0
    for platform in Platform:
        digest = compose_digest(
            items,
            day=DAY,
            templates=templates,
            limits=limits_for(platform),
            markup=Markup(markup_for(platform)),
            context=ctx,
        )
        parts += len(digest.parts)
    return parts


def _schedule(n: int) -> Schedule:
    rules = []
    for i in range(n):
        if i % 5 == 0:
            cron = f"{i % 60} {6 + i % 12} * * *"  # daily
        elif i % 5 == 1:
            cron = f"0 {8 + i % 10} 1 * *"  # monthly
        else:
            cron = f"{(i * 7) % 60} {7 + i % 12} * * {('mon', 'tue,thu', '1-5')[i % 3]}"  # weekly-ish
        rules.append((f"series-{i}", cron, ZONES[i % len(ZONES)]))
    return Schedule.of(rules)


@group(
    "series",
    [
        ("digest_compose_ms", "ms", "<= 50"),
        ("due_slots_ms", "ms", "<= 5"),
        ("due_slots_cold_ms", "ms", "reported"),
        ("due_slots_with_store_ms", "ms", "reported"),
    ],
)
def measure() -> dict[str, float]:
    items = opportunities(200)
    _compose_all(items)  # imports the adapters' modules once, as a running bot has
    compose = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        _compose_all(items)
        compose.append((time.perf_counter() - t0) * 1000)

    grace = timedelta(hours=6)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    warm_schedule = _schedule(50)
    warm_schedule.due(start, grace)
    warm, cold = [], []
    for minute in range(1, 24 * 60, 7):  # a scheduler asking through a day
        now = start + timedelta(minutes=minute)
        t0 = time.perf_counter()
        warm_schedule.due(now, grace)
        warm.append((time.perf_counter() - t0) * 1000)
    for minute in range(0, 24 * 60, 96):
        fresh = _schedule(50)  # a restart: nothing computed yet
        t0 = time.perf_counter()
        fresh.due(start + timedelta(minutes=minute), grace)
        cold.append((time.perf_counter() - t0) * 1000)
    with_store = _due_with_store(warm_schedule, grace)
    return {
        "digest_compose_ms": round(statistics.median(compose), 2),
        "due_slots_ms": round(statistics.median(warm), 3),
        "due_slots_cold_ms": round(statistics.median(cold), 2),
        "due_slots_with_store_ms": round(with_store, 2),
    }


def _due_with_store(schedule: Schedule, grace: timedelta) -> float:
    """Due slots plus what the runner then reads: the grace window's publications, on SQLite
    holding a year of history for the 50 series."""
    import logging
    import tempfile
    from pathlib import Path

    from bot.clock import FakeClock
    from bot.series.publisher import Publisher
    from bot.store import models as m
    from bot.store.migrate import upgrade
    from bot.store.store import Store, make_engine

    logging.disable(logging.INFO)  # the migration's log lines are not figures
    now = datetime(2027, 3, 2, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        store = Store.open(engine, "bench", "Bench", now)
        history = [
            {
                "community_id": store.community_id,
                "series": name,
                "slot": now - timedelta(days=d, hours=i % 7),
                "platform": platform.value,
                "state": "done",
                "parts_total": 1,
                "started_at": now,
                "plan": "[]",
            }
            for i, name in enumerate(schedule.rules)
            for d in range(1, 366)
            for platform in Platform
        ]
        with engine.begin() as conn:
            conn.execute(m.table(m.Publication).insert(), history)
        publisher = Publisher(store, {}, FakeClock(now), worker="bench")
        times = []
        for minute in range(0, 600, 7):
            at = now + timedelta(minutes=minute)
            t0 = time.perf_counter()
            schedule.due(at, grace)
            publisher.states_since(at - grace)
            times.append((time.perf_counter() - t0) * 1000)
        engine.dispose()
    logging.disable(logging.NOTSET)
    return statistics.median(times)
