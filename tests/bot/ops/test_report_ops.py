"""The report operations called directly: periods as people write them, the report and its files
(all or none), the member directory and its marks, refresh, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import report
from bot.ops.result import Outcome
from bot.store.store import Store
from tests.bot.report.conftest import seed
from tests.conftest import make_settings

NOW = datetime(2026, 4, 15, 10, 30, tzinfo=UTC)  # a Wednesday; the seeded community's March is last month


@pytest.mark.parametrize(
    ("since", "until", "first", "last", "so_far"),
    [
        (None, None, date(2026, 3, 1), date(2026, 3, 31), False),  # the default: the last full month
        ("last-month", None, date(2026, 3, 1), date(2026, 3, 31), False),
        ("yesterday", None, date(2026, 4, 14), date(2026, 4, 14), False),
        ("today", None, date(2026, 4, 15), date(2026, 4, 15), True),
        ("30d", None, date(2026, 3, 16), date(2026, 4, 15), True),
        ("2w", None, date(2026, 4, 1), date(2026, 4, 15), True),
        ("last-week", None, date(2026, 4, 6), date(2026, 4, 12), False),
        ("this-month", None, date(2026, 4, 1), date(2026, 4, 15), True),
        ("2026-02", None, date(2026, 2, 1), date(2026, 2, 28), False),
        ("2026-03-01", None, date(2026, 3, 1), date(2026, 4, 15), True),  # a first day alone runs to now
        ("2026-03-01", "2026-03-31", date(2026, 3, 1), date(2026, 3, 31), False),
        ("2026-03-01", "last-month", date(2026, 3, 1), date(2026, 3, 31), False),
        ("2026-01", "yesterday", date(2026, 1, 1), date(2026, 4, 14), False),
    ],
)
def test_periods_as_people_write_them(
    since: str | None, until: str | None, first: date, last: date, so_far: bool
) -> None:
    p = report.period(since, until, NOW)
    assert (p.first_day, p.last_day, p.so_far) == (first, last, so_far)
    assert p.since == datetime.combine(first, datetime.min.time(), UTC)
    assert "both days included" in p.label
    if since:
        assert f"--since {since}" in p.label


def test_periods_refused() -> None:
    with pytest.raises(ValueError, match="cannot read 'last tuesday' as a date: try 2026-03-01"):
        report.period("last tuesday", None, NOW)
    with pytest.raises(ValueError, match="--until must come after --since"):
        report.period("2026-03-10", "2026-03-01", NOW)
    with pytest.raises(ValueError, match="give --since too"):
        report.period(None, "2026-03-01", NOW)
    with pytest.raises(ValueError, match="starts after now"):
        report.period("2026-05-01", "2026-05-31", NOW)
    with pytest.raises(ValueError, match="cannot read '2026-13'"):
        report.check_days("2026-13")


@pytest.fixture
def seeded_settings(store: Store) -> Settings:
    settings = make_settings(directory__organisations=["clinic.bsky.social"])
    seed(store, settings)
    return settings


def test_the_report_for_last_month_and_its_files(
    store: Store, seeded_settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    csv, page = out / "r.csv", out / "r.html"
    made = report.report(store, seeded_settings, NOW, csv=csv, html=page)
    assert made.outcome is Outcome.DONE
    assert made.data is not None
    assert (made.data.period.first_day, made.data.period.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    assert made.message.startswith("period: 2026-03-01 to 2026-03-31, both days included (UTC)")
    assert made.data.written == [str(csv), str(page)]
    assert csv.read_text(encoding="utf-8").startswith("section,metric,key,value")
    assert "<html" in page.read_text(encoding="utf-8")
    shown = made.as_json()
    json.dumps(shown)
    posts = {p["platform"]: p["posts"] for p in shown["data"]["report"]["platforms"]}
    assert isinstance(posts["mastodon"], int)
    assert sorted(p.name for p in out.iterdir()) == ["r.csv", "r.html"]  # no temporary file left


def test_an_output_that_cannot_be_written_leaves_nothing(
    store: Store, seeded_settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    csv = out / "r.csv"
    missing = out / "no" / "such" / "dir" / "r.html"
    made = report.report(store, seeded_settings, NOW, since="2026-03", csv=csv, html=missing)
    assert (made.outcome, made.exit_code) == (Outcome.USAGE, 2)
    assert made.message.startswith(f"cannot write {missing}: ")
    assert "\n" not in made.message
    assert list(out.iterdir()) == []  # the CSV was not left behind either
    bad_period = report.report(store, seeded_settings, NOW, since="2026-03-10", until="2026-03-01")
    assert bad_period.outcome is Outcome.USAGE


def test_members_marks_and_export(store: Store, seeded_settings: Settings, tmp_path: Path) -> None:
    listed = report.members(store, seeded_settings, platform=Platform.BLUESKY)
    assert listed.data is not None
    assert {m.handle for m in listed.data.members} == {"rosa.bsky.social", "clinic.bsky.social"}
    assert report.members(store, seeded_settings, limit=0).outcome is Outcome.USAGE
    marked = report.mark(store, seeded_settings, "ana", "@tgmember", organisation=True)
    assert marked.message == "@tgmember (telegram) now counts as an organisation."
    assert marked.data is not None
    assert marked.data.organisation
    assert report.mark(store, seeded_settings, "ana", "nobody", organisation=True).outcome is Outcome.REFUSED
    assert report.mark(store, seeded_settings, "mallory", "@tgmember", organisation=True).exit_code == 2
    path = tmp_path / "m.csv"
    exported = report.export_members(store, seeded_settings, path)
    assert exported.data is not None
    assert exported.data.count == 7
    assert path.read_text(encoding="utf-8").count("\n") == 8
    nowhere = report.export_members(store, seeded_settings, tmp_path / "missing" / "m.csv")
    assert nowhere.outcome is Outcome.USAGE


def test_refresh_without_platforms_says_so(store: Store, settings: Settings) -> None:
    result = asyncio.run(report.refresh(store, {}, settings, FakeClock(NOW)))
    assert result.outcome is Outcome.USAGE
    assert result.message.startswith(
        "configuration: no platform is configured, so there is nothing to refresh"
    )
