"""A report someone can put in a grant application: the period as typed, when it was made, what
the figures mean, unknown figures shown as unknown, blocked accounts apart, a chart that reads."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.dates import date2num
from sqlalchemy import update

from bot.report import chart, render
from bot.report.compute import build_report
from bot.report.model import PlatformNumbers, Report, Week
from bot.store import models as m
from tests.bot.report.conftest import MARIA, SINCE, UNTIL, Seeded

MADE = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def report(seeded: Seeded) -> Report:
    return build_report(seeded.store, seeded.settings, SINCE, UNTIL, made_at=MADE)


def test_the_period_reads_as_typed_with_the_last_day_included(report: Report) -> None:
    assert report.last_day.isoformat() == "2026-03-31"
    heading = "reach report 2026-03-01 to 2026-03-31 (both days included)"
    assert heading in render.terminal(report).splitlines()[0]
    page = render.html_page(report)
    assert f"<h1>Latinas in Medicine — {heading}" in page
    assert "exclusive" not in page


def test_the_date_it_was_made_is_on_every_form(report: Report, tmp_path: Path) -> None:
    assert "Made on 2026-04-02 at 09:30 UTC" in render.terminal(report).splitlines()[1]
    assert "<p>Made on 2026-04-02 at 09:30 UTC</p>" in render.html_page(report)
    cells = {(s, metric): value for s, metric, _, value in report.rows()}
    assert cells[("period", "made_at")] == MADE.isoformat()
    assert cells[("period", "last_day")] == "2026-03-31"


def test_the_html_page_explains_its_figures(report: Report) -> None:
    page = render.html_page(report)
    glossary = page[page.index("<h2>What the figures mean</h2>") :]
    for term in ("Gini", "Median time to decision", "Organisations", "Unique authors"):
        assert f"<dt>{term}</dt>" in glossary
    assert "<dt>–</dt>" in glossary


def test_telegram_counts_are_unknown_not_zero_everywhere(report: Report, tmp_path: Path) -> None:
    telegram = next(p for p in report.platforms if p.platform == "telegram")
    assert (telegram.likes, telegram.reposts, telegram.replies, telegram.quotes) == (None,) * 4
    assert telegram.engagement is None
    mastodon = next(p for p in report.platforms if p.platform == "mastodon")
    assert mastodon.quotes == 0  # Mastodon tells its counts: a real zero stays 0

    likes = next(line for line in render.terminal(report).splitlines() if line.strip().startswith("likes"))
    assert likes.split()[1:] == ["9", "69", "–", "78"]  # bluesky, mastodon, telegram, all
    page = render.html_page(report)
    row = re.search(r"<tr><td>likes</td>(.*?)</tr>", page)
    assert row is not None
    assert row.group(1) == "<td>9</td><td>69</td><td>–</td><td>78</td>"

    path = tmp_path / "report.csv"
    render.write_csv(report, path)
    cells = {(s, metric, key): value for s, metric, key, value in render.read_csv(path)}
    assert cells[("engagement", "likes", "telegram")] == ""  # empty: unknown
    assert cells[("engagement", "quotes", "mastodon")] == "0"
    assert cells[("engagement", "likes", "all")] == "78"


def test_a_period_where_no_platform_tells_counts_says_unknown_in_total() -> None:
    report = Report("C", ("tag",), SINCE, UNTIL, platforms=(PlatformNumbers("telegram", posts=3, authors=1),))
    assert report.total.likes is None
    assert report.total.posts == 3


def test_blocked_accounts_are_left_out_of_authors_and_shown_apart(seeded: Seeded) -> None:
    before = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    with seeded.store.engine.begin() as conn:
        conn.execute(
            update(m.Account).where(m.Account.platform_account_id == MARIA.account_id).values(blocked=True)
        )
    after = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    assert before.blocked_authors == 0
    assert after.blocked_authors == 1
    assert after.total.authors == before.total.authors - 1
    assert after.individuals == before.individuals - 1
    assert after.new_authors == before.new_authors - 1
    assert after.total.posts == before.total.posts  # her posts still happened
    first_week = after.weeks[0]
    assert first_week.authors == before.weeks[0].authors - 1  # m1 was hers
    line = next(x for x in render.terminal(after).splitlines() if "blocked accounts (left out above)" in x)
    assert line.split()[-1] == "1"


def test_the_chart_says_its_period_and_labels_its_axes(report: Report) -> None:
    figure = chart.draw(report)
    title = figure.get_suptitle()
    assert "01 Mar 2026 to 31 Mar 2026 (both days included)" in title
    top, bottom = figure.get_axes()
    assert top.get_ylabel() == "posts and authors per week"
    assert bottom.get_ylabel() == "followers of the\ncentral account"
    assert bottom.get_xlabel() == "week starting (UTC)"


def test_the_chart_marks_the_short_last_week(report: Report) -> None:
    assert report.weeks[-1].partial
    assert not any(w.partial for w in report.weeks[:-1])
    top = chart.draw(report).get_axes()[0]
    hatches = [bar.get_hatch() for bar in top.patches]
    assert hatches[-1] == "//"
    assert not any(hatches[:-1])
    _, labels = top.get_legend_handles_labels()
    assert "a short week (3 days, the period ends)" in labels


def test_the_chart_draws_followers_per_platform(report: Report) -> None:
    bottom = chart.draw(report).get_axes()[1]
    _, labels = bottom.get_legend_handles_labels()
    assert labels == ["bluesky", "mastodon"]  # one line each, not their sum
    mastodon = next(line for line in bottom.get_lines() if line.get_label() == "mastodon")
    assert list(mastodon.get_ydata()) == [100, 110, 130, 150]  # from the last count before March


def test_the_legends_stand_clear_of_the_bars(report: Report) -> None:
    figure = chart.draw(report)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in figure.get_axes():
        legend = ax.get_legend()
        assert legend is not None
        box, plot = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.y0 >= plot.y1 - 1  # above the plotting area, not over it


def test_the_chart_labels_the_year_where_it_changes() -> None:
    since = datetime(2026, 12, 14, tzinfo=UTC)
    until = datetime(2027, 1, 11, tzinfo=UTC)
    weeks = tuple(Week(since + timedelta(days=7 * i), 1, 1, None) for i in range(4))
    figure = chart.draw(Report("C", ("tag",), since, until, weeks=weeks))
    bottom = figure.get_axes()[1]
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels == ["14 Dec\n2026", "21 Dec", "28 Dec", "04 Jan\n2027"]
    assert bottom.get_xlim() == pytest.approx((date2num(since), date2num(until)))


def test_the_html_chart_is_still_inside_the_page(report: Report) -> None:
    page = render.html_page(report, chart.png(report))
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert found is not None
    assert base64.b64decode(found.group(1)).startswith(b"\x89PNG")


def test_the_report_tells_its_progress_week_by_week(seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.progress import Progress

    with caplog.at_level(logging.INFO, logger="bot.progress"):
        build_report(seeded.store, seeded.settings, SINCE, UNTIL, progress=Progress(mode="log"))
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.progress"]
    assert "counting posts week by week: started (5 weeks)" in messages
    assert any(x.startswith("counting posts week by week: done, 5 weeks in ") for x in messages)
