"""Turns plain YAML data into frozen, typed settings objects, naming the key of any mistake.

Settings are dataclasses; this module reads their type hints, so each platform package can
declare its own settings class and get the same checking and the same messages for free.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from bot.errors import ConfigError

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET = "secret"  # field metadata marker: value comes from the environment and is never shown
BOUNDS = "bounds"  # field metadata: the range a number must fall in (see ``number``)
# A whole number without declared bounds must still fit the database's BIGINT and a C long.
_INT_LIMIT = 2**63 - 1


def secret_field(default: Any = dataclasses.MISSING) -> Any:
    """A settings field that holds a credential; it must be given as a ``${VAR}`` placeholder."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={SECRET: True})
    return dataclasses.field(default=default, metadata={SECRET: True})


def _num(value: float) -> str:
    """A number as a person wrote it: 72, 0.5, nan; a huge integer by its size."""
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 20 else f"{text[:3]}…({len(text)} digits)"
    if value.is_integer() and abs(value) <= 2**53:
        return str(int(value))
    return repr(value)


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The sensible range of one numeric setting: finite, from ``low`` to ``high``.

    ``above`` makes ``low`` itself excluded ("a positive number"); ``zero`` says what 0 means
    when 0 is allowed (``"off"``, ``"never"``) so the message can tell the reader.
    """

    low: float
    high: float
    above: bool = False
    unit: str = ""
    zero: str = ""

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.above and self.low == 0:
            return f"a positive number{' of' + unit if unit else ''}, at most {_num(self.high)}"
        if self.above:
            return f"more than {_num(self.low)} and at most {_num(self.high)}{unit}"
        low = f"{_num(self.low)} ({self.zero})" if self.zero and self.low == 0 else _num(self.low)
        return f"{low} to {_num(self.high)}{unit}"

    def check(self, value: Any, key: str) -> None:
        """Raise ConfigError naming ``key`` unless ``value`` (a number, or a list or mapping of
        numbers; None and text pass) is within bounds."""
        if value is None or isinstance(value, str | bool):
            return
        if isinstance(value, tuple):
            for i, item in enumerate(value):
                self.check(item, f"{key}[{i}]")
            return
        if isinstance(value, Mapping):
            for name, item in value.items():
                self.check(item, f"{key}.{name}")
            return
        if not self.contains(value):
            raise ConfigError(key, f"expected {self.describe()}, got {_num(value)}")


class _OutOfRange(ConfigError):
    """A number no setting could use (infinite, not a number, beyond 64 bits)."""

    def __init__(self, key: str, reason: str, value: float) -> None:
        super().__init__(key, reason)
        self.value = value


def number(
    default: Any = dataclasses.MISSING,
    low: float = 0,
    high: float = 0,
    *,
    above: bool = False,
    unit: str = "",
    zero: str = "",
) -> Any:
    """A numeric settings field with its sensible range. Every number a config can hold has
    one: an absurd value (``1e20`` hours, ``.nan``, a negative count) is refused at start-up,
    naming the key and the range, instead of crashing the bot later."""
    bounds = Bounds(float(low), float(high), above=above, unit=unit, zero=zero)
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={BOUNDS: bounds})
    if isinstance(default, tuple | type(None) | int | float | str):
        return dataclasses.field(default=default, metadata={BOUNDS: bounds})
    return dataclasses.field(default_factory=default, metadata={BOUNDS: bounds})


class Environment:
    """Expands ``${VAR}`` placeholders and remembers every expanded value, so logs can hide them."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(os.environ if values is None else values)
        self.secrets: set[str] = set()
        # The sandbox hands out its own credentials, so a credential left unset is no mistake there.
        self.unset_credential: str | None = None

    def expand(self, text: str, key: str, *, secret: bool) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if (name not in self._values or self._values[name] == "") and secret and self.unset_credential:
                return self.unset_credential
            if name not in self._values or self._values[name] == "":
                raise ConfigError(key, f"environment variable {name} is not set")
            value = self._values[name]
            if secret:
                self.secrets.add(value)
            return value

        return _PLACEHOLDER.sub(sub, text)

    def get(self, name: str) -> str | None:
        return self._values.get(name) or None


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "nothing"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"a list of {_describe(get_args(tp)[0])}"
    if origin in (dict, Mapping):
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    names = {
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        datetime: "a date and time",
    }
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def convert(tp: Any, value: Any, key: str, env: Environment, *, secret: bool = False) -> Any:
    """Check ``value`` against type ``tp`` and build it; raise ConfigError naming ``key``."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, key, env, secret=secret)
            except ConfigError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(key, f"expected {_describe(tp)}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(key, f"expected {_describe(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(key, f"expected {_describe(tp)}")
        (item_tp, *_) = get_args(tp)
        return tuple(convert(item_tp, v, f"{key}[{i}]", env, secret=secret) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(key, "expected a mapping")
        key_tp, val_tp = get_args(tp)
        return types.MappingProxyType(
            {
                convert(key_tp, k, key, env): convert(val_tp, v, f"{key}.{k}", env, secret=secret)
                for k, v in value.items()
            }
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build(tp, value, key, env)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(key, f"expected {_describe(tp)}, got {value!r}") from None
    if tp is datetime:
        return _datetime(value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, "expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, "expected a whole number")
        if abs(value) > _INT_LIMIT:
            raise _OutOfRange(key, "expected a whole number of sensible size", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, "expected a number")
        try:
            number = float(value)
        except OverflowError:  # a YAML integer too large for a float
            raise _OutOfRange(key, "expected a finite number", value) from None
        if not math.isfinite(number):
            raise _OutOfRange(key, "expected a finite number", value)
        return number
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(key, "expected text")
        text = str(value)
        if secret and not _PLACEHOLDER.search(text):
            raise ConfigError(key, "is a secret: write it as ${ENV_VAR} and set the variable")
        return env.expand(text, key, secret=secret)
    raise ConfigError(key, f"unsupported setting type {tp!r}")  # a programming error


def _datetime(value: Any, key: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(key, "expected a date and time like 2026-12-01T09:00:00Z") from None
    if not isinstance(value, datetime):
        raise ConfigError(key, "expected a date and time like 2026-12-01T09:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build(cls: type[T], data: Any, key: str, env: Environment) -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys and missing required keys are errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(key or "(top level)", "expected a mapping")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{key}." if key else ""
    for name in data:
        if name not in fields:
            expected = ", ".join(sorted(fields))
            raise ConfigError(f"{prefix}{name}", f"unknown key (expected one of: {expected})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        path = f"{prefix}{name}"
        if name in data:
            bounds: Bounds | None = f.metadata.get(BOUNDS)
            secret = bool(f.metadata.get(SECRET))
            try:
                kwargs[name] = convert(hints[name], data[name], path, env, secret=secret)
            except _OutOfRange as err:
                if bounds is None:
                    raise
                raise ConfigError(err.key, f"expected {bounds.describe()}, got {_num(err.value)}") from None
            if bounds is not None:
                bounds.check(kwargs[name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(path, f"is required ({_describe(hints[name])})")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        check(key)
    return obj
