"""The Mastodon sandbox's records (accounts, statuses, notifications, lists) and the small parsing
helpers every layer shares."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_TOKEN = "sandbox-mastodon-token"


Clock = Callable[[], datetime]


JSON = dict[str, Any]


_VISIBILITIES = ("public", "unlisted", "private", "direct")


_MALFORMATIONS = ("missing_account", "bad_created_at", "missing_id", "content_not_string")


_INVALID_TOKEN = {"error": "The access token is invalid"}


_NOT_FOUND = {"error": "Record not found"}


_SEARCH_NEEDS_USER = "Search queries that resolve remote resources are not supported without authentication"


# What Mastodon's text formatter links. Close to its own patterns, not a copy of them: a hashtag
# needs at least one letter and may start with '#' or the fullwidth '＃' (Mastodon 4 takes both),
# a mention may carry a domain, a URL stops before trailing punctuation.
_URL_RE = r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'}]"


_MENTION_RE = (
    r"(?<![\w/=@])@(?P<user>[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*)"
    r"(?:@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))?"
)


_TAG_RE = r"(?<![\w/=)&#＃])[#＃](?P<tag>\w*[^\W\d]\w*)"


_TOKEN_RE = re.compile(f"(?P<url>{_URL_RE})|(?P<mention>{_MENTION_RE})|(?P<hashtag>{_TAG_RE})")


_TAG_ONLY_RE = re.compile(_TAG_RE)


_MENTION_ONLY_RE = re.compile(_MENTION_RE)


_URL_ONLY_RE = re.compile(_URL_RE)


_HTML_TAG_RE = re.compile(r"<[^>]+>")


_RUBY_INT_RE = re.compile(r"\s*([+-]?\d+)")


_FALSE_VALUES = {"", "0", "f", "false", "off"}


_STATUS_PATH = re.compile(r"^/api/v1/statuses/[^/]+/?$")


_POST_PATH = re.compile(r"^/api/v1/statuses/?$")


_REBLOG_PATH = re.compile(r"^/api/v1/statuses/[^/]+/reblog/?$")


_UNREBLOG_PATH = re.compile(r"^/api/v1/statuses/[^/]+/unreblog/?$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """Mastodon's datetime format: UTC, milliseconds, ``Z``."""
    moment = _aware(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _midnight(moment: datetime) -> datetime:
    return _aware(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def normalize_tag(name: str) -> str:
    """How two spellings of a hashtag are told to be the same (case and width folded)."""
    return unicodedata.normalize("NFKC", name.lstrip("#")).lower()


def _ruby_int(value: str | None) -> int | None:
    """Rails-style ``to_i``: leading digits or 0; ``None``/blank means the parameter is absent."""
    if value is None or value == "":
        return None
    m = _RUBY_INT_RE.match(value)
    return int(m.group(1)) if m else 0


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE_VALUES


@dataclass
class Account:
    id: str
    username: str
    domain: str | None  # None: lives on this server
    display_name: str
    note: str
    bot: bool
    group: bool
    locked: bool
    discoverable: bool | None  # None: a remote account whose server does not say
    created_at: datetime
    fields: list[dict[str, Any]]
    followers_count: int
    following_count: int
    noindex: bool = False  # "ask search engines not to index my profile" (local accounts only)

    @property
    def local(self) -> bool:
        return self.domain is None

    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class Status:
    id: int  # 0 until the status is known to this server
    account: Account
    created_at: datetime
    content: str
    text: str
    visibility: str
    language: str | None
    spoiler_text: str
    sensitive: bool
    tags: list[str]  # as written, first spelling wins
    mentions: list[Account]
    media: list[JSON]
    in_reply_to_id: int | None
    in_reply_to_account_id: str | None
    reblog_of: int | None
    uri: str = ""
    url: str | None = None
    application: JSON | None = None
    favourites_count: int = 0
    deleted: bool = False

    def tag_keys(self) -> set[str]:
        return {normalize_tag(t) for t in self.tags}


@dataclass
class Notification:
    id: int
    type: str
    created_at: datetime
    account: Account
    status_id: int | None


@dataclass
class Bucket:
    window_start: float
    used: int = 0


@dataclass
class Relationship:
    flags: dict[str, bool] = field(default_factory=dict)
    since: int = 0  # the follow's id while ``following``: followers lists page by it


@dataclass
class Follower:
    """One entry of a followers list: paged by the follow's id, as Mastodon does."""

    id: int
    account: Account


@dataclass
class MastodonList:
    id: str
    owner: Account
    title: str
    replies_policy: str = "list"
    exclusive: bool = False
    members: list[str] = field(default_factory=list)  # account ids, in the order they were added
