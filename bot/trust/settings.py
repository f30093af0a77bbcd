"""``trust`` in the config: consent links, undo and deletion checks, health, request budgets, flags
(read by ``bot.curation.flags``) and the platform signals respected (``bot.trust.discovery``).
Settings only: this module imports no other part of the bot but the schema, so the config can."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from bot.errors import ConfigError
from bot.schema import number

YEAR_HOURS = 24 * 366
MONTH_MINUTES = 31 * 24 * 60

# Patterns that suggest a post may identify a patient. Case-insensitive; English and Spanish,
# as the communities this bot serves write in both. A community adds its own in the config.
DEFAULT_PATIENT_PATTERNS: tuple[str, ...] = (
    r"\b(?:d\.?o\.?b\.?|date of birth|fecha de nacimiento)\b\s*[:#]?\s*\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}",
    r"\b(?:mrn|medical record (?:number|no\.?|#)|chart (?:number|no\.?|#)|n[úu]mero de expediente)"
    r"\s*[:#]?\s*\d{4,}",
    r"\bmy (?:patient|pt)\b.{0,80}?\b\d{1,3}[\s-]?(?:yo|y/o|years?[- ]old|[mf])\b",
    r"\b\d{1,3}[\s-]?(?:yo|y/o|years?[- ]old)\b.{0,80}?\bmy (?:patient|pt)\b",
    r"\bmi paciente\b.{0,80}?\b\d{1,3}\s?a[ñn]os\b",
    r"\bmy (?:patient|pt)\b.{0,60}?\b(?:room|bed|rm)\s*#?\s*\d{1,4}\b",
)

# The signals adapters read, by the names ``Author.withheld`` and the settings use, with what a
# curator reads on the card when one holds a post back.
SIGNALS: dict[str, str] = {
    "discoverable": "is not discoverable on their server",
    "noindex": "asks search engines not to index them",
    "no_unauthenticated": "asks to be shown only to logged-in users",
}


@dataclass(frozen=True)
class FlagSettings:
    """``trust.flags`` in the config: when a card gets which flag."""

    # an author's account younger than this
    new_account_days: float = number(30.0, 0, 36_500, unit="days", zero="off")
    many_mentions: int = number(5, 0, 10_000, zero="off")  # the post mentions this many accounts or more
    # this many replies from accounts that don't follow the author
    stranger_replies: int = number(10, 0, 1_000_000, zero="off")
    # how often an open candidate's replies are counted again
    pile_on_recheck_minutes: float = number(15.0, 0, 31 * 24 * 60, unit="minutes", zero="never")
    patient_patterns: tuple[str, ...] = DEFAULT_PATIENT_PATTERNS

    def validate(self, key: str) -> None:
        for i, pattern in enumerate(self.patient_patterns):
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(
                    f"{key}.patient_patterns[{i}]", f"not a regular expression ({exc})"
                ) from None

    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return _compiled(self.patient_patterns)


@functools.lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # Every card asks (fifty on a page of the web console): compiled once per set of patterns.
    return tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in patterns)


@dataclass(frozen=True)
class PlatformSignals:
    """``trust.respect_platform_signals``: which signals count as "not (yet) consenting".
    Every one is respected unless the community turns it off here."""

    discoverable: bool = True
    noindex: bool = True
    no_unauthenticated: bool = True

    def validate(self, key: str) -> None:
        for name in SIGNALS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{key}.{name}", "expected true or false")

    def respected(self) -> frozenset[str]:
        return frozenset(name for name in SIGNALS if getattr(self, name))


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
    # an undo or an answer to a member that failed is tried again after this long, doubling
    # each time (with jitter) up to the cap
    backoff_seconds: float = number(30.0, 0, 86_400, above=True, unit="seconds")
    backoff_max_seconds: float = number(3600.0, 0, 7 * 86_400, above=True, unit="seconds")
    # `bot health` fails when a watch is quiet for longer
    health_stale_minutes: float = number(15.0, 0, MONTH_MINUTES, above=True, unit="minutes")
    # share of each platform's published rate limit we allow ourselves
    budget_fraction: float = number(0.9, 0.1, 1.0)
    flags: FlagSettings = field(default_factory=FlagSettings)
    # Which of the members' own platform signals (not discoverable, noindex, logged-in users
    # only) hold their posts back until they opt in; all of them unless turned off here.
    respect_platform_signals: PlatformSignals = field(default_factory=PlatformSignals)
