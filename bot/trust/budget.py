"""Request budgets: each platform's published rate limits, kept to a share (90 % by default) so
that in normal operation no 429 ever comes back.

An adapter declares its limits (Mastodon: 300 requests per 5 minutes per account, and 30
unreblogs or deletes per 30 minutes; Bluesky: 3000 requests per 5 minutes and 5000 write points
per hour; Telegram: 20 messages a minute per group) and spends from its budget before each call.
Two guards: a sliding window counted here, and what the server says is left (shared by every
worker on the same account), so several workers together stay under the limit too.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    """``capacity`` units (requests, points, messages) per ``period`` seconds, per key."""

    unit: str
    capacity: int
    period: float


@dataclass
class _Window:
    allowed: int
    period: float
    spent: deque[tuple[datetime, int]] = field(default_factory=deque)
    used: int = 0
    server_block_until: datetime | None = None

    def expire(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.period)
        while self.spent and self.spent[0][0] <= horizon:
            self.used -= self.spent.popleft()[1]

    def wait(self, now: datetime, cost: int) -> float:
        self.expire(now)
        blocked = 0.0
        if self.server_block_until is not None:
            blocked = max(0.0, (self.server_block_until - now).total_seconds())
            if blocked == 0.0:
                self.server_block_until = None
        if self.used + cost <= self.allowed:
            return blocked
        # The earliest moment enough of what was spent leaves the window.
        need = self.used + cost - self.allowed
        freed = 0
        for when, amount in self.spent:
            freed += amount
            if freed >= need:
                return max(blocked, (when + timedelta(seconds=self.period) - now).total_seconds())
        return max(blocked, self.period)  # a single cost above the whole budget: wait a full window

    def take(self, now: datetime, cost: int) -> None:
        self.spent.append((now, cost))
        self.used += cost


class Budget:
    """One platform account's budget. When the next call would go over, ``spend`` raises
    RateLimited with the wait at once (no request is made), so a caller with other work (the
    amplifier, another platform) moves on and comes back; waits up to ``max_wait`` seconds are
    slept through instead, on the injected clock."""

    def __init__(
        self,
        limits: Sequence[Limit],
        clock: Clock,
        *,
        fraction: float = 0.9,
        max_wait: float = 0.0,
        name: str = "platform",
    ) -> None:
        self.limits = {limit.unit: limit for limit in limits}
        self.clock = clock
        self.fraction = fraction
        self.max_wait = max_wait
        self.name = name
        self._windows: dict[tuple[str, str], _Window] = {}
        self.waited = 0.0  # seconds spent waiting for the budget, for benchmarks and logs
        self.refused = 0  # times spend() raised rather than wait

    def _window(self, unit: str, key: str) -> _Window:
        found = self._windows.get((unit, key))
        if found is None:
            limit = self.limits[unit]
            allowed = max(1, math.floor(limit.capacity * self.fraction))
            found = self._windows[(unit, key)] = _Window(allowed, limit.period)
        return found

    def wait_for(self, costs: Mapping[str, int], key: str = "") -> float:
        """Seconds until ``costs`` (unit: amount) fit in every window; 0 when they fit now."""
        now = self.clock.now()
        return max(
            (self._window(unit, key).wait(now, cost) for unit, cost in costs.items() if unit in self.limits),
            default=0.0,
        )

    async def spend(self, costs: Mapping[str, int] | None = None, key: str = "") -> None:
        costs = costs or {"requests": 1}
        while True:
            wait = self.wait_for(costs, key)
            if wait <= 0:
                now = self.clock.now()
                for unit, cost in costs.items():
                    if unit in self.limits:
                        self._window(unit, key).take(now, cost)
                return
            if wait > self.max_wait:
                self.refused += 1
                raise RateLimited(wait, f"{self.name} request budget spent")
            self.waited += wait
            await self.clock.sleep(wait)

    def observe(
        self, unit: str, *, remaining: int | None, limit: int | None, reset_in: float | None, key: str = ""
    ) -> None:
        """What the server said is left of ``unit``: when that is down to the share we keep in
        reserve, hold every call until the server's window resets (other workers spend too)."""
        if unit not in self.limits:
            return
        if limit is not None and limit > 0:
            # The limit the server publishes for this account (an instance may set its own)
            # replaces the documented default; the share we allow ourselves stays the same.
            self._window(unit, key).allowed = max(1, math.floor(limit * self.fraction))
        if remaining is None or reset_in is None or reset_in <= 0:
            return
        capacity = limit or self.limits[unit].capacity
        reserve = capacity - math.floor(capacity * self.fraction)
        if remaining <= reserve:
            until = self.clock.now() + timedelta(seconds=reset_in)
            window = self._window(unit, key)
            if window.server_block_until is None or until > window.server_block_until:
                window.server_block_until = until
