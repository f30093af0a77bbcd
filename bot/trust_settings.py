"""``trust`` in the config: consent links, undo and deletion checks, health, request budgets, flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.discovery import PlatformSignals
from bot.errors import ConfigError
from bot.flags import FlagSettings


@dataclass(frozen=True)
class TrustSettings:
    link_code_hours: float = 24.0  # how long a code from `link` stays good
    freeze_undo_hours: float = 24.0  # freezing a member takes back their boosts of this long ago
    recheck_days: float = 7.0  # amplified posts this young are looked up again (deleted?)
    recheck_minutes: float = 10.0  # how often; 0: never
    recheck_batch: int = 40  # posts per platform per round (the platforms' budgets are shared)
    cycle_seconds: float = 15.0  # how often requests, undos and the consent sweep are worked
    health_stale_minutes: float = 15.0  # `bot health` fails when a watch is quiet for longer
    budget_fraction: float = 0.9  # share of each platform's published rate limit we allow ourselves
    flags: FlagSettings = field(default_factory=FlagSettings)
    # Which of the members' own platform signals (not discoverable, noindex, logged-in users
    # only) hold their posts back until they opt in; all of them unless turned off here.
    respect_platform_signals: PlatformSignals = field(default_factory=PlatformSignals)

    def validate(self, key: str) -> None:
        for name in ("link_code_hours", "freeze_undo_hours", "recheck_days", "cycle_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{key}.{name}", "expected a positive number")
        if self.recheck_minutes < 0:
            raise ConfigError(f"{key}.recheck_minutes", "expected 0 (off) or a positive number")
        if self.recheck_batch < 1:
            raise ConfigError(f"{key}.recheck_batch", "expected 1 or more")
        if self.health_stale_minutes <= 0:
            raise ConfigError(f"{key}.health_stale_minutes", "expected a positive number of minutes")
        if not 0.1 <= self.budget_fraction <= 1.0:
            raise ConfigError(f"{key}.budget_fraction", "expected a share between 0.1 and 1.0")
