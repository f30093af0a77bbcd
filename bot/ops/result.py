"""The shape every operation returns: what happened, a sentence for people, data for machines."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Outcome(enum.Enum):
    DONE = "done"
    REFUSED = "refused"
    USAGE = "usage"


@dataclass(frozen=True)
class Result(Generic[T]):
    outcome: Outcome
    message: str
    data: T | None = None

    @property
    def exit_code(self) -> int:
        """0 done, 1 refused (the request was fine, the state said no), 2 a usage mistake."""
        return {Outcome.DONE: 0, Outcome.REFUSED: 1, Outcome.USAGE: 2}[self.outcome]

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "message": self.message, "data": _plain(self.data)}


def _plain(value: Any) -> Any:
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def done(message: str, data: T | None = None) -> Result[T]:
    return Result(Outcome.DONE, message, data)


def refused(message: str) -> Result[Any]:
    return Result(Outcome.REFUSED, message)


def usage(message: str) -> Result[Any]:
    return Result(Outcome.USAGE, message)
