"""The report as people read it: terminal table, CSV, PNG chart, HTML page, monthly post."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.dates import date2num

from bot.report import chart, render
from bot.report.compute import build_report
from bot.report.model import Report
from bot.report.numbers import compose_numbers, last_month
from tests.bot.report.conftest import SINCE, UNTIL, Seeded

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def report(seeded: Seeded) -> Report:
    return build_report(seeded.store, seeded.settings, SINCE, UNTIL)


def test_the_terminal_table_shows_each_section(report: Report) -> None:
    text = render.terminal(report)
    assert text.startswith("Latinas in Medicine — reach report 2026-03-01 to 2026-03-31 (both days included)")
    for heading in ("HASHTAG POSTS AND ENGAGEMENT", "AUTHORS", "CURATION", "SPOTLIGHT", "TOP POSTS"):
        assert heading in text
    posts = next(line for line in text.splitlines() if line.strip().startswith("hashtag posts"))
    assert posts.split()[-4:] == ["3", "7", "2", "12"]  # bluesky, mastodon, telegram, all
    assert "16.7%" in text  # the central account's share
    assert "3 of 4 known (75.0%)" in text
    assert "1h 00m" in text  # median time to decision
    assert "4h 00m" in text  # p90
    assert "quiet@med.example" not in text


def test_the_csv_round_trips(report: Report, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    render.write_csv(report, path)
    rows = render.read_csv(path)
    assert rows == report.rows()
    cells = {(s, metric, key): value for s, metric, key, value in rows}
    assert int(cells[("posts", "hashtag_posts", "all")]) == report.total.posts == 12
    assert float(cells[("posts", "central_share", "all")]) == report.central_share
    assert float(cells[("spotlight", "gini", "all")]) == report.spotlight.gini
    assert datetime.fromisoformat(cells[("period", "since", "all")]) == SINCE
    assert cells[("curation", "decision_p90_minutes", "all")] == "240"
    assert cells[("top_posts", "url", "1")].endswith("/b1")


def test_reading_something_else_as_a_report_csv_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("platform,handle\nmastodon,maria\n")
    with pytest.raises(ValueError, match="not a reach report CSV"):
        render.read_csv(path)


def test_the_chart_spans_the_period_and_is_a_png(report: Report, tmp_path: Path) -> None:
    figure = chart.draw(report)
    axes = figure.get_axes()
    assert len(axes) == 2
    for ax in axes:
        assert ax.get_xlim() == pytest.approx((date2num(SINCE), date2num(UNTIL)))
    bars = axes[0].patches
    assert [round(b.get_height()) for b in bars] == [w.posts for w in report.weeks]
    path = tmp_path / "reach.png"
    chart.save(report, path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000  # a drawn chart, not an empty canvas


def test_an_empty_period_still_draws_and_renders(seeded: Seeded, tmp_path: Path) -> None:
    since = datetime(2025, 6, 1, tzinfo=UTC)
    empty = build_report(seeded.store, seeded.settings, since, since + timedelta(days=3))
    figure = chart.draw(empty)
    assert figure.get_axes()[1].get_xlim() == pytest.approx((date2num(since), date2num(empty.until)))
    assert chart.png(empty).startswith(PNG_MAGIC)
    assert "(nothing in this period)" in render.terminal(empty)
    assert "–" in render.terminal(empty)  # undefined shares say so instead of dividing by zero


def test_the_html_page_is_self_contained(report: Report) -> None:
    page = render.html_page(report, chart.png(report))
    assert page.startswith("<!doctype html>")
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert found is not None
    assert base64.b64decode(found.group(1)).startswith(PNG_MAGIC)
    assert not re.search(r'(src|href)="(?!data:|https?://)', page)  # nothing to fetch beside it
    assert "<h2>Spotlight</h2>" in page
    assert '<a href="https://mastodon.example/m1">' in page


def test_html_escapes_what_members_wrote(report: Report) -> None:
    from dataclasses import replace

    from bot.report.model import TopPost

    evil = TopPost("mastodon", "<script>alert(1)</script>", "https://x.example/1", SINCE, 1, 0, 0, 0)
    page = render.html_page(replace(report, top_posts=(evil,)))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_the_monthly_post_in_numbers(report: Report) -> None:
    text = compose_numbers(report)
    assert text.splitlines()[0] == "Latinas in Medicine in numbers, March 2026:"
    assert (
        "12 posts with #LatinasInMedicine #LatinasEnMedicina by 7 members, 6 of them for the first time"
        in text
    )
    assert "78 likes, 8 reposts, 3 replies, 3 quotes" in text
    assert "4 posts amplified from 3 members (1 first-time contributors)" in text
    assert "+60 followers, 200 in all" in text
    assert "maria" not in text.lower()  # numbers only: nobody is named


def test_the_monthly_post_of_a_quiet_month(seeded: Seeded) -> None:
    since, until = last_month(datetime(2025, 7, 3, 9, tzinfo=UTC))
    assert (since, until) == (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
    text = compose_numbers(build_report(seeded.store, seeded.settings, since, until))
    assert "A quiet month: no posts with #LatinasInMedicine" in text


def test_last_month_across_a_year() -> None:
    assert last_month(datetime(2026, 1, 15, tzinfo=UTC)) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
