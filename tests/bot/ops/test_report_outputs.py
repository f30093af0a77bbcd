"""The report's CSV and chart as a face serves them (no file written): the same rows ``--csv``
writes and the same picture ``--chart`` draws."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.ops import report
from bot.store.store import Store
from tests.bot.ops.test_report_ops import NOW
from tests.bot.ops.test_report_ops import seeded_settings as seeded_settings


def test_csv_and_chart_of_a_report_made_match_its_files(
    store: Store, seeded_settings: Settings, tmp_path: Path
) -> None:
    csv, chart = tmp_path / "r.csv", tmp_path / "r.png"
    made = report.report(store, seeded_settings, NOW, csv=csv, chart=chart)
    assert made.data is not None
    text = report.csv_text(made.data)
    assert text == csv.read_bytes().decode("utf-8")
    assert text.startswith("section,metric,key,value")
    png = report.chart_png(made.data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 1000
