"""The faults the chaos run injects: one in ten platform calls fails at random, in every way a
platform can fail (5xx, 429, hangs, drops, broken JSON, answers lost after the work was done)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from bench.chaos.common import now as _now
from sandbox._server import Fault

if TYPE_CHECKING:
    from sandbox.world import SandboxWorld


class _ResetSoon(Mapping[str, str]):
    """Headers of an injected Mastodon 429 that say the budget is back in two seconds (a fault,
    not a spent budget: the real window's headers would make the bot wait out five minutes)."""

    def _now(self) -> dict[str, str]:
        reset = (_now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}

    def __getitem__(self, key: str) -> str:
        return self._now()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return 3


def inject(world: SandboxWorld, rate: float, rng: random.Random) -> None:
    """From now on ``rate`` of every platform call meets a fault (0: no more); each sandbox draws
    its faults from its own generator, seeded from ``rng``."""
    common = [
        Fault("status", 500),
        Fault("status", 502),
        Fault("status", 503),
        Fault("drop"),
        Fault("hang", seconds=4.0),
        Fault("malformed"),
        Fault("delay_after", seconds=4.0),
    ]
    throttled = Fault("status", 429, headers=_ResetSoon())  # type: ignore[arg-type]
    world.mastodon.faults.at_random(rate, [*common, throttled], random.Random(rng.random()))
    world.bluesky.faults.at_random(rate, common, random.Random(rng.random()), r"^/xrpc/")
    telegram_429 = Fault("status", 429, headers={"Retry-After": "1"})
    world.telegram.faults.at_random(
        rate, [*common, telegram_429], random.Random(rng.random()), r"(?i)^/bot[^/]*/(?!getupdates)"
    )
