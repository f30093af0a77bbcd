"""The Telegram sandbox's records (users, chats, stored messages, taps, calls), its flood control
and the Bot API's error answers; every other layer, the documented rules included, builds on them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sandbox._server import HttpError

JSON = dict[str, Any]


ChatType = Literal["private", "group", "supergroup", "channel"]


T = TypeVar("T")


DEFAULT_TOKEN = "7000000001:AAHsandboxTokenForLoopbackTests_0001"


MAX_MESSAGE_LENGTH = 4096  # after entity parsing, counted in UTF-16 code units like entity offsets


_CALLBACK_DATA_MAX_BYTES = 64


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


def api_error(code: int, description: str, parameters: JSON | None = None) -> HttpError:
    """An error answer as Telegram sends it: ``{"ok": false, "error_code", "description"}``."""
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return HttpError(code, body)


def _bad_request(what: str) -> HttpError:
    return api_error(400, f"Bad Request: {what}")


def _too_many_requests(retry_after: int) -> JSON:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


@dataclass
class SandboxUser:
    """A Telegram account. ``hide_forwards`` is the "Forwarded messages" privacy setting."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    hide_forwards: bool = False
    bio: str | None = None  # shown by getChat on the user's private chat

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class SandboxChat:
    """A chat the bot knows. ``members`` maps user id to a ChatMember status."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    description: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    bot_blocked: bool = False

    def to_api(self) -> JSON:
        out: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class StoredMessage:
    """A message as the sandbox holds it: its current text and markup, and what happened to it."""

    chat_id: int
    message_id: int
    date: int
    text: str
    entities: list[JSON] = field(default_factory=list)
    from_user_id: int | None = None
    sender_chat_id: int | None = None
    by_bot: bool = False
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None
    forward_origin: JSON | None = None
    link_preview_options: JSON | None = None
    via_bot_id: int | None = None  # the inline bot the message was sent through
    edit_date: int | None = None
    deleted: bool = False
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first

    @property
    def buttons(self) -> list[JSON]:
        """Every inline keyboard button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def entity_texts(self, kind: str) -> list[str]:
        """The text covered by each entity of type ``kind`` ("bold", "hashtag", ...)."""
        return [_entity_text(self.text, e) for e in self.entities if e["type"] == kind]


@dataclass(frozen=True)
class Tap:
    """A callback query the sandbox injected when a user tapped an inline button."""

    query_id: str
    update_id: int
    user_id: int
    chat_id: int
    message_id: int
    data: str


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a tap (answerCallbackQuery): a toast, or an alert if show_alert."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request that reached a method: name, parameters as sent, status, error text."""

    method: str
    params: JSON
    status: int
    at: float
    error: str | None = None  # the "description" of an error answer, exactly as Telegram words it


@dataclass(frozen=True)
class FloodLimits:
    """Token buckets per chat and for the whole bot, as Telegram's bot FAQ describes them.

    Private chats: about one message a second, with short bursts tolerated. Groups, supergroups
    and channels: 20 messages a minute. All chats together: about 30 messages a second.
    """

    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 20
    global_per_second: float = 30.0
    global_burst: int = 30


class _Bucket:
    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if there is one now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class FloodControl:
    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._buckets: dict[int | None, _Bucket] = {}

    def _bucket(self, chat: SandboxChat | None, now: float) -> _Bucket:
        key = None if chat is None else chat.id
        bucket = self._buckets.get(key)
        if bucket is None:
            lim = self.limits
            if chat is None:
                bucket = _Bucket(lim.global_per_second, lim.global_burst, now)
            elif chat.type == "private":
                bucket = _Bucket(lim.private_per_second, lim.private_burst, now)
            else:
                bucket = _Bucket(lim.group_per_minute / 60.0, lim.group_burst, now)
            self._buckets[key] = bucket
        return bucket

    def admit(self, chat: SandboxChat, now: float) -> int | None:
        """Take a token from the chat's and the global bucket, or say how long to wait (whole seconds)."""
        buckets = (self._bucket(chat, now), self._bucket(None, now))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return None


def _id_of(thing: SandboxUser | SandboxChat | int) -> int:
    return thing if isinstance(thing, int) else thing.id


def _message_id_of(thing: StoredMessage | int | None) -> int | None:
    return thing.message_id if isinstance(thing, StoredMessage) else thing


def _scope_key(scope: Any) -> str:
    return json.dumps(scope if isinstance(scope, dict) else {"type": "default"}, sort_keys=True)


def _entity_text(text: str, entity: JSON) -> str:
    raw = text.encode("utf-16-le", "surrogatepass")
    start, length = entity["offset"] * 2, entity["length"] * 2
    return raw[start : start + length].decode("utf-16-le", "surrogatepass")
