"""The one result type: outcomes, exit codes and a JSON form with numbers kept as numbers."""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.ops.result import Outcome, Result, done, refused, usage


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    at: datetime
    colour: Colour


@dataclass(frozen=True)
class Outer:
    count: int
    share: float
    inner: Inner
    ids: tuple[int, ...]


def test_each_outcome_has_its_exit_code() -> None:
    assert (done("ok").exit_code, refused("no").exit_code, usage("typo").exit_code) == (0, 1, 2)
    assert done("ok").ok
    assert not refused("no").ok
    assert not usage("typo").ok
    assert refused("no").outcome is Outcome.REFUSED
    assert usage("typo").data is None


def test_the_json_form_keeps_numbers_and_reads_dates_and_dataclasses() -> None:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    result: Result[Outer] = done("two", Outer(2, 0.5, Inner(at, Colour.RED), (3, 4)))
    shown = json.loads(json.dumps(result.as_json()))
    assert shown == {
        "outcome": "done",
        "message": "two",
        "data": {
            "count": 2,
            "share": 0.5,
            "inner": {"at": "2026-03-02T15:00:00+00:00", "colour": "red"},
            "ids": [3, 4],
        },
    }
    assert json.loads(json.dumps(refused("gone").as_json())) == {
        "outcome": "refused",
        "message": "gone",
        "data": None,
    }


def test_a_result_cannot_be_changed_after_the_fact() -> None:
    result = done("ok", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.message = "other"  # type: ignore[misc]
