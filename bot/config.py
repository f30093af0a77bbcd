"""The settings of one Coalesce deployment, read once from ``config.yaml`` and frozen.

Every mistake stops start-up with one line naming the key path and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from bot.domain import Platform, normalize_tag
from bot.errors import ConfigError
from bot.files import parse_mode
from bot.schema import Environment, build, number, secret_field
from bot.series.settings import SeriesSettings
from bot.trust.settings import TrustSettings

DEFAULT_CONFIG = "config.yaml"

# The ranges numbers in the config are held to (``bot.schema.number``): wide enough for any real
# community, narrow enough that every time span still fits a date and every rate a timer.
YEAR_HOURS = 24 * 366
DAY_SECONDS = 86_400
WEEK_SECONDS = 7 * DAY_SECONDS
MONTH_MINUTES = 31 * 24 * 60
PER_HOUR_MAX = 1_000_000
TELEGRAM_ID_MAX = 2**53 - 1  # Telegram: ids have at most 52 significant bits


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
    telegram: int | None = number(None, 1, TELEGRAM_ID_MAX)  # Telegram user id

    def identities(self) -> dict[Platform, str]:
        out: dict[Platform, str] = {}
        for platform in Platform:
            value = getattr(self, platform.value, None)
            if value is not None:
                out[platform] = str(value)
        return out


@dataclass(frozen=True)
class CurationSettings:
    approvals_required: int = number(1, 1, 20)
    include_replies: bool = False
    max_age_hours: float = number(72.0, 0, YEAR_HOURS, above=True, unit="hours")
    optout_markers: tuple[str, ...] = ("nobot", "noboost", "nobots")
    snooze_hours: float = number(24.0, 0, YEAR_HOURS, above=True, unit="hours")
    skip_bots: bool = False  # posts by bots and automated accounts stay out of the queue

    def validate(self, key: str) -> None:
        for i, marker in enumerate(self.optout_markers):
            if not normalize_tag(marker) or any(c.isspace() for c in marker):
                raise ConfigError(f"{key}.optout_markers[{i}]", f"{marker!r} is not a hashtag")

    def warnings(self, key: str) -> list[str]:
        if not self.optout_markers:
            return [
                f"{key}.optout_markers is empty: no profile marker (#nobot…) keeps a member out;"
                " only the optout command does"
            ]
        return []


@dataclass(frozen=True)
class BlocklistSettings:
    accounts: tuple[str, ...] = ()  # "user@server", "handle.bsky.social", "did:plc:…", "@tguser"
    domains: tuple[str, ...] = ()  # whole Mastodon servers
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class AmplifySettings:
    max_per_hour: int = number(12, 1, PER_HOUR_MAX)
    burst: int = number(1, 1, 1000)
    max_attempts: int = number(6, 1, 100)
    backoff_seconds: float = number(30.0, 0, DAY_SECONDS, above=True, unit="seconds")
    backoff_max_seconds: float = number(3600.0, 0, WEEK_SECONDS, above=True, unit="seconds")
    # a platform that is down is waited out this long after approval
    outage_hours: float = number(24.0, 0, YEAR_HOURS, unit="hours")
    per_platform: Mapping[str, int] = number(lambda: MappingProxyType({}), 1, PER_HOUR_MAX)

    def validate(self, key: str) -> None:
        for name in self.per_platform:
            _platform(name, f"{key}.per_platform.{name}")

    def hourly_budget(self, platform: Platform) -> int:
        return self.per_platform.get(platform.value, self.max_per_hour)


@dataclass(frozen=True)
class FilesSettings:
    """How the files the bot writes (its SQLite database, exports, reports, interview files) may
    be read: by their owner only unless the admin widens it here (``640``: the group too)."""

    mode: str = "600"

    def validate(self, key: str) -> None:
        parse_mode(self.mode, f"{key}.mode")

    @property
    def file_mode(self) -> int:
        return parse_mode(self.mode)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///coalesce.db"


@dataclass(frozen=True)
class RunSettings:
    # how often the amplifier and pollers look for work
    poll_seconds: float = number(60.0, 0, DAY_SECONDS, above=True, unit="seconds")
    watch_retry_seconds: float = number(30.0, 0, DAY_SECONDS, above=True, unit="seconds")
    watch_retry_max_seconds: float = number(900.0, 0, WEEK_SECONDS, above=True, unit="seconds")


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

    # engagement, followers and follows from the platforms; 0: never
    refresh_minutes: float = number(60.0, 0, MONTH_MINUTES, unit="minutes", zero="off")
    # posts younger than this get their engagement refreshed
    engagement_window_days: float = number(14.0, 0, 3650, above=True, unit="days")
    refresh_batch: int = number(400, 1, 100_000)  # posts (and accounts) per platform per refresh round
    # how long "follows the central account" is trusted
    follows_recheck_days: float = number(7.0, 0, 3650, above=True, unit="days")
    top_posts: int = number(10, 0, 1000)
    monthly_post: bool = False  # a "community in numbers" post each month (needs the scheduler)


@dataclass(frozen=True)
class WebSettings:
    """The curators' web console: served by ``python -m bot web``, and by ``run`` when enabled."""

    enabled: bool = False  # ``run`` serves the console too
    host: str = "127.0.0.1"
    port: int = number(8080, 1, 65_535)
    base_url: str = ""  # how curators reach it (https://coalesce.example.org); default http://host:port
    # signs the session cookies, as ${VAR}; None: one is generated once and kept in the database
    secret: str | None = secret_field(None)
    session_idle_minutes: float = number(720.0, 0, MONTH_MINUTES, above=True, unit="minutes")

    def validate(self, key: str) -> None:
        if self.base_url and not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.base_url", "expected an http:// or https:// address")
        if self.secret is not None and len(self.secret) < 16:
            raise ConfigError(f"{key}.secret", "expected at least 16 characters")

    @property
    def address(self) -> str:
        """Where sign-in links point: ``base_url`` without its trailing slash, or the bound address."""
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    community: CommunitySettings
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    files: FilesSettings = field(default_factory=FilesSettings)
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
    web: WebSettings = field(default_factory=WebSettings)
    platforms: Mapping[Platform, Any] = field(default_factory=lambda: MappingProxyType({}))
    secrets: frozenset[str] = frozenset()  # every value that came from a ${VAR}; logs hide them

    def warnings(self) -> list[str]:
        """What is allowed but probably a mistake: ``check-config`` prints these, ``run`` logs them."""
        return self.curation.warnings("curation")

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


