"""``trust`` in the config: consent links, undo and deletion checks, health, request budgets, flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.curation.flags import FlagSettings
from bot.schema import number
from bot.trust.discovery import PlatformSignals

YEAR_HOURS = 24 * 366
MONTH_MINUTES = 31 * 24 * 60


@dataclass(frozen=True)
class TrustSettings:
    # How long a link code (given only in private) stays good, and then how long the account it
    # was given to has to confirm in private once it has been entered from another account.
    link_code_minutes: float = number(15.0, 0, 24 * 60, above=True, unit="minutes")
    # Member requests (opt-out, opt-in, link, help, private messages) one sender gets answered in
    # a window; a flood beyond it is dropped unanswered (an opt-out that changes something is
    # still done and answered).
    requests_per_sender: int = number(20, 1, 10_000)
    requests_window_minutes: float = number(60.0, 1, 7 * 24 * 60, unit="minutes")
    # freezing a member takes back their boosts of this long ago
    freeze_undo_hours: float = number(24.0, 0, YEAR_HOURS, above=True, unit="hours")
    # amplified posts this young are looked up again (deleted?)
    recheck_days: float = number(7.0, 0, 3650, above=True, unit="days")
    recheck_minutes: float = number(10.0, 0, MONTH_MINUTES, unit="minutes", zero="never")  # how often
    # posts per platform per round (the platforms' budgets are shared)
    recheck_batch: int = number(40, 1, 10_000)
    # how often requests, undos and the consent sweep are worked
    cycle_seconds: float = number(15.0, 0, 86_400, above=True, unit="seconds")
    # `bot health` fails when a watch is quiet for longer
    health_stale_minutes: float = number(15.0, 0, MONTH_MINUTES, above=True, unit="minutes")
    # share of each platform's published rate limit we allow ourselves
    budget_fraction: float = number(0.9, 0.1, 1.0)
    flags: FlagSettings = field(default_factory=FlagSettings)
    # Which of the members' own platform signals (not discoverable, noindex, logged-in users
    # only) hold their posts back until they opt in; all of them unless turned off here.
    respect_platform_signals: PlatformSignals = field(default_factory=PlatformSignals)
