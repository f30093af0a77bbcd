"""Imports tell the person waiting how far they have got: a live bar with counts on a terminal,
log lines anywhere else, and nothing printed by the operation itself (the command line passes the
progress in). A refused file starts no progress: nothing was imported."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from adapters.registry import REGISTRY
from bot import progress
from bot.clock import FakeClock
from bot.ops import interviews, opportunities
from bot.ops.result import Outcome
from bot.progress import Progress
from bot.series.opportunities import OpportunityList
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from tests.bot.ops.test_series_ops import NOW, series_settings


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def opportunities_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "opportunities.yaml"
    lines = [f"- {{title: Scholarship {i}, url: 'https://grants.example/{i}'}}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def answers_file(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "answers.yaml"
    answers = "{role: Residente, goals: Cardiología}"
    entries = [f"- name: {name}\n  language: es\n  answers: {answers}" for name in names]
    path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    return path


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.progress"]


def test_an_opportunities_import_on_a_terminal_shows_a_bar_with_counts(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    screen = Terminal()
    result = opportunities.import_file(
        store, series_settings(), NOW, "rosa", opportunities_file(tmp_path, 3), Progress.for_stream(screen)
    )
    assert result.outcome is Outcome.DONE
    assert len(OpportunityList(store).all()) == 3
    drawn = screen.getvalue()
    assert "importing opportunities" in drawn
    assert "3/3" in drawn
    assert capsys.readouterr() == ("", "")  # the operation itself prints nothing


def test_an_opportunities_import_into_a_pipe_logs_counts_and_an_estimate(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = Progress.for_stream(io.StringIO())
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a line at every entry, to read them all
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        result = opportunities.import_file(
            store, series_settings(), NOW, "rosa", opportunities_file(tmp_path, 3), piped
        )
    assert result.outcome is Outcome.DONE
    lines = progress_lines(caplog)
    assert lines[0] == "importing opportunities: started (3 entries)"
    assert lines[1].startswith("importing opportunities: 1 of 3 entries, about ")
    assert lines[1].endswith("s left")
    assert lines[-1].startswith("importing opportunities: done, 3 entries in ")


def test_a_refused_import_starts_no_progress(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {title: Fine, url: 'https://fine.example'}\n- {title: No link}\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        result = opportunities.import_file(store, series_settings(), NOW, "rosa", bad, Progress(mode="log"))
    assert result.outcome is Outcome.REFUSED
    assert progress_lines(caplog) == []
    assert OpportunityList(store).all() == []


def test_an_answers_import_on_a_terminal_shows_a_bar_with_counts(
    store: Store, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = series_settings()
    runner = SeriesRunner(store, {}, settings, clock, worker="test", catalog=REGISTRY)
    screen = Terminal()
    path = answers_file(tmp_path, ["Dra. María Pérez", "Dra. Inés Ruiz"])
    result = interviews.import_answers(runner, NOW, "rosa", path, Progress.for_stream(screen))
    assert result.outcome is Outcome.DONE
    assert result.data is not None
    assert len(result.data) == 2
    drawn = screen.getvalue()
    assert "importing answers" in drawn
    assert "2/2" in drawn
    assert capsys.readouterr() == ("", "")


def test_an_answers_import_into_a_pipe_logs_each_interview(
    store: Store,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = series_settings()
    runner = SeriesRunner(store, {}, settings, clock, worker="test", catalog=REGISTRY)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    path = answers_file(tmp_path, ["Dra. María Pérez", "Dra. Inés Ruiz"])
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        result = interviews.import_answers(runner, NOW, "rosa", path, Progress.for_stream(io.StringIO()))
    assert result.outcome is Outcome.DONE
    lines = progress_lines(caplog)
    assert lines[0] == "importing answers: started (2 interviews)"
    assert lines[1].startswith("importing answers: 1 of 2 interviews, about ")
    assert lines[-1].startswith("importing answers: done, 2 interviews in ")


def test_without_a_progress_an_import_says_nothing_of_it(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        path = opportunities_file(tmp_path, 2)
        result = opportunities.import_file(store, series_settings(), NOW, "rosa", path)
    assert result.outcome is Outcome.DONE
    assert progress_lines(caplog) == []
