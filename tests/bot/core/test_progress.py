"""Progress where people wait: a live bar with counts and an estimate on a terminal, a few plain
log lines anywhere else, nothing at all when nobody listens."""

from __future__ import annotations

import io
import logging

import pytest

from bot import progress
from bot.clock import FakeClock
from bot.progress import Progress
from bot.report.refresh import Refresher
from bot.store.store import Store


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_live_bar_with_counts() -> None:
    screen = Terminal()
    shown = Progress.for_stream(screen)
    assert shown.mode == "live"
    with shown.step("counting posts", total=4, unit="weeks") as done:
        for _ in range(4):
            done(1)
    out = screen.getvalue()
    assert "counting posts" in out
    assert "4/4" in out


def test_a_pipe_gets_log_lines_with_counts_and_an_estimate(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = Progress.for_stream(io.StringIO())
    assert piped.mode == "log"
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a line at every step, to read them all
    with caplog.at_level(logging.INFO, logger="bot.progress"), piped.step("importing", 3, "rows") as done:
        done(1)
        done(2)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "importing: started (3 rows)"
    assert lines[1].startswith("importing: 1 of 3 rows, about ")
    assert lines[1].endswith("s left")
    assert lines[-1].startswith("importing: done, 3 rows in ")


def test_a_command_whose_output_is_not_a_terminal_logs() -> None:
    assert Progress.for_terminal().mode == "log"  # pytest captures stdout: no terminal


def test_silent_progress_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), Progress.silent().step("x", 2) as done:
        done(2)
    assert [r for r in caplog.records if r.name == "bot.progress"] == []


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown progress mode"):
        Progress(mode="loud")


async def test_refresh_tells_its_progress(
    store: Store, settings: object, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    refresher = Refresher(store, {}, settings, clock, progress=Progress(mode="log"))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="bot.progress"):
        assert await refresher.run_once() == {}
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.progress"]
    assert messages[0] == "refreshing reach: started (0 platforms)"
    assert messages[-1].startswith("refreshing reach: done, 0 platforms in ")
