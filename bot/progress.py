"""How far a long job has got, told to the person waiting for it.

On a terminal a live bar with counts and an estimate (``rich``); anywhere else (a pipe, a log
file, a service) plain log lines, a few per step, so a log never fills with redraws. Jobs take
a ``Progress`` from their caller; ``Progress.silent()`` says nothing, for tests and services.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

log = logging.getLogger(__name__)

Advance = Callable[[int], None]  # "this many more done"

LOG_EVERY_S = 10.0  # plain mode: at most one line per step this often, besides start and end


class Progress:
    """``step(what, total)`` is a context manager giving a function to call with each bit done."""

    def __init__(self, *, mode: str = "log", stream: TextIO | None = None) -> None:
        if mode not in ("live", "log", "silent"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.stream = stream

    @classmethod
    def silent(cls) -> Progress:
        return cls(mode="silent")

    @classmethod
    def for_terminal(cls) -> Progress:
        """A live bar when stdout is a terminal (drawn on stderr, so what a command prints
        stays clean), log lines otherwise."""
        return cls(mode="live" if _is_tty(sys.stdout) else "log", stream=sys.stderr)

    @classmethod
    def for_stream(cls, stream: TextIO) -> Progress:
        """A live bar on ``stream`` when it is a terminal, log lines otherwise."""
        return cls(mode="live" if _is_tty(stream) else "log", stream=stream)

    @contextmanager
    def step(self, what: str, total: int | None = None, unit: str = "") -> Iterator[Advance]:
        if self.mode == "silent":
            yield _nothing
        elif self.mode == "live":
            with self._live(what, total) as advance:
                yield advance
        else:
            with self._logged(what, total, unit) as advance:
                yield advance

    @contextmanager
    def _live(self, what: str, total: int | None) -> Iterator[Advance]:
        from rich.console import Console  # only a terminal pays for the import
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        console = Console(file=self.stream or sys.stderr)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
        with Bar(*columns, console=console, transient=False) as bar:
            task = bar.add_task(what, total=total)

            def advance(n: int) -> None:
                bar.advance(task, n)

            yield advance

    @contextmanager
    def _logged(self, what: str, total: int | None, unit: str) -> Iterator[Advance]:
        started = last = time.monotonic()
        done = 0
        of = f" of {total:,}" if total is not None else ""
        log.info("%s: started%s", what, f" ({total:,} {unit})".rstrip() if total is not None else "")

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.monotonic()
            if now - last < LOG_EVERY_S:
                return
            last = now
            so_far = f"{done:,}{of} {unit}".strip()
            log.info("%s: %s%s", what, so_far, _estimate(done, total, now - started))

        yield advance
        log.info("%s: done, %s in %.1fs", what, f"{done:,} {unit}".strip(), time.monotonic() - started)


def _estimate(done: int, total: int | None, elapsed: float) -> str:
    """The ", about 40s left" part, from the pace so far; empty when it cannot be told."""
    if total is None or done <= 0 or done >= total:
        return ""
    return f", about {elapsed / done * (total - done):.0f}s left"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed file
        return False


def _nothing(n: int) -> None:
    """Progress nobody listens to."""
