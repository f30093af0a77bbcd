"""The figures the benchmarks report, each with its unit and its target."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

# Each module registers its figures when imported; later features add their module here.
MODULES = [
    "bench.ingest",
    "bench.rss",
    "bench.bluesky",
    "bench.report",
    "bench.series",
    "bench.telegram",
    "bench.chaos",
    "bench.conference",
    "bench.idle",
    "bench.web",
    "bench.web_live",
]


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    target: str
    group: str  # figures of one group are measured together by one function


@dataclass(frozen=True)
class Group:
    name: str
    figures: tuple[Figure, ...]
    measure: Callable[[], dict[str, float]]


GROUPS: dict[str, Group] = {}


def group(
    name: str, figures: list[tuple[str, str, str]]
) -> Callable[[Callable[[], dict[str, float]]], Callable[[], dict[str, float]]]:
    """Register ``measure`` as the function that produces these figures, measured in one run."""

    def wrap(measure: Callable[[], dict[str, float]]) -> Callable[[], dict[str, float]]:
        GROUPS[name] = Group(name, tuple(Figure(n, u, t, name) for n, u, t in figures), measure)
        return measure

    return wrap


def load_all() -> None:
    for module in MODULES:
        importlib.import_module(module)
