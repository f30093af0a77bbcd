"""The one result type every operation returns: an outcome, the message to show, and the data.

The console shows `message`; the command line prints it (or `as_json()` with ``--json``) and exits
with `exit_code`: 0 done, 1 refused (already decided, not found, frozen…), 2 usage (bad input or
configuration the person must fix).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Outcome(enum.Enum):
    DONE = "done"
    REFUSED = "refused"
    USAGE = "usage"


_EXIT_CODES = {Outcome.DONE: 0, Outcome.REFUSED: 1, Outcome.USAGE: 2}


@dataclass(frozen=True)
class Result(Generic[T]):
    outcome: Outcome
    message: str
    data: T | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self.outcome]

    def as_json(self) -> dict[str, Any]:
        """A dict `json.dumps` accepts: numbers stay numbers, dataclasses become dicts, datetimes
        ISO strings, enums their values."""
        return {
            "outcome": self.outcome.value,
            "message": self.message,
            "data": jsonable(self.data),
        }


def done(message: str, data: T | None = None) -> Result[T]:
    return Result(Outcome.DONE, message, data)


def refused(message: str) -> Result[Any]:
    return Result(Outcome.REFUSED, message)


def usage(message: str) -> Result[Any]:
    return Result(Outcome.USAGE, message)


def jsonable(value: Any) -> Any:
    """`value` with every part turned into something `json.dumps` takes as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


@dataclass(frozen=True)
class Stats:
    """The week's numbers of the queue (bot.ops.queue.stats); here so that the messages can word
    them without importing the queue's operations, which import the messages."""

    days: int
    seen: int
    queued: int
    approved: int
    rejected: int
    expired: int
    amplified: int
    median_seconds: float | None  # from queue to decision; None when nothing was decided
