"""The settings of one Coalesce deployment, read once from ``config.yaml`` and frozen.

Every mistake stops start-up with one line naming the key path and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from bot.domain import Platform, normalize_tag
from bot.errors import ConfigError
from bot.schema import Environment, build
from bot.series.settings import SeriesSettings
from bot.trust_settings import TrustSettings

DEFAULT_CONFIG = "config.yaml"


@dataclass(frozen=True)
class CommunitySettings:
    slug: str
    name: str
    hashtags: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    consent: Literal["opt-out", "opt-in"] = "opt-out"

    def validate(self, key: str) -> None:
        if not self.hashtags:
            raise ConfigError(f"{key}.hashtags", "needs at least one hashtag to watch")
        for i, tag in enumerate(self.hashtags):
            if not normalize_tag(tag) or any(c.isspace() for c in tag):
                raise ConfigError(f"{key}.hashtags[{i}]", f"{tag!r} is not a hashtag")
        if not self.slug.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{key}.slug", "expected letters, digits, '-' or '_'")

    @property
    def tags(self) -> tuple[str, ...]:
        """The hashtags as they are matched: NFKC, case-folded, no '#'."""
        return tuple(dict.fromkeys(normalize_tag(t) for t in self.hashtags))


@dataclass(frozen=True)
class Curator:
    """A volunteer who decides. Identities per platform let us refuse self-approval."""

    name: str
    mastodon: str | None = None  # account id or user@server
    bluesky: str | None = None  # DID or handle
    telegram: int | None = None  # Telegram user id

    def identities(self) -> dict[Platform, str]:
        out: dict[Platform, str] = {}
        for platform in Platform:
            value = getattr(self, platform.value, None)
            if value is not None:
                out[platform] = str(value)
        return out


@dataclass(frozen=True)
class CurationSettings:
    approvals_required: int = 1
    include_replies: bool = False
    max_age_hours: float = 72.0
    optout_markers: tuple[str, ...] = ("nobot", "noboost", "nobots")
    snooze_hours: float = 24.0

    def validate(self, key: str) -> None:
        if self.approvals_required < 1:
            raise ConfigError(f"{key}.approvals_required", "expected 1 or more")
        if self.max_age_hours <= 0:
            raise ConfigError(f"{key}.max_age_hours", "expected a positive number of hours")


@dataclass(frozen=True)
class BlocklistSettings:
    accounts: tuple[str, ...] = ()  # "user@server", "handle.bsky.social", "did:plc:…", "@tguser"
    domains: tuple[str, ...] = ()  # whole Mastodon servers
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class AmplifySettings:
    max_per_hour: int = 12
    burst: int = 1
    max_attempts: int = 6
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    outage_hours: float = 24.0  # a platform that is down is waited out this long after approval
    per_platform: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def validate(self, key: str) -> None:
        if self.max_per_hour < 1:
            raise ConfigError(f"{key}.max_per_hour", "expected 1 or more")
        if self.burst < 1:
            raise ConfigError(f"{key}.burst", "expected 1 or more")
        if self.max_attempts < 1:
            raise ConfigError(f"{key}.max_attempts", "expected 1 or more")
        if self.outage_hours < 0:
            raise ConfigError(f"{key}.outage_hours", "expected 0 or more hours")
        for name, value in self.per_platform.items():
            _platform(name, f"{key}.per_platform.{name}")
            if value < 1:
                raise ConfigError(f"{key}.per_platform.{name}", "expected 1 or more")

    def hourly_budget(self, platform: Platform) -> int:
        return self.per_platform.get(platform.value, self.max_per_hour)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///coalesce.db"


@dataclass(frozen=True)
class RunSettings:
    poll_seconds: float = 60.0  # how often the amplifier and pollers look for work
    watch_retry_seconds: float = 30.0
    watch_retry_max_seconds: float = 900.0


@dataclass(frozen=True)
class SandboxSettings:
    """Run against the built-in loopback sandboxes instead of real platforms (the demo)."""

    enabled: bool = False
    epoch: datetime | None = None  # the demo world's clock origin: same seed, same post ids


@dataclass(frozen=True)
class DirectorySettings:
    """The member directory: who counts as an organisation, and the optional members lists."""

    organisations: tuple[str, ...] = ()  # handles (user@server, x.bsky.social, @tg) or account ids
    list_sync: bool = False  # keep a members list on each platform that has lists
    list_title: str = ""  # default: "<community name> members"

    def validate(self, key: str) -> None:
        if len(self.list_title) > 100:
            raise ConfigError(f"{key}.list_title", "expected at most 100 characters")


@dataclass(frozen=True)
class ReportSettings:
    """The reach report and what keeps its numbers fresh."""

    refresh_minutes: float = 60.0  # engagement, followers and follows from the platforms; 0: never
    engagement_window_days: float = 14.0  # posts younger than this get their engagement refreshed
    refresh_batch: int = 400  # posts (and accounts) per platform per refresh round
    follows_recheck_days: float = 7.0  # how long "follows the central account" is trusted
    top_posts: int = 10
    monthly_post: bool = False  # a "community in numbers" post each month (needs the scheduler)

    def validate(self, key: str) -> None:
        if self.refresh_minutes < 0:
            raise ConfigError(f"{key}.refresh_minutes", "expected 0 (off) or a positive number")
        if self.engagement_window_days <= 0:
            raise ConfigError(f"{key}.engagement_window_days", "expected a positive number of days")
        if self.refresh_batch < 1:
            raise ConfigError(f"{key}.refresh_batch", "expected 1 or more")
        if self.follows_recheck_days <= 0:
            raise ConfigError(f"{key}.follows_recheck_days", "expected a positive number of days")
        if self.top_posts < 0:
            raise ConfigError(f"{key}.top_posts", "expected 0 or more")


@dataclass(frozen=True)
class Settings:
    community: CommunitySettings
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    curators: tuple[Curator, ...] = ()
    curation: CurationSettings = field(default_factory=CurationSettings)
    blocklist: BlocklistSettings = field(default_factory=BlocklistSettings)
    amplify: AmplifySettings = field(default_factory=AmplifySettings)
    run: RunSettings = field(default_factory=RunSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    series: SeriesSettings = field(default_factory=SeriesSettings)
    trust: TrustSettings = field(default_factory=TrustSettings)
    platforms: Mapping[Platform, Any] = field(default_factory=lambda: MappingProxyType({}))
    secrets: frozenset[str] = frozenset()  # every value that came from a ${VAR}; logs hide them

    def curator(self, name: str) -> Curator:
        for c in self.curators:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.curators) or "none configured"
        raise ConfigError("curators", f"no curator named {name!r} (known: {known})")

    def enabled_platforms(self) -> list[Platform]:
        return [p for p, s in self.platforms.items() if getattr(s, "enabled", True)]


def _platform(name: Any, key: str) -> Platform:
    try:
        return Platform(name)
    except ValueError:
        expected = ", ".join(p.value for p in Platform)
        raise ConfigError(key, f"unknown platform (expected one of: {expected})") from None


def parse(data: Any, env: Environment | None = None) -> Settings:
    """Validate already-loaded YAML data into Settings."""
    from adapters.registry import settings_class  # the registry knows each platform's schema

    env = env or Environment()
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "expected a mapping of settings")
    data = dict(data)
    raw_platforms = data.pop("platforms", None) or {}
    if not isinstance(raw_platforms, dict):
        raise ConfigError("platforms", "expected a mapping of platform name to its settings")
    raw_curators = data.pop("curators", None) or []
    if not isinstance(raw_curators, list):
        raise ConfigError("curators", "expected a list of curators")
    base = build(Settings, data, "", env)
    curators = tuple(build(Curator, c, f"curators[{i}]", env) for i, c in enumerate(raw_curators))
    names = [c.name for c in curators]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(f"curators[{i}].name", f"{name!r} is listed twice")
    if curators and base.curation.approvals_required > len(curators):
        raise ConfigError(
            "curation.approvals_required",
            f"needs {base.curation.approvals_required} curators but only {len(curators)} are listed",
        )
    platforms: dict[Platform, Any] = {}
    for name, raw in raw_platforms.items():
        key = f"platforms.{name}"
        platform = _platform(name, key)
        platforms[platform] = build(settings_class(platform), raw, key, env)
    database = base.database
    override = env.get("DATABASE_URL")
    if override:
        database = DatabaseSettings(url=override)
    base.series.check(base.community.languages, platforms)
    return Settings(
        community=base.community,
        database=database,
        curators=curators,
        curation=base.curation,
        blocklist=base.blocklist,
        amplify=base.amplify,
        run=base.run,
        sandbox=base.sandbox,
        directory=base.directory,
        report=base.report,
        series=base.series,
        trust=base.trust,
        platforms=MappingProxyType(platforms),
        secrets=frozenset(env.secrets),
    )


def config_path(explicit: str | None) -> Path:
    """``--config``, then ``$COALESCE_CONFIG``, then ``./config.yaml``."""
    return Path(explicit or os.environ.get("COALESCE_CONFIG") or DEFAULT_CONFIG)


def load(path: str | Path, env: Environment | None = None) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), f"{problem}{where}") from None
    return parse(data, env)
