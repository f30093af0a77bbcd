"""A guard for tests: fails when store work runs on the event loop's thread.

Inside ``with store_work_off_the_loop(engine):`` (entered from the async test, so on the loop's
thread) every SQL statement the engine executes is checked: one executed on the loop's own
thread is recorded with where it came from, and the block fails on exit naming them all.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def store_work_off_the_loop(engine: Engine) -> Iterator[list[str]]:
    loop_thread = threading.get_ident()
    offenders: list[str] = []
    executed: list[int] = []

    def check(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        executed.append(1)
        if threading.get_ident() == loop_thread:
            caller = next(
                (
                    f"{frame.filename}:{frame.lineno} {frame.name}"
                    for frame in reversed(traceback.extract_stack())
                    if "/bot/" in frame.filename
                ),
                "?",
            )
            offenders.append(f"{statement.split(None, 1)[0]} from {caller}")

    event.listen(engine, "before_cursor_execute", check)
    try:
        yield offenders
    finally:
        event.remove(engine, "before_cursor_execute", check)
    assert executed, "the guarded block did no store work at all: the guard proved nothing"
    assert not offenders, "store work on the event loop:\n" + "\n".join(offenders)
