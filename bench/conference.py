"""Conference mode's figures: composing one day's highlights from 200 approved posts for
Mastodon, Bluesky and Telegram (each platform's limits and markup from its adapter class)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from adapters.registry import limits_for, markup_for
from bench.registry import group
from bot.conference.highlights import Highlight, compose_highlights
from bot.domain import Platform
from bot.series.markup import Markup

ROUNDS = 30
WORDS = ["plenary", "poster", "mentorship", "cirugía", "residentes", "equity", "🎤", "Núñez", "panel", "talk"]


def highlights(n: int, seed: int = 14) -> list[Highlight]:
    rng = random.Random(seed)
    start = datetime(2027, 10, 14, 14, 0, tzinfo=UTC)
    return [
        Highlight(
            handle=f"member{i}@med.example",
            name=rng.choice(["Dra. María Núñez", "Elena", "", "Dr. José Peña"]),
            url=f"https://med.example/@member{i}/{110_000_000 + i}",
            text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))) + " #ACSCC27",
            consent=rng.choice([None, None, None, "in", "out"]),
            approved_at=start + timedelta(minutes=i),
        )
        for i in range(n)
    ]


@group("conference", [("highlights_compose_ms", "ms", "<= 50")])
def measure() -> dict[str, float]:
    items = highlights(200)
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for platform in Platform:
            parts = compose_highlights(
                conference="ACS Clinical Congress",
                tag="ACSCC27",
                day=date(2027, 10, 14),
                day_number=1,
                items=items,
                limits=limits_for(platform),
                markup=Markup(markup_for(platform)),
            )
            assert parts
        times.append((time.perf_counter() - began) * 1000)
    return {"highlights_compose_ms": statistics.median(times)}
