"""Which adapter serves which platform. Modules load lazily: a platform that is not enabled
never imports its client library (it keeps start-up fast and memory low).

Only the composition root (``bot.app``, ``bot.cli``) imports this module; it hands the core
``REGISTRY`` (a ``bot.ports.PlatformCatalog``) where the core needs to know a platform."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain import Platform, TextLimits

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.inert import InertRules
    from bot.ports import PlatformAdapter

# platform -> (settings class, factory(settings, app_settings) -> adapter)
_SPECS: dict[Platform, tuple[str, str]] = {
    Platform.MASTODON: ("adapters.mastodon.settings:MastodonSettings", "adapters.mastodon.adapter:create"),
    Platform.TELEGRAM: ("adapters.telegram.settings:TelegramSettings", "adapters.telegram.adapter:create"),
    Platform.BLUESKY: ("adapters.bluesky.settings:BlueskySettings", "adapters.bluesky.adapter:create"),
}


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def settings_class(platform: Platform) -> type:
    from bot.errors import ConfigError

    if platform not in _SPECS:
        raise ConfigError(f"platforms.{platform.value}", "this platform is not supported yet")
    cls: type = _load(_SPECS[platform][0])
    return cls


def adapter_class(platform: Platform) -> type[PlatformAdapter]:
    """The adapter class serving ``platform``, found beside its factory (no client is made)."""
    from bot.errors import ConfigError
    from bot.ports import PlatformAdapter

    if platform not in _SPECS:
        raise ConfigError(f"platforms.{platform.value}", "this platform is not supported yet")
    module = importlib.import_module(_SPECS[platform][1].partition(":")[0])
    for value in vars(module).values():
        # The class that declares this platform itself (not a subclass a test might define).
        if not (isinstance(value, type) and issubclass(value, PlatformAdapter)):
            continue
        if value.__dict__.get("platform") is platform:
            return value
    raise ConfigError(f"platforms.{platform.value}", "its adapter module defines no adapter class")


def limits_for(platform: Platform) -> TextLimits:
    """How long a post may be on ``platform`` and how it is counted, from its adapter class."""
    return adapter_class(platform).limits


def markup_for(platform: Platform) -> str:
    """How ``platform``'s adapter reads the text it publishes: "plain" or "html"."""
    return adapter_class(platform).markup


def inert_rules_for(platform: Platform) -> InertRules | None:
    """What ``platform`` makes live in plain text on its own (``bot.inert``), from its adapter class."""
    return adapter_class(platform).inert_rules


def create_adapter(platform: Platform, settings: Settings) -> PlatformAdapter:
    factory = _load(_SPECS[platform][1])
    adapter: PlatformAdapter = factory(settings.platforms[platform], settings)
    return adapter


@dataclass(frozen=True)
class Registry:
    """The registry as the core's ``PlatformCatalog``: each platform's settings schema and what
    its adapter class declares, with no client made."""

    def settings_class(self, platform: Platform) -> type:
        return settings_class(platform)

    def limits(self, platform: Platform) -> TextLimits:
        return limits_for(platform)

    def markup(self, platform: Platform) -> str:
        return markup_for(platform)

    def inert_rules(self, platform: Platform) -> InertRules | None:
        return inert_rules_for(platform)


REGISTRY = Registry()
