"""``python -m bench`` prints every figure a run measured, marking the ones not asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bench import __main__ as bench_main
from bench.registry import GROUPS, Group, group


@pytest.fixture
def two_figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    runs: list[str] = []
    saved = dict(GROUPS)  # the real registry, put back afterwards

    @group("pair", [("pair_fast_s", "s", "<= 1"), ("pair_slow_s", "s", "<= 9")])
    def measure() -> dict[str, float]:
        runs.append("pair")
        return {"pair_fast_s": 0.5, "pair_slow_s": 7.25, "pair_extra": 3.0}

    monkeypatch.setattr(bench_main, "load_all", lambda: None)  # only the pair is measured
    yield runs
    GROUPS.clear()
    GROUPS.update(saved)


def test_the_group_s_other_figures_are_printed_and_marked(
    two_figures: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main.main(["pair_fast_s"]) == 0
    assert two_figures == ["pair"]  # measured once
    lines = capsys.readouterr().out.splitlines()
    fast = next(line for line in lines if line.startswith("pair_fast_s"))
    slow = next(line for line in lines if line.startswith("pair_slow_s"))
    extra = next(line for line in lines if line.startswith("pair_extra"))
    assert "0.50" in fast
    assert "also measured" not in fast
    assert "7.25" in slow
    assert slow.endswith("(also measured, not asked for)")
    assert "3.00" in extra


def test_the_json_form_says_which_were_asked(
    two_figures: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main.main(["pair_slow_s", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pair_slow_s"] == {"value": 7.25, "unit": "s", "target": "<= 9", "asked": True}
    assert out["pair_fast_s"]["asked"] is False
    assert isinstance(GROUPS["pair"], Group)