#: Each platform's settings class (its schema): the composition root passes the adapters'
#: registry's (``adapters.registry.REGISTRY.settings_class``), so the core imports no adapter.
PlatformSchemas = Callable[[Platform], type]


def parse(data: Any, env: Environment | None = None, *, schemas: PlatformSchemas) -> Settings:
    """Validate already-loaded YAML data into Settings; ``schemas`` reads each platform's part."""
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
    if base.sandbox.enabled:  # the demo's config names its platforms as production does
        env.unset_credential = "sandbox"
    platforms: dict[Platform, Any] = {}
    for name, raw in raw_platforms.items():
        key = f"platforms.{name}"
        platform = _platform(name, key)
        platforms[platform] = build(schemas(platform), raw, key, env)
    database = base.database
    override = env.get("DATABASE_URL")
    if override:
        database = DatabaseSettings(url=override)
    base.series.check(base.community.languages, platforms)
    return Settings(
        community=base.community,
        database=database,
        files=base.files,
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
        web=base.web,
        platforms=MappingProxyType(platforms),
        secrets=frozenset(env.secrets),
    )


def config_path(explicit: str | None) -> Path:
    """``--config``, then ``$COALESCE_CONFIG``, then ``./config.yaml``."""
    return Path(explicit or os.environ.get("COALESCE_CONFIG") or DEFAULT_CONFIG)


def load(path: str | Path, env: Environment | None = None, *, schemas: PlatformSchemas) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not a text file in UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), f"{problem}{where}") from None
    return parse(data, env, schemas=schemas)
