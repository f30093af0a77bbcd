"""When each series publishes: cron rules in a time zone, turned into UTC slot times.

APScheduler's CronTrigger computes the fire times, but over *wall-clock* time (it is given
local times as if they were UTC), and each wall-clock time becomes an instant afterwards. So a
local time the clocks skip in spring becomes the instant just after the gap (02:30 → 03:30),
and a local time that happens twice in autumn becomes its first occurrence: no slot is ever
skipped or doubled by a daylight-saving change. Pure: the caller gives the time.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

# No zone moves its clocks by more than this at once, so looking this far either side of a
# window in wall-clock time finds every fire time whose instant falls inside it.
_SLACK = timedelta(hours=3)
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # standard cron numbering: 0 and 7 are Sunday
_DOW_ITEM = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")


def zone(name: str) -> ZoneInfo:
    """An IANA time zone; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name like America/Chicago)") from None


def _day(token: str) -> int:
    token = token.lower()
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    if token[:3] in _DAYS and len(token) >= 3:
        return _DAYS.index(token[:3])
    raise ValueError(f"{token!r} is not a day of the week (0-7 or mon…sun)")


def _day_of_week(text: str) -> str:
    """Standard cron's day-of-week field in APScheduler's terms: APScheduler numbers Monday 0,
    cron numbers Sunday 0, so numbers are spelled out as names."""
    if text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in text.split(","):
        m = _DOW_ITEM.match(item.strip())
        if not m:
            raise ValueError(f"cannot read day of week {item!r}")
        first, last, step = m.groups()
        if first == "*":
            lo, hi = 0, 6
        else:
            lo = _day(first)
            hi = _day(last) if last else (6 if step else lo)
            if last and last.isdigit() and int(last) == 7:
                hi = 7  # "1-7" means Monday through Sunday
        days.update(d % 7 for d in range(lo, hi + 1, int(step or 1)))
    return ",".join(_DAYS[d] for d in sorted(days, key=lambda d: (d + 6) % 7))


@lru_cache(maxsize=512)
def _trigger(expr: str) -> CronTrigger:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected five fields (minute hour day month day-of-week), got {len(fields)}")
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_day_of_week(dow), timezone=UTC
        )
    except ValueError as exc:
        raise ValueError(f"cannot read {expr!r}: {exc}") from None


@dataclass
class CronRule:
    """One cron expression in one time zone."""

    expr: str
    tz: ZoneInfo
    _trigger: CronTrigger = field(init=False, repr=False)
    # Every wall-clock fire time in [_lo, _hi), oldest first: time only moves forward, so a
    # scheduler that asks every minute extends this now and then instead of recomputing.
    _known: list[datetime] = field(default_factory=list, init=False, repr=False)
    _lo: datetime | None = field(default=None, init=False, repr=False)
    _hi: datetime | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._trigger = _trigger(self.expr)

    @classmethod
    def parse(cls, expr: str, tz_name: str) -> CronRule:
        return cls(" ".join(expr.split()), zone(tz_name))

    def ever_fires(self) -> bool:
        """Whether any date matches the rule at all: ``0 0 31 2 *`` (31 February) or
        ``0 9 31 4 *`` never does, and a series on it would silently never publish."""
        return self._trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is not None

    def wall(self, instant: datetime) -> datetime:
        """``instant``'s local wall-clock time, carried as a UTC-labelled datetime."""
        return instant.astimezone(self.tz).replace(tzinfo=UTC)

    def instant(self, wall: datetime) -> datetime:
        # fold=0: an ambiguous time is its first occurrence; a skipped time is read with the
        # offset from before the gap, which lands just after the gap.
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)

    def _walls(self, start: datetime, end: datetime) -> list[datetime]:
        """Wall-clock fire times in ``[start, end]``."""
        if self._lo is None or self._hi is None or not self._lo <= start <= self._hi:
            self._lo = self._hi = start
            self._known = []
        elif len(self._known) > 256:
            keep = bisect_left(self._known, start)
            self._known, self._lo = self._known[keep:], start
        while self._hi <= end:
            fire: datetime | None = self._trigger.get_next_fire_time(None, self._hi)
            if fire is None:  # the rule never fires again
                self._hi = datetime.max.replace(tzinfo=UTC)
                break
            self._known.append(fire)
            self._hi = fire + timedelta(seconds=1)
        return self._known[bisect_left(self._known, start) : bisect_right(self._known, end)]

    def between(self, after: datetime, until: datetime) -> list[datetime]:
        """Slot instants (UTC) in ``(after, until]``, oldest first, each once."""
        found = {
            instant
            for wall in self._walls(self.wall(after) - _SLACK, self.wall(until) + _SLACK)
            if after < (instant := self.instant(wall)) <= until
        }
        return sorted(found)

    def next_after(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next ``count`` slot instants strictly after ``after``."""
        out: list[datetime] = []
        window = timedelta(days=8)
        start = after
        for _ in range(400):  # a rule like "29 Feb" needs years; give up after ~9 years
            out.extend(self.between(start, start + window))
            if len(out) >= count:
                return out[:count]
            start, window = start + window, window * 2 if window < timedelta(days=400) else window
        return out


@dataclass(frozen=True)
class Slot:
    """One fire time of one series."""

    series: str
    at: datetime  # UTC


@dataclass
class Schedule:
    """Every series' rule by name; answers which slots are due, missed or next."""

    rules: dict[str, CronRule]

    @classmethod
    def of(cls, rules: Iterable[tuple[str, str, str]]) -> Schedule:
        """From (series name, cron expression, time zone) triples."""
        return cls({name: CronRule.parse(expr, tz) for name, expr, tz in rules})

    def _slots(self, after: datetime, until: datetime, names: Sequence[str] | None = None) -> list[Slot]:
        out = [
            Slot(name, at)
            for name, rule in self.rules.items()
            if names is None or name in names
            for at in rule.between(after, until)
        ]
        return sorted(out, key=lambda s: (s.at, s.series))

    def due(self, now: datetime, grace: timedelta) -> list[Slot]:
        """Slots in the grace window ``(now - grace, now]``: to publish unless already done."""
        return self._slots(now - grace, now)

    def missed(self, since: datetime, now: datetime, grace: timedelta, series: str) -> list[Slot]:
        """Slots of ``series`` after ``since`` but older than the grace window: skipped."""
        return self._slots(since, now - grace, [series]) if since < now - grace else []

    def upcoming(self, now: datetime, count: int = 3) -> dict[str, list[datetime]]:
        return {name: rule.next_after(now, count) for name, rule in self.rules.items()}
