"""What every command that works on the community's data starts from, built one way: the config
read and checked, logs set up with its secrets redacted, the database migrated and the store open.
Also how a command prints an operation's `Result` (text or ``--json``) and turns it into an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.registry import settings_class
from bot import config as config_mod
from bot import logs
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import UsageError
from bot.ops import messages
from bot.ops.result import Outcome, Result
from bot.store.store import Store


def load_settings(args: argparse.Namespace) -> Settings:
    return config_mod.load(config_mod.config_path(getattr(args, "config", None)), schemas=settings_class)


def setup_logs(args: argparse.Namespace, secrets: Sequence[str] = ()) -> None:
    logs.setup(getattr(args, "log_format", "line"), getattr(args, "log_level", "INFO"), secrets)


@dataclass
class Context:
    settings: Settings
    store: Store
    clock: Clock
    now: datetime

    def curator(self, name: str) -> str:
        """``name`` when it is a configured curator; else a usage error listing the known ones."""
        if any(c.name == name for c in self.settings.curators):
            return name
        raise UsageError(messages.no_curator(name, [c.name for c in self.settings.curators]))


def open_context(args: argparse.Namespace, clock: Clock | None = None) -> Context:
    """Load the config (``--config``), set up logs with its secrets redacted, build the engine,
    migrate the schema and open the community's store."""
    from bot.store.migrate import upgrade
    from bot.store.store import engine_for

    settings = load_settings(args)
    setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    upgrade(engine)
    clock = clock or SystemClock()
    now = clock.now()
    store = Store.open(engine, settings.community.slug, settings.community.name, now)
    return Context(settings, store, clock, now)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (outcome, message, data)"
    )


def report(args: argparse.Namespace, result: Result[Any], show: Any = None) -> int:
    """Print ``result`` the way the person asked and return its exit code: with ``--json`` the whole
    result; else the message (or what ``show`` prints for a done result) on stdout, a refusal or a
    usage error on stderr, saying which."""
    if getattr(args, "json", False):
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    elif result.outcome is Outcome.DONE:
        if show is not None:
            show(result)
        else:
            print(result.message)
    elif result.outcome is Outcome.REFUSED:
        print(f"cannot do that: {result.message}", file=sys.stderr)
    else:
        print(f"usage error: {result.message}", file=sys.stderr)
    return result.exit_code
