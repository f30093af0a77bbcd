"""What every command that works on the community's data starts from, built one way: the config
read and checked, logs set up with its secrets redacted, the database migrated and the store open.
How a command prints an operation's `Result` is `bot.cli.present`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from adapters.registry import REGISTRY, create_adapter, settings_class
from bot import config as config_mod
from bot import logs
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import UsageError
from bot.ops import messages
from bot.store.store import Store

if TYPE_CHECKING:
    from bot.domain import Platform
    from bot.ports import PlatformAdapter
    from bot.series.runner import SeriesRunner


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

    def series_runner(self) -> SeriesRunner:
        """The series as the command line sees them: limits and markup from the platform catalog,
        no platform connection (commands that publish open one with `platform_adapters`)."""
        from bot.series.runner import SeriesRunner

        return SeriesRunner(self.store, {}, self.settings, self.clock, worker="cli", catalog=REGISTRY)


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


@contextmanager
def platform_adapters(settings: Settings) -> Iterator[dict[Platform, PlatformAdapter]]:
    """The adapters a command that reaches the platforms uses: the real platforms of the config, or
    the demo's loopback sandboxes when the config says ``sandbox: {enabled: true}`` (then they run
    for the command's length and stop after it)."""
    if not settings.sandbox.enabled:
        yield {p: create_adapter(p, settings) for p in settings.enabled_platforms()}
        return
    from bot.cli.demo import world_for

    world = world_for(settings)
    try:
        yield world.adapters(settings)
    finally:
        world.stop()
