"""No CSV cell the bot writes is a formula a spreadsheet would run (cells starting with ``=``,
``+``, ``-``, ``@``, a tab or a CR get a leading ``'``), numbers stay numbers, and every cell
reads back as exactly what was written. Members choose their display names: an export must
not turn ``=HYPERLINK("http://evil","click")`` into a live link on a curator's screen."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.main import main
from bot.curation.pipeline import Pipeline
from bot.domain import Author, Batch, Platform, Post
from bot.files import csv_cell, csv_text, csv_value
from bot.report import directory
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine
from tests.conftest import make_settings

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and text.strip() == text and "_" not in text
    except ValueError:
        return False


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_no_text_cell_starts_a_formula_and_each_reads_back(row: list[str]) -> None:
    written = _cells(csv_text(["a"] * len(row), [row]))[1]
    for original, cell in zip(row, written, strict=True):
        if not _is_number(original):
            assert not cell.startswith(TRIGGERS), (original, cell)
        assert csv_value(cell) == original


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.sampled_from(TRIGGERS).flatmap(lambda t: st.text().map(lambda s: t + s)),
        st.text(alphabet="=+-@\t\r'0123456789.eE ", min_size=1),
    )
)
def test_formula_looking_text_is_quoted(text: str) -> None:
    cell = csv_cell(text)
    if _is_number(text) and not text.startswith("'"):
        assert cell == text  # "-3.5", "+1e3": numbers, which a spreadsheet reads as numbers
    elif text.startswith(TRIGGERS) or text.startswith("'"):
        assert cell == "'" + text
    assert csv_value(cell) == text


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_stay_numbers(number: float) -> None:
    assert csv_cell(number) == number
    assert _cells(csv_text(["n"], [[number]]))[1] == [str(number)]


NAMES = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "María Pérez",
]


def test_members_export_and_report_csv_through_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'coalesce.db'}"
    settings = make_settings(database={"url": db})
    engine = make_engine(db)
    upgrade(engine)
    now = datetime.now(UTC)
    store = Store.open(engine, settings.community.slug, settings.community.name, now)
    posts = [
        Post(
            Platform.MASTODON,
            str(i),
            f"https://med.example/{i}",
            Author(str(i), f"m{i}@med.example", display_name=name),
            "Hi #LatinasInMedicine",
            now,
            frozenset({"latinasinmedicine"}),
        )
        for i, name in enumerate(NAMES)
    ]
    Pipeline(settings, store).ingest(Platform.MASTODON, Batch("hashtag", "9", posts), now)
    # as stored (control characters at the edges of a name are cleaned on the way in)
    stored = {member.display_name for member in directory.members(store, settings).members}
    assert NAMES[0] in stored
    engine.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"community: {{slug: lim, name: LIM, hashtags: [LatinasInMedicine]}}\ndatabase: {{url: '{db}'}}\n"
    )

    export = tmp_path / "members.csv"
    assert main(["members", "export", "--csv", str(export), "--config", str(config)]) == 0
    rows = _cells(export.read_text(encoding="utf-8"))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(TRIGGERS) or _is_number(cell), (row, cell)
    names = {r["display_name"] for r in directory.read_csv(export)}
    assert names == stored  # read back as written

    report = tmp_path / "report.csv"
    today = now.date().isoformat()
    assert (
        main(
            [
                "report",
                "--since",
                "2026-01-01",
                "--until",
                today,
                "--csv",
                str(report),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    for row in _cells(report.read_text(encoding="utf-8"))[1:]:
        for cell in row:
            assert not cell.startswith(TRIGGERS) or _is_number(cell), (row, cell)
