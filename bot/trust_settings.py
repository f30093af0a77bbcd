"""``trust`` in the config: consent links, undo and deletion checks, health, request budgets, flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import ConfigError
from bot.flags import FlagSettings


@dataclass(frozen=True)
class TrustSettings:
    # How long a link code (given only in private) stays good, and then how long the account it
    # was given to has to confirm in private once it has been entered from another account.
    link_code_minutes: float = 15.0
    # Member requests (opt-out, opt-in, link, help, private messages) one sender gets answered in
    # a window; a flood beyond it is dropped unanswered (an opt-out that changes something is
    # still done and answered).
    requests_per_sender: int = 20
    requests_window_minutes: float = 60.0
    freeze_undo_hours: float = 24.0  # freezing a member takes back their boosts of this long ago
    recheck_days: float = 7.0  # amplified posts this young are looked up again (deleted?)
    recheck_minutes: float = 10.0  # how often; 0: never
    recheck_batch: int = 40  # posts per platform per round (the platforms' budgets are shared)
    cycle_seconds: float = 15.0  # how often requests, undos and the consent sweep are worked
    health_stale_minutes: float = 15.0  # `bot health` fails when a watch is quiet for longer
    budget_fraction: float = 0.9  # share of each platform's published rate limit we allow ourselves
    flags: FlagSettings = field(default_factory=FlagSettings)

    def validate(self, key: str) -> None:
        for name in ("link_code_minutes", "freeze_undo_hours", "recheck_days", "cycle_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{key}.{name}", "expected a positive number")
        if not 0 < self.link_code_minutes <= 24 * 60:
            raise ConfigError(
                f"{key}.link_code_minutes", "expected minutes up to 1440 (codes are short-lived)"
            )
        if not 1 <= self.requests_per_sender <= 10_000:
            raise ConfigError(f"{key}.requests_per_sender", "expected a whole number from 1 to 10000")
        if not 1 <= self.requests_window_minutes <= 7 * 24 * 60:
            raise ConfigError(f"{key}.requests_window_minutes", "expected minutes from 1 to 10080")
        if self.recheck_minutes < 0:
            raise ConfigError(f"{key}.recheck_minutes", "expected 0 (off) or a positive number")
        if self.recheck_batch < 1:
            raise ConfigError(f"{key}.recheck_batch", "expected 1 or more")
        if self.health_stale_minutes <= 0:
            raise ConfigError(f"{key}.health_stale_minutes", "expected a positive number of minutes")
        if not 0.1 <= self.budget_fraction <= 1.0:
            raise ConfigError(f"{key}.budget_fraction", "expected a share between 0.1 and 1.0")
