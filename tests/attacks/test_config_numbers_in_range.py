"""Every number in the config is finite and within a sensible range, or start-up says which key
and what range (``max_age_hours: 1e20`` used to pass ``check-config`` and then crash ``run``)."""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.registry import settings_class
from bot.cli.main import main
from bot.config import Settings, parse
from bot.domain import Platform
from bot.errors import ConfigError
from bot.schema import BOUNDS, Bounds, Environment

ENV = {"MT": "mastodon-token", "BP": "bluesky-password", "TT": "123:telegram-token"}
BASE: dict[str, Any] = {
    "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
    # enough curators for any approvals_required the range allows
    "curators": [{"name": f"c{i}"} for i in range(20)],
    "platforms": {
        "mastodon": {"api_base_url": "https://med.example", "access_token": "${MT}"},
        "bluesky": {"handle": "lim.bsky.social", "app_password": "${BP}"},
        # the nudge short and the expiry long, so either can take any value of its own range
        "telegram": {"bot_token": "${TT}", "nudge_after_hours": 0.001, "expire_after_days": 3650},
    },
}
# Rules between two keys: an in-range value may still be refused for these reasons, and only these.
CROSS = {"platforms.telegram.expire_after_days": "longer than nudge_after_hours"}


def _is_number(tp: Any) -> bool:
    if tp is bool:
        return False
    if tp in (int, float):
        return True
    return any(_is_number(a) for a in get_args(tp))


def _dataclass_in(tp: Any) -> Any:
    if dataclasses.is_dataclass(tp):
        return tp
    if get_origin(tp) in (tuple, list, typing.Union, types.UnionType):
        for arg in get_args(tp):
            found = _dataclass_in(arg)
            if found is not None:
                return found
    return None


def _walk(cls: Any, prefix: str) -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        path = f"{prefix}{f.name}"
        if path == "platforms":
            for platform in Platform:
                yield from _walk(settings_class(platform), f"platforms.{platform.value}.")
            continue
        inner = _dataclass_in(tp)
        if inner is not None:
            many = get_origin(tp) in (tuple, list)
            yield from _walk(inner, f"{path}[0]." if many else f"{path}.")
        elif _is_number(tp):
            yield path, f, tp


NUMERIC = list(_walk(Settings, ""))
KEYS = [path for path, _, _ in NUMERIC]


def test_every_numeric_key_declares_its_range() -> None:
    """A new numeric setting without a range fails here, before anyone can set it to 1e20."""
    assert len(KEYS) > 40  # the walk reaches every section and every platform
    missing = [path for path, f, _ in NUMERIC if BOUNDS not in f.metadata]
    assert missing == []


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        name, _, index = part.partition("[")
        if index:
            items = node.setdefault(name, [{}])
            if name == "curators":
                items[0].setdefault("name", "c0")
            node = items[0]
        else:
            node = node.setdefault(name, {})
    if last == "per_platform":
        value = {"mastodon": value}
    elif last == "community_chat_ids":
        value = [value]
    node[last] = value
    return data


def _accepts(tp: Any, value: Any) -> bool:
    """Whether the type alone takes ``value`` (a float where a whole number is expected does not)."""
    args = set(get_args(tp)) or {tp}
    if any(get_origin(a) in (tuple, Mapping) for a in args) or get_origin(tp) in (tuple, Mapping):
        args = {int}
    if int in args and isinstance(value, int):
        return True
    return float in args and isinstance(value, int | float)


def _check(path: str, f: dataclasses.Field[Any], tp: Any, value: Any) -> None:
    bounds: Bounds = f.metadata[BOUNDS]
    data = _set(BASE, path, value)
    if get_args(tp) and str in get_args(tp) and not isinstance(value, int):
        return  # channel_id takes text (@name) too; numbers only are this test's business
    expected_ok = _accepts(tp, value) and bounds.contains(float(value) if abs(value) < 1e300 else math.inf)
    err = _refusal(data)
    if err is None:
        assert expected_ok, f"{path}: {value!r} was accepted outside {bounds.describe()}"
        return
    assert err.key.startswith(path), (path, value, str(err))
    if expected_ok:
        assert path in CROSS, (path, value, str(err))
        assert CROSS[path] in err.reason, (path, value, str(err))
    else:
        assert err.reason.startswith("expected"), (path, value, str(err))
        if _accepts(tp, value) and str not in get_args(tp):  # out of range: the message gives it
            assert bounds.describe() in err.reason, (path, value, str(err))


def _refusal(data: dict[str, Any]) -> ConfigError | None:
    try:
        parse(data, Environment(ENV), schemas=settings_class)
    except ConfigError as err:
        return err
    return None


SPECIAL = [math.nan, math.inf, -math.inf, 1e20, -1, -1.0, 0, 0.0, 10**30, -(10**30), 2**63, 1e308]
values = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.integers(min_value=-1000, max_value=100_000),
    st.floats(min_value=-10, max_value=100_000),
)


@pytest.mark.parametrize(("path", "f", "tp"), NUMERIC, ids=KEYS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_every_number_is_finite_and_in_range(
    path: str, f: dataclasses.Field[Any], tp: Any, value: Any
) -> None:
    _check(path, f, tp, value)


@pytest.mark.parametrize(("path", "f", "tp"), NUMERIC, ids=KEYS)
def test_the_edges_of_each_range(path: str, f: dataclasses.Field[Any], tp: Any) -> None:
    b: Bounds = f.metadata[BOUNDS]
    for value in (b.low, b.high, b.low - 1, b.high + 1, b.high * 10, math.nextafter(b.high, math.inf)):
        if not isinstance(value, float) or value.is_integer():
            value = int(value)
        _check(path, f, tp, value)


def test_max_age_hours_1e20_is_refused_by_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "community: {slug: lim, name: LIM, hashtags: [X]}\ncuration:\n  max_age_hours: 1.0e+20\n"
    )
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "config error: curation.max_age_hours: expected a positive number of hours, at most 8784, got 1e+20"
    )
    config.write_text(config.read_text().replace("1.0e+20", ".nan"))
    assert main(["check-config", "--config", str(config)]) == 2
    assert "curation.max_age_hours: expected a positive number of hours, at most 8784, got nan" in (
        capsys.readouterr().err
    )


def _extreme_config(tmp_path: Path, high: bool) -> Path:
    """Every core number at the top (or the bottom) of its range, on the sandbox world."""
    data: dict[str, Any] = {
        "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
        "database": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "sandbox": {"enabled": True},
        "curators": [{"name": f"c{i}"} for i in range(20)],
    }
    for path, f, tp in NUMERIC:
        if path.startswith(("platforms.", "curators")):
            continue  # the sandbox world brings its own platform settings
        b: Bounds = f.metadata[BOUNDS]
        value: float = b.high if high else (b.low + 0.001 if b.above else b.low)
        if int in (set(get_args(tp)) or {tp}) or get_origin(tp) is not None:
            value = math.ceil(value)
        data = _set(data, path, value)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize("high", [True, False], ids=["highest", "lowest"])
def test_run_once_survives_every_number_at_the_edge_of_its_range(
    tmp_path: Path, high: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _extreme_config(tmp_path, high)
    assert main(["check-config", "--config", str(config)]) == 0
    code = main(["run", "--once", "--config", str(config)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert code == 0, out.err[-2000:]
    assert "mastodon:" in out.out  # the cycle went round every platform
