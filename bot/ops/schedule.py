"""What goes out when: the next slots of every series, per platform, and how the last one went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.ops import series_messages as say
from bot.ops.result import Result, done, usage
from bot.series.runner import SeriesRunner
from bot.series.schedule import zone


@dataclass(frozen=True)
class LastSlot:
    at: datetime
    states: dict[str, str]  # platform -> state of its publication


@dataclass(frozen=True)
class SeriesSlots:
    name: str
    kind: str
    cron: str
    timezone: str
    platforms: list[str]
    languages: list[str]  # empty for interviews: each goes out in its member's language
    upcoming: list[datetime]  # UTC
    last: LastSlot | None = None


@dataclass(frozen=True)
class Schedule:
    now: datetime
    series: list[SeriesSlots] = field(default_factory=list)


def local(at: datetime, tz: str) -> str:
    return at.astimezone(zone(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def upcoming(runner: SeriesRunner, now: datetime, count: int = 3) -> Result[Schedule]:
    """The next ``count`` slots of every series on the schedule, the platforms each goes to,
    and the state of its last slot on each platform. A series with no platform to go to is a
    configuration problem, said as such."""
    if count < 1:
        return usage("--count: give at least 1 slot per series")
    if not runner.rules:
        return done(say.nothing_scheduled(), Schedule(now))
    slots = runner.schedule.upcoming(now, count)
    out: list[SeriesSlots] = []
    lines: list[str] = []
    for name, rule in runner.rules.items():
        tz = runner.settings.series.zone_of(rule)
        platforms = [p.value for p in runner.platforms(rule)]
        langs = list(runner.languages(rule)) if rule.kind == "digest" else []
        where = ", ".join(platforms) or "no platform"
        shown_langs = ", ".join(langs) if rule.kind == "digest" else "each interview's own"
        lines.append(f"{name} ({rule.kind}) — {rule.cron} in {tz}; on {where}; languages: {shown_langs}")
        lines += [f"  {local(at, tz)}   ({at:%Y-%m-%d %H:%M} UTC)" for at in slots[name]]
        rows = runner.publisher.rows(series=name) + [
            r for e in runner.editions(rule) if e.key != name for r in runner.publisher.rows(series=e.key)
        ]
        last = None
        if rows:
            latest = max(r.slot for r in rows)
            last = LastSlot(latest, {r.platform.value: r.state for r in rows if r.slot == latest})
            states = ", ".join(f"{p}: {s}" for p, s in last.states.items())
            lines.append(f"  last slot {local(latest, tz)}: {states}")
        out.append(SeriesSlots(name, rule.kind, rule.cron, tz, platforms, langs, slots[name], last))
    if not any(s.platforms for s in out):
        return usage(say.no_platform_configured("no series can be published") + "\n" + "\n".join(lines))
    return done("\n".join(lines), Schedule(now, out))
