"""Slot times from cron rules: standard cron numbering, time zones, both daylight-saving changes,
the grace window. Pure: every time is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import ConfigError
from bot.series.schedule import CronRule, Schedule, Slot
from tests.conftest import make_settings

CHICAGO = "America/Chicago"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("dow", "weekdays"),
    [
        ("1", {0}),  # cron's 1 is Monday (APScheduler's own 1 would be Tuesday)
        ("0", {6}),
        ("7", {6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("1-5", {0, 1, 2, 3, 4}),
        ("*/2", {6, 1, 3, 5}),  # Sunday, Tuesday, Thursday, Saturday
        ("sat,SUN", {5, 6}),
    ],
)
def test_day_of_week_follows_standard_cron(dow: str, weekdays: set[int]) -> None:
    rule = CronRule.parse(f"0 9 * * {dow}", "UTC")
    slots = rule.between(utc(2026, 3, 1), utc(2026, 3, 15))
    assert {s.weekday() for s in slots} == weekdays
    assert all(s.hour == 9 and s.minute == 0 for s in slots)


def test_a_weekly_slot_keeps_its_local_time_across_the_spring_change() -> None:
    rule = CronRule.parse("0 9 * * mon", CHICAGO)
    slots = rule.next_after(utc(2026, 3, 1), 3)
    # 09:00 CST is 15:00 UTC; after 8 March, 09:00 CDT is 14:00 UTC.
    assert slots == [utc(2026, 3, 2, 15), utc(2026, 3, 9, 14), utc(2026, 3, 16, 14)]


def test_spring_forward_neither_skips_nor_doubles_a_slot_in_the_missing_hour() -> None:
    rule = CronRule.parse("30 2 * * *", CHICAGO)  # 02:30 does not exist on 8 March 2026
    slots = rule.between(utc(2026, 3, 6), utc(2026, 3, 11))
    assert slots == [
        utc(2026, 3, 6, 8, 30),
        utc(2026, 3, 7, 8, 30),
        utc(2026, 3, 8, 8, 30),  # 03:30 CDT, just after the gap
        utc(2026, 3, 9, 7, 30),
        utc(2026, 3, 10, 7, 30),
    ]


def test_fall_back_publishes_the_repeated_hour_once() -> None:
    rule = CronRule.parse("30 1 * * *", CHICAGO)  # 01:30 happens twice on 1 November 2026
    slots = rule.between(utc(2026, 10, 30), utc(2026, 11, 3))
    assert slots == [
        utc(2026, 10, 30, 6, 30),
        utc(2026, 10, 31, 6, 30),
        utc(2026, 11, 1, 6, 30),  # the first 01:30 (CDT); the second (07:30 UTC) is not a slot
        utc(2026, 11, 2, 7, 30),
    ]


def test_hourly_rule_across_fall_back_has_one_slot_per_wall_clock_hour() -> None:
    rule = CronRule.parse("0 * * * *", CHICAGO)
    slots = rule.between(utc(2026, 11, 1, 4), utc(2026, 11, 1, 9))
    local = [s.astimezone(rule.tz).strftime("%H:%M") for s in slots]
    assert local == ["00:00", "01:00", "02:00", "03:00"]
    assert len(set(slots)) == len(slots)


def test_due_and_missed_split_at_the_grace_window() -> None:
    schedule = Schedule.of([("digest", "0 9 * * mon", CHICAGO), ("interview", "0 12 * * thu", CHICAGO)])
    slot = utc(2026, 3, 2, 15)  # Monday 09:00 CST
    grace = timedelta(hours=6)
    assert schedule.due(slot - timedelta(seconds=1), grace) == []
    assert schedule.due(slot, grace) == [Slot("digest", slot)]
    assert schedule.due(slot + timedelta(hours=5, minutes=59), grace) == [Slot("digest", slot)]
    assert schedule.due(slot + timedelta(hours=6), grace) == []
    since = slot - timedelta(days=1)
    assert schedule.missed(since, slot + timedelta(hours=7), grace, "digest") == [Slot("digest", slot)]
    assert schedule.missed(since, slot + timedelta(hours=5), grace, "digest") == []


def test_asking_every_minute_gives_the_same_slots_as_asking_fresh() -> None:
    kept = Schedule.of([("a", "*/20 8-10 * * *", CHICAGO), ("b", "0 9 * * mon,thu", "Europe/Madrid")])
    grace = timedelta(hours=6)
    now = utc(2026, 3, 7, 0)
    while now < utc(2026, 3, 10):
        fresh = Schedule.of([("a", "*/20 8-10 * * *", CHICAGO), ("b", "0 9 * * mon,thu", "Europe/Madrid")])
        assert kept.due(now, grace) == fresh.due(now, grace), now
        now += timedelta(minutes=37)


def test_a_rule_for_29_february_finds_the_next_leap_year() -> None:
    assert CronRule.parse("0 0 29 2 *", "UTC").next_after(utc(2026, 3, 2), 2) == [
        utc(2028, 2, 29),
        utc(2032, 2, 29),
    ]


@pytest.mark.parametrize(
    ("rule", "key", "says"),
    [
        ({"cron": "0 25 * * mon"}, "series.schedule[0].cron", "higher than the maximum"),
        ({"cron": "0 9 * *"}, "series.schedule[0].cron", "five fields"),
        ({"cron": "0 9 * * funday"}, "series.schedule[0].cron", "not a day of the week"),
        ({"timezone": "America/Chicgo"}, "series.schedule[0].timezone", "unknown time zone"),
        ({"name": "Digest Weekly"}, "series.schedule[0].name", "short name"),
        ({"platforms": ["telegram"]}, "series.schedule[0].platforms[0]", "not configured"),
    ],
)
def test_a_bad_schedule_stops_start_up_naming_the_key(rule: dict[str, object], key: str, says: str) -> None:
    entry = {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", **rule}
    with pytest.raises(ConfigError) as err:
        make_settings(series={"schedule": [entry]})
    assert err.value.key == key
    assert says in err.value.reason
