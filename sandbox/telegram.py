"""Loopback emulator of the Telegram Bot API methods Coalesce uses, for tests and the demo.

The real python-telegram-bot talks to it over HTTP (``Bot(token, base_url=sandbox.bot_base_url)``);
tests play the people on the other side (``user_sends``, ``user_taps``) and read back what the bot
did (``messages``, ``alerts``). Shapes, limits and error texts follow core.telegram.org/bots/api.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from sandbox import telegram_rules as rules
from sandbox._server import Fault, FaultInjector, HttpError, LoopbackServer, Request, Response, Router

__all__ = [
    "DEFAULT_TOKEN",
    "MAX_MESSAGE_LENGTH",
    "ApiCall",
    "CallbackAnswer",
    "EntityParseError",
    "FloodLimits",
    "SandboxChat",
    "SandboxUser",
    "StoredMessage",
    "Tap",
    "TelegramFaults",
    "TelegramSandbox",
    "api_error",
    "detect_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

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


# --------------------------------------------------------------------------------------------
# Errors in the Bot API's shape


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


# --------------------------------------------------------------------------------------------
# Text: UTF-16 lengths, the three parse modes and the entities Telegram finds by itself


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets and of the 4096 limit (a lone
    surrogate, which a client may send, is one unit)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class EntityParseError(ValueError):
    """Formatted text Telegram would refuse; the message becomes "can't parse entities: ..."."""


class _TextBuilder:
    """Collects plain output text while tracking its length in UTF-16 units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.u16 += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _entity(kind: str, start: int, end: int, **extra: Any) -> JSON | None:
    if end <= start:
        return None  # Telegram drops entities that cover nothing
    return {"type": kind, "offset": start, "length": end - start, **extra}


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


@dataclass
class _OpenTag:
    name: str
    start: int
    attrs: dict[str, str]
    language: str | None = None


def _decode_html_entity(source: str, index: int) -> tuple[str, int]:
    """The character an ``&...;`` at ``index`` stands for and how much source it used."""
    m = _HTML_ENTITY.match(source, index)
    if m is None:
        return "&", 1
    decimal, hexa, name = m.groups()
    if name is not None:
        if name in _HTML_NAMED:
            return _HTML_NAMED[name], m.end() - index
        return "&", 1  # other named entities are not supported and stay as typed
    code = int(decimal) if decimal is not None else int(hexa, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "&", 1
    return chr(code), m.end() - index


def _read_html_attributes(source: str, index: int, tag_at: int) -> tuple[dict[str, str], int]:
    """Attributes of a start tag from ``index`` (just after the name) to its ``>``."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while index < n and source[index].isspace():
            index += 1
        if index >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_at)}")
        if source[index] == ">":
            return attrs, index + 1
        name_end = index
        while name_end < n and (source[name_end].isalnum() or source[name_end] in "-_"):
            name_end += 1
        if name_end == index:
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{_byte_offset(source, tag_at)}"
            )
        name = source[index:name_end].lower()
        index = name_end
        while index < n and source[index].isspace():
            index += 1
        if index >= n or source[index] != "=":
            attrs[name] = ""
            continue
        index += 1
        while index < n and source[index].isspace():
            index += 1
        if index < n and source[index] in "\"'":
            quote = source[index]
            close = source.find(quote, index + 1)
            if close < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, tag_at)}")
            raw, index = source[index + 1 : close], close + 1
        else:
            value_end = index
            while value_end < n and not source[value_end].isspace() and source[value_end] != ">":
                value_end += 1
            raw, index = source[index:value_end], value_end
        attrs[name] = _html_unescape(raw)


def _html_unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            char, used = _decode_html_entity(raw, i)
            out.append(char)
            i += used
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _close_html_tag(tag: _OpenTag, end: int, stack: list[_OpenTag]) -> JSON | None:
    kind = _HTML_TAGS[tag.name]
    if tag.name == "a":
        href = tag.attrs.get("href")
        return _entity("text_link", tag.start, end, url=href) if href else None
    if tag.name == "code" and stack and stack[-1].name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].language = language.removeprefix("language-")
            return None  # <pre><code class="language-x"> is one pre entity with a language
    if tag.name == "pre":
        extra = {"language": tag.language} if tag.language else {}
        return _entity("pre", tag.start, end, **extra)
    if tag.name == "blockquote" and "expandable" in tag.attrs:
        return _entity("expandable_blockquote", tag.start, end)
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id")
        return _entity("custom_emoji", tag.start, end, custom_emoji_id=emoji_id) if emoji_id else None
    return _entity(kind, tag.start, end)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of an HTML ``parse_mode`` text, or :class:`EntityParseError`."""
    out = _TextBuilder()
    stack: list[_OpenTag] = []
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            char, used = _decode_html_entity(source, i)
            out.add(char)
            i += used
            continue
        if ch != "<":
            out.add(ch)
            i += 1
            continue
        if source.startswith("</", i):
            close = source.find(">", i)
            if close < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
            name = source[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
            tag = stack.pop()
            if name != tag.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "</{tag.name}>", '
                    f'found "</{name}>"'
                )
            made = _close_html_tag(tag, out.u16, stack)
            if made is not None:
                entities.append(made)
            i = close + 1
            continue
        name_end = i + 1
        while (
            name_end < n
            and source[name_end].isascii()
            and (source[name_end].isalnum() or source[name_end] == "-")
        ):
            name_end += 1
        name = source[i + 1 : name_end].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}')
        attrs, i_after = _read_html_attributes(source, name_end, i)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        stack.append(_OpenTag(name, out.u16, attrs))
        i = i_after
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), entities


_MD_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_PAIRED = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_MD_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "[": "TextUrl",
    "![": "CustomEmoji",
}


def _md_read_code(source: str, i: int, fence: bool) -> tuple[int, str, str | None]:
    """Content of a `code` or ```pre``` span starting at ``i``; returns (index after, text, language)."""
    marker = "```" if fence else "`"
    j = i + len(marker)
    language: str | None = None
    if fence:
        newline = source.find("\n", j)
        first_line = source[j:newline] if newline >= 0 else ""
        if newline >= 0 and first_line and not any(c.isspace() or c in "`\\" for c in first_line):
            language, j = first_line, newline + 1
    out: list[str] = []
    while j < len(source):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in "`\\":
            out.append(source[j + 1])
            j += 2
            continue
        if source.startswith(marker, j):
            return j + len(marker), "".join(out), language
        out.append(source[j])
        j += 1
    name = "Pre" if fence else "Code"
    raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(source, i)}")


def _md_read_url(source: str, i: int) -> tuple[int, str]:
    """The URL inside ``(...)`` starting at ``i`` (the ``(``); ``)`` and ``\\`` may be escaped."""
    out: list[str] = []
    j = i + 1
    while j < len(source):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in ")\\":
            out.append(source[j + 1])
            j += 2
            continue
        if source[j] == ")":
            return j + 1, "".join(out)
        out.append(source[j])
        j += 1
    raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(source, i)}")


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Plain text and entities of a MarkdownV2 text, or :class:`EntityParseError`.

    Covers *bold*, _italic_, __underline__, ~strike~, ||spoiler||, `code`, ```pre```, [links](url),
    ![emoji](tg://emoji?id=...) and ``>`` block quotes; every reserved character outside them must
    be escaped with a backslash, as Telegram insists.
    """
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # (marker, start in UTF-16, index in source)
    entities: list[JSON] = []
    quote_start: int | None = None
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) < 127:
            out.add(source[i + 1])
            i += 2
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.u16
            i += 1
            continue
        if ch == "\n" and quote_start is not None and not source.startswith(">", i + 1):
            made = _entity("blockquote", quote_start, out.u16)
            if made is not None:
                entities.append(made)
            quote_start = None
        if ch == "`":
            fence = source.startswith("```", i)
            i, code, language = _md_read_code(source, i, fence)
            start = out.u16
            out.add(code)
            extra = {"language": language} if language else {}
            made = _entity("pre" if fence else "code", start, out.u16, **extra)
            if made is not None:
                entities.append(made)
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if marker in _MD_PAIRED:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                made = _entity(_MD_PAIRED[marker], start, out.u16)
                if made is not None:
                    entities.append(made)
            elif any(open_marker == marker for open_marker, _, _ in stack):
                top, _, top_at = stack[-1]
                name = _MD_NAMES.get(_MD_PAIRED.get(top, top), top)
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(source, top_at)}"
                )
            else:
                stack.append((marker, out.u16, i))
            i += len(marker)
            continue
        if ch == "[" or (ch == "!" and source.startswith("[", i + 1)):
            marker = "[" if ch == "[" else "!["
            stack.append((marker, out.u16, i))
            i += len(marker)
            continue
        if ch == "]" and stack and stack[-1][0] in ("[", "!["):
            marker, start, _ = stack.pop()
            if not source.startswith("(", i + 1):
                i += 1  # brackets without a URL just keep their text
                continue
            i, url = _md_read_url(source, i + 1)
            if marker == "![":
                emoji_id = url.removeprefix("tg://emoji?id=")
                made = _entity("custom_emoji", start, out.u16, custom_emoji_id=emoji_id)
            else:
                made = _entity("text_link", start, out.u16, url=url)
            if made is not None:
                entities.append(made)
            continue
        if ch in _MD_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(ch)
        i += 1
    if quote_start is not None:
        made = _entity("blockquote", quote_start, out.u16)
        if made is not None:
            entities.append(made)
    if stack:
        marker, _, at = stack[-1]
        name = _MD_NAMES.get(_MD_PAIRED.get(marker, marker), marker)
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(source, at)}")
    return out.text(), entities


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """The legacy ``Markdown`` mode: *bold*, _italic_, `code`, ```pre``` and [links](url), no nesting."""
    out = _TextBuilder()
    entities: list[JSON] = []
    i, n = 0, len(source)

    def unterminated(at: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, at)}"
        )

    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch in "*_":
            close = source.find(ch, i + 1)
            if close < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + 1 : close])
            made = _entity("bold" if ch == "*" else "italic", start, out.u16)
            i = close + 1
        elif ch == "`":
            marker = "```" if source.startswith("```", i) else "`"
            close = source.find(marker, i + len(marker))
            if close < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + len(marker) : close])
            made = _entity("pre" if marker == "```" else "code", start, out.u16)
            i = close + len(marker)
        elif ch == "[":
            close = source.find("](", i + 1)
            end = source.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise unterminated(i)
            start = out.u16
            out.add(source[i + 1 : close])
            made = _entity("text_link", start, out.u16, url=source[close + 2 : end])
            i = end + 1
        else:
            out.add(ch)
            i += 1
            continue
        if made is not None:
            entities.append(made)
    return out.text(), entities


_URL = re.compile(r"(?<![\w@/.])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
# Telegram links a bare domain too when it ends in a top-level domain it knows ("evil.com/x"),
# and previews it; a few common ones stand for its list here.
_TLDS = (
    "com|org|net|edu|gov|io|co|info|biz|me|app|dev|ly|tv|xyz|online|site|us|uk|de|fr|es|mx|br|ca|au|in|eu|ru"
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@/.\-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+(?:{_TLDS})(?![\w\-])(?:[/?#][^\s<>\"]*)?",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")
_HASHTAG = re.compile(r"(?<![\w#&/])#\w*[^\W\d]\w*")  # needs at least one non-digit: "#1" is no tag
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Z]{1,8}(?![\w$])")
_BOT_COMMAND = re.compile(r"(?<![\w/@.])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z][A-Za-z0-9_]{3,31})?(?![\w/])")
_EMAIL = re.compile(r"(?<![\w.@])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@])")
_OPAQUE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


def _trim_url(url: str) -> str:
    url = url.rstrip(".,;:!?'\"")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(".,;:!?'\"")
    return url


def detect_entities(text: str, known: Iterable[JSON] = ()) -> list[JSON]:
    """Entities Telegram adds on its own: urls, emails, @mentions, #hashtags, $cashtags, /commands.

    Nothing is detected inside code, pre or links already in ``known``, nor over another detection.
    Bare domains are detected when they end in a common top-level domain, as Telegram does.
    """
    taken: list[tuple[int, int]] = []
    for entity in known:
        if entity["type"] in _OPAQUE:
            taken.append((entity["offset"], entity["offset"] + entity["length"]))
    found: list[JSON] = []
    for kind, pattern in (
        ("url", _URL),
        ("url", _BARE_DOMAIN),
        ("email", _EMAIL),
        ("mention", _MENTION),
        ("hashtag", _HASHTAG),
        ("cashtag", _CASHTAG),
        ("bot_command", _BOT_COMMAND),
    ):
        for m in pattern.finditer(text):
            matched = _trim_url(m.group()) if kind == "url" else m.group()
            start = utf16_len(text[: m.start()])
            end = start + utf16_len(matched)
            if any(start < stop and begin < end for begin, stop in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def _sort_entities(entities: Iterable[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _strip_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram trims surrounding whitespace from a message; entities move and shrink with it."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    moved: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, limit)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


def _entity_text(text: str, entity: JSON) -> str:
    raw = text.encode("utf-16-le", "surrogatepass")
    start, length = entity["offset"] * 2, entity["length"] * 2
    return raw[start : start + length].decode("utf-16-le", "surrogatepass")


# --------------------------------------------------------------------------------------------
# State the sandbox keeps, as plain dataclasses tests can read


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


class _FloodControl:
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


# --------------------------------------------------------------------------------------------
# Fault injection with Telegram-shaped bodies


class TelegramFaults(FaultInjector):
    """The server's fault queue, with helpers that arm faults for one Bot API method (or all).

    Status faults armed without a body get Telegram's error body; every 429 handed out is counted.
    """

    def __init__(self, on_too_many: Callable[[], None]) -> None:
        super().__init__()
        self._on_too_many = on_too_many

    @staticmethod
    def path_for(method: str | None) -> str:
        name = re.escape(method) if method else "[^/]+"
        return rf"(?i)^/bot[^/]*/{name}$"

    def take(self, method: str, path: str) -> Fault | None:
        fault = super().take(method, path)
        if fault is None or fault.kind != "status":
            return fault
        if fault.body is None:
            if fault.status == 429:
                body = _too_many_requests(int(fault.headers.get("Retry-After", "1")))
            else:
                try:
                    phrase = HTTPStatus(fault.status).phrase
                except ValueError:
                    phrase = "Error"
                body = {"ok": False, "error_code": fault.status, "description": phrase}
            fault = replace(fault, body=body)
        if fault.status == 429:
            self._on_too_many()
        return fault

    def retry_after(self, seconds: int, method: str | None = None, times: int = 1) -> None:
        """Answer 429 "Too Many Requests: retry after N" (flood control) ``times`` times."""
        self.add(self.path_for(method), Fault("status", 429, _too_many_requests(seconds)), times)

    def server_error(self, status: int = 500, method: str | None = None, times: int = 1) -> None:
        """Answer a 5xx ("Internal Server Error", "Bad Gateway", ...) in Telegram's error shape."""
        self.add(self.path_for(method), Fault("status", status), times)

    def error(self, status: int, description: str, method: str | None = None, times: int = 1) -> None:
        """Answer any Bot API error, e.g. ``error(403, "Forbidden: bot was kicked from the group chat")``."""
        body = {"ok": False, "error_code": status, "description": description}
        self.add(self.path_for(method), Fault("status", status, body), times)

    def malformed(self, method: str | None = None, times: int = 1) -> None:
        """Answer 200 with a body that is not valid JSON."""
        self.add(self.path_for(method), Fault("malformed"), times)

    def hang(self, seconds: float = 30.0, method: str | None = None, times: int = 1) -> None:
        """Say nothing for ``seconds`` (or until the sandbox stops), then drop the connection."""
        self.add(self.path_for(method), Fault("hang", seconds=seconds), times)

    def drop(self, method: str | None = None, times: int = 1) -> None:
        """Close the connection without an answer."""
        self.add(self.path_for(method), Fault("drop"), times)

    def delay(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        """Answer normally, ``seconds`` late."""
        self.add(self.path_for(method), Fault("delay", seconds=seconds), times)

    def delay_after(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        """Do the work (the message is sent), then answer ``seconds`` late: the window in which a
        client that times out cannot know whether its call took effect."""
        self.add(self.path_for(method), Fault("delay_after", seconds=seconds), times)


# --------------------------------------------------------------------------------------------
# Request parameters: strings from query/form bodies (non-strings JSON-encoded), or a JSON body


class _Args:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    def of(cls, req: Request) -> _Args:
        values: dict[str, Any] = {k: v[0] for k, v in req.query.items() if v}
        values.update({k: v[0] for k, v in req.form.items() if v})
        if isinstance(req.json, dict):
            values.update(req.json)
        return cls(values)

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value)

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def object(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None


# --------------------------------------------------------------------------------------------
# The sandbox


_Method = Callable[[_Args], Any]


class TelegramSandbox:
    """An in-memory Telegram with one bot, served on 127.0.0.1 for the real python-telegram-bot.

    ``clock`` returns seconds; it stamps message dates and drives flood control, so a test can
    move time by hand instead of sleeping. Flood control is off unless ``realistic_limits`` or
    ``limits`` is given. With ``privacy_mode`` the bot only sees group messages that are
    commands, mentions of it or replies to it, as a bot with privacy mode on does.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "CoalesceBot",
        bot_first_name: str = "Coalesce",
        realistic_limits: bool = False,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.time,
        privacy_mode: bool = False,
        port: int = 0,
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("a bot token looks like '<bot id>:<secret>'")
        self._token = token
        self._clock = clock
        self._privacy_mode = privacy_mode
        self.bot = SandboxUser(int(bot_id), bot_first_name, bot_username, is_bot=True)
        chosen = limits if limits is not None else (FloodLimits() if realistic_limits else None)
        self._flood = _FloodControl(chosen) if chosen is not None else None

        self._cond = threading.Condition(threading.RLock())
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stopping = False
        self._users: dict[int, SandboxUser] = {self.bot.id: self.bot}
        self._chats: dict[int, SandboxChat] = {}
        self._messages: dict[int, dict[int, StoredMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[tuple[int, str, JSON]] = []
        self._next_update_id = 500_000_001
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._polls_waiting = 0
        self._open_queries: dict[str, Tap] = {}
        self._next_query = 1
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._sent: dict[int, int] = {}
        self.alerts: list[CallbackAnswer] = []
        self.calls: list[ApiCall] = []
        self.too_many_requests = 0

        named: dict[str, _Method] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
        }
        # Telegram matches method names without regard to case; calls are logged by the real name.
        self._methods = {name.lower(): (name, handler) for name, handler in named.items()}
        router = Router()
        for verb in ("GET", "POST"):
            router.add(verb, r"/bot(?P<token>[^/]*)/(?P<method>[^/]*)", self._serve_method)
            router.add(verb, r"/file/bot(?P<token>[^/]*)/(?P<path>.*)", self._serve_file)
            router.add(verb, r"/.*", self._not_found)
        self.faults = TelegramFaults(self._count_too_many)
        self.server = LoopbackServer(router, self.faults, port=port)

    # ---- lifecycle and addresses ------------------------------------------------------------

    @property
    def token(self) -> str:
        return self._token

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def bot_base_url(self) -> str:
        """What to pass as python-telegram-bot's ``base_url`` (it appends the token itself)."""
        return f"{self.server.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """What to pass as python-telegram-bot's ``base_file_url``."""
        return f"{self.server.base_url}/file/bot"

    def start(self) -> TelegramSandbox:
        self.server.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._changed()
        self.server.stop()

    def __enter__(self) -> TelegramSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- people and chats -------------------------------------------------------------------

    def add_user(
        self,
        id: int,  # noqa: A002 - the Bot API's own name for it
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        is_bot: bool = False,
        hide_forwards: bool = False,
        bio: str | None = None,
    ) -> SandboxUser:
        user = SandboxUser(id, first_name, username, last_name, language_code, is_bot, hide_forwards, bio)
        with self._cond:
            self._users[id] = user
            self._changed()
        return user

    def set_bio(self, user: SandboxUser | int, bio: str | None) -> None:
        """The user rewrites their bio (getChat on their private chat shows it from now on)."""
        with self._cond:
            self._known_user(user).bio = bio
            self._changed()

    def add_chat(
        self,
        id: int,  # noqa: A002 - the Bot API's own name for it
        type: ChatType = "supergroup",  # noqa: A002
        title: str | None = None,
        *,
        username: str | None = None,
        description: str | None = None,
        members: Iterable[SandboxUser | int] = (),
        bot_status: str = "administrator",
    ) -> SandboxChat:
        """A chat the bot is in. A private chat's id is its user's id (add the user first)."""
        with self._cond:
            if type == "private":
                user = self._users.get(id)
                if user is None:
                    raise ValueError(f"add_user({id}, ...) before its private chat")
                chat = SandboxChat(
                    id,
                    "private",
                    None,
                    user.username,
                    user.first_name,
                    user.last_name,
                    description,
                    {id: "member", self.bot.id: "member"},
                )
            else:
                chat = SandboxChat(
                    id,
                    type,
                    title or f"Chat {id}",
                    username,
                    description=description,
                    members={self.bot.id: bot_status},
                )
                for member in members:
                    chat.members[_id_of(member)] = "member"
            self._chats[id] = chat
            self._messages.setdefault(id, {})
            self._changed()
            return chat

    def set_member(self, chat: SandboxChat | int, user: SandboxUser | int, status: str = "member") -> None:
        """Set a ChatMember status: creator, administrator, member, restricted, left or kicked."""
        with self._cond:
            self._known_chat(chat).members[_id_of(user)] = status
            self._changed()

    def block_bot(self, chat: SandboxChat | int, blocked: bool = True) -> None:
        """The user blocks the bot: sends to their private chat get 403 from now on."""
        with self._cond:
            self._known_chat(chat).bot_blocked = blocked
            self._changed()

    # ---- what users do ----------------------------------------------------------------------

    def user_sends(
        self,
        user: SandboxUser | int,
        chat: SandboxChat | int,
        text: str,
        reply_to: StoredMessage | int | None = None,
        entities: list[JSON] | None = None,
        *,
        via_bot: SandboxUser | int | None = None,
        on_behalf_of: SandboxChat | int | None = None,
    ) -> StoredMessage:
        """A user posts ``text`` in ``chat``; the bot gets a ``message`` (``channel_post``) update.

        Urls, mentions, hashtags and /commands get their entities as Telegram would add them.
        ``via_bot``: sent through that inline bot. ``on_behalf_of``: sent as a chat (the group
        itself for an anonymous admin, or a channel); as in Telegram, ``from`` is then the
        placeholder bot (GroupAnonymousBot or Channel_Bot) and ``sender_chat`` the chat.
        """
        with self._cond:
            sender = self._known_user(user)
            if on_behalf_of is not None:
                anonymous = _id_of(on_behalf_of) == _id_of(chat)
                placeholder = (
                    SandboxUser(1087968824, "Group", "GroupAnonymousBot", is_bot=True)
                    if anonymous
                    else SandboxUser(136817688, "Channel", "Channel_Bot", is_bot=True)
                )
                self._users.setdefault(placeholder.id, placeholder)
                sender = self._users[placeholder.id]
            if _id_of(chat) == sender.id and sender.id not in self._chats:
                self.add_chat(sender.id, "private")
            room = self._known_chat(chat)
            if room.type != "channel":
                room.members.setdefault(sender.id, "member")
            found = _sort_entities([*(entities or []), *detect_entities(text, entities or [])])
            reply_id = _message_id_of(reply_to)
            if reply_id is not None and self._live_message(room.id, reply_id) is None:
                raise ValueError(f"no message {reply_id} in chat {room.id} to reply to")
            behalf = self._known_chat(on_behalf_of).id if on_behalf_of is not None else None
            msg = self._store(
                room,
                text,
                found,
                from_user_id=None if room.type == "channel" else sender.id,
                sender_chat_id=room.id if room.type == "channel" else behalf,
                reply_to_message_id=reply_id,
                via_bot_id=self._known_user(via_bot).id if via_bot is not None else None,
            )
            if self._bot_sees(room, msg):
                kind = "channel_post" if room.type == "channel" else "message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_forwards(
        self,
        user: SandboxUser | int,
        chat: SandboxChat | int,
        source: StoredMessage,
        *,
        origin: JSON | None = None,
    ) -> StoredMessage:
        """A user forwards ``source`` into ``chat``; the bot gets a ``message`` carrying
        ``forward_origin`` (MessageOriginUser, or HiddenUser when the author hides forwards, Chat
        or Channel), worked out as Telegram does unless ``origin`` gives it."""
        with self._cond:
            sender = self._known_user(user)
            room = self._known_chat(chat)
            original = self._live_message(source.chat_id, source.message_id)
            if original is None:
                raise ValueError(f"no message {source.message_id} in chat {source.chat_id} to forward")
            if room.type != "channel":
                room.members.setdefault(sender.id, "member")
            msg = self._store(
                room,
                original.text,
                copy.deepcopy(original.entities),
                from_user_id=None if room.type == "channel" else sender.id,
                sender_chat_id=room.id if room.type == "channel" else None,
                forward_origin=copy.deepcopy(origin) if origin is not None else self._origin_of(original),
            )
            if self._bot_sees(room, msg):
                kind = "channel_post" if room.type == "channel" else "message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_edits(self, message: StoredMessage, text: str) -> StoredMessage:
        """The author edits their message; the bot gets ``edited_message`` (``edited_channel_post``)."""
        with self._cond:
            msg = self._live_message(message.chat_id, message.message_id)
            if msg is None or msg.by_bot:
                raise ValueError("only a user's own live message can be edited by the user")
            room = self._chats[msg.chat_id]
            msg.edits.append(msg.text)
            msg.text = text
            msg.entities = _sort_entities(detect_entities(text))
            msg.edit_date = self._now()
            if self._bot_sees(room, msg):
                kind = "edited_channel_post" if room.type == "channel" else "edited_message"
                self._push_update(kind, self._message_json(msg))
            self._changed()
            return copy.deepcopy(msg)

    def user_taps(
        self,
        user: SandboxUser | int,
        message: StoredMessage,
        callback_data: str,
        *,
        check_button: bool = True,
    ) -> Tap:
        """A user taps an inline button; the bot gets a ``callback_query`` update to answer.

        With ``check_button`` (the default) the data must be on one of the message's buttons,
        since Telegram only sends what a button carries.
        """
        with self._cond:
            tapper = self._known_user(user)
            msg = self._live_message(message.chat_id, message.message_id)
            if msg is None:
                raise ValueError(f"message {message.message_id} in chat {message.chat_id} is gone")
            if check_button and callback_data not in msg.callback_data:
                raise ValueError(f"no button with callback_data {callback_data!r} on that message")
            query_id = f"{self.bot.id}{self._next_query:010d}"
            self._next_query += 1
            query: JSON = {
                "id": query_id,
                "from": tapper.to_api(),
                "message": self._message_json(msg),
                "chat_instance": f"{abs(msg.chat_id)}{self.bot.id % 1000:03d}",
                "data": callback_data,
            }
            update_id = self._push_update("callback_query", query)
            tap = Tap(query_id, update_id, tapper.id, msg.chat_id, msg.message_id, callback_data)
            self._open_queries[query_id] = tap
            self._changed()
            return tap

    # ---- what tests read --------------------------------------------------------------------

    def messages(
        self, chat: SandboxChat | int, *, by_bot: bool | None = None, include_deleted: bool = True
    ) -> list[StoredMessage]:
        """Messages in a chat, oldest first, as they are now (edits applied, deletions flagged)."""
        with self._cond:
            found = [
                m
                for m in self._messages.get(_id_of(chat), {}).values()
                if (by_bot is None or m.by_bot == by_bot) and (include_deleted or not m.deleted)
            ]
            return copy.deepcopy(found)

    def message(self, chat: SandboxChat | int, message_id: int) -> StoredMessage:
        with self._cond:
            return copy.deepcopy(self._messages[_id_of(chat)][message_id])

    def last_message(self, chat: SandboxChat | int, *, by_bot: bool | None = True) -> StoredMessage | None:
        """The newest live message in a chat (by default the newest the bot sent)."""
        found = self.messages(chat, by_bot=by_bot, include_deleted=False)
        return found[-1] if found else None

    def sent_count(self, chat: SandboxChat | int | None = None) -> int:
        """Messages the bot sent (sendMessage, copyMessage, forwardMessage) to a chat or to all."""
        with self._cond:
            if chat is None:
                return sum(self._sent.values())
            return self._sent.get(_id_of(chat), 0)

    def answer_to(self, tap: Tap) -> CallbackAnswer | None:
        with self._cond:
            return next((a for a in self.alerts if a.query_id == tap.query_id), None)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._cond:
            return [c for c in self.calls if c.method.lower() == method.lower()]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def pending_updates(self) -> int:
        """Updates injected and not yet confirmed by a getUpdates with a higher offset."""
        with self._cond:
            return len(self._updates)

    def pending(self) -> list[JSON]:
        """The updates not yet confirmed, as getUpdates would deliver them (oldest first)."""
        with self._cond:
            return [{"update_id": uid, kind: copy.deepcopy(body)} for uid, kind, body in self._updates]

    @property
    def polls_waiting(self) -> int:
        """getUpdates requests currently held open (long polling)."""
        with self._cond:
            return self._polls_waiting

    # ---- waiting for the bot, without sleeping ----------------------------------------------

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every state change); return it.

        Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
        if not result:
            raise TimeoutError(f"sandbox condition not met within {timeout}s")
        return result

    async def wait_for_async(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for; the deadline is the point
    ) -> T:
        """Like :meth:`wait_for`, for the event loop: awaits a state change instead of blocking."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = asyncio.Event()
            waiter = (loop, changed)
            with self._cond:
                self._async_waiters.add(waiter)
                result = predicate()
            try:
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"sandbox condition not met within {timeout}s")
                with contextlib.suppress(TimeoutError):  # then one last look at the predicate
                    await asyncio.wait_for(changed.wait(), remaining)
            finally:
                with self._cond:
                    self._async_waiters.discard(waiter)

    def _changed(self) -> None:
        """Wake every waiter; called with the lock held after any change of state."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed; its waiter is gone
                self._async_waiters.discard((loop, event))

    def _count_too_many(self) -> None:
        with self._cond:
            self.too_many_requests += 1
            self._changed()

    # ---- HTTP entry points ------------------------------------------------------------------

    def _serve_method(self, req: Request) -> Response:
        if req.match["token"] != self._token:
            raise api_error(401, "Unauthorized")
        wanted = req.match["method"].lower()
        found = self._methods.get(wanted)
        if found is None:
            raise api_error(404, "Not Found")
        name, handler = found
        args = _Args.of(req)
        status, error = 200, None
        try:
            result = handler(args)
        except HttpError as err:
            status, error = err.status, str(err.payload.get("description"))
            raise
        finally:
            with self._cond:
                self.calls.append(ApiCall(name, dict(args.values), status, self._clock(), error))
                self._changed()
        return Response.of_json({"ok": True, "result": result})

    def _serve_file(self, req: Request) -> Response:
        raise api_error(404, "Not Found")

    def _not_found(self, req: Request) -> Response:
        raise api_error(404, "Not Found")

    # ---- Bot API methods --------------------------------------------------------------------

    def _bot_json(self) -> JSON:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self._privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_me(self, args: _Args) -> JSON:
        return self._bot_json()

    def _get_updates(self, args: _Args) -> list[JSON]:
        offset = args.integer("offset")
        limit = min(max(args.integer("limit") or 100, 1), 100)
        timeout = max(args.number("timeout") or 0.0, 0.0)
        allowed = args.object("allowed_updates")
        deadline = time.monotonic() + timeout  # long polling waits real time, whatever the clock
        with self._cond:
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else None
            self._poll_generation += 1
            generation = self._poll_generation
            self._confirm(offset)
            self._polls_waiting += 1
            self._changed()
            try:
                while True:
                    if generation != self._poll_generation:
                        raise api_error(
                            409,
                            "Conflict: terminated by other getUpdates request; make sure that only one "
                            "bot instance is running",
                        )
                    batch = self._deliverable(limit)
                    remaining = deadline - time.monotonic()
                    if batch or remaining <= 0 or self._stopping:
                        return batch
                    self._cond.wait(remaining)
            finally:
                self._polls_waiting -= 1
                self._changed()

    def _delete_webhook(self, args: _Args) -> bool:
        with self._cond:
            if args.boolean("drop_pending_updates"):
                self._updates.clear()
                self._changed()
        return True

    def _get_webhook_info(self, args: _Args) -> JSON:
        with self._cond:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _send_message(self, args: _Args) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            text, entities = self._formatted(args)
            markup = self._inline_markup(args)
            reply_to = self._reply_target(chat, args)
            preview = self._link_preview(args)
            self._admit(chat)
            msg = self._store(
                chat,
                text,
                entities,
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                reply_markup=markup,
                reply_to_message_id=reply_to,
                link_preview_options=preview,
            )
            self._changed()
            return self._message_json(msg)

    def _edit_message_text(self, args: _Args) -> JSON:
        with self._cond:
            msg = self._editable(args)
            text, entities = self._formatted(args)
            markup = self._inline_markup(args)  # no reply_markup means: the keyboard goes away
            preview = self._link_preview(args)
            if text == msg.text and entities == msg.entities and markup == msg.reply_markup:
                raise _bad_request(_NOT_MODIFIED)
            if text != msg.text:
                msg.edits.append(msg.text)
            msg.text, msg.entities, msg.reply_markup = text, entities, markup
            if preview is not None:
                msg.link_preview_options = preview
            msg.edit_date = self._now()
            self._changed()
            return self._message_json(msg)

    def _edit_message_reply_markup(self, args: _Args) -> JSON:
        with self._cond:
            msg = self._editable(args)
            markup = self._inline_markup(args)
            if markup == msg.reply_markup:
                raise _bad_request(_NOT_MODIFIED)
            msg.reply_markup = markup
            msg.edit_date = self._now()
            self._changed()
            return self._message_json(msg)

    def _answer_callback_query(self, args: _Args) -> bool:
        with self._cond:
            query_id = args.text("callback_query_id") or ""
            rules.check_callback_answer(args.text("text"))
            tap = self._open_queries.pop(query_id, None)
            if tap is None:
                raise _bad_request(_QUERY_TOO_OLD)
            answer = CallbackAnswer(
                query_id,
                tap.user_id,
                tap.chat_id,
                tap.message_id,
                tap.data,
                args.text("text"),
                args.boolean("show_alert"),
                args.text("url"),
                args.integer("cache_time") or 0,
            )
            self.alerts.append(answer)
            self._changed()
            return True

    def _copy_message(self, args: _Args) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            source = self._source_message(args, "message to copy not found")
            rules.check_caption(args.text("caption"))
            markup = self._inline_markup(args)
            reply_to = self._reply_target(chat, args)
            self._admit(chat)
            msg = self._store(
                chat,
                source.text,
                copy.deepcopy(source.entities),
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                reply_markup=markup,
                reply_to_message_id=reply_to,
            )
            self._changed()
            return {"message_id": msg.message_id}

    def _forward_message(self, args: _Args) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            source = self._source_message(args, "message to forward not found")
            self._admit(chat)
            msg = self._store(
                chat,
                source.text,
                copy.deepcopy(source.entities),
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                forward_origin=self._origin_of(source),
            )
            self._changed()
            return self._message_json(msg)

    def _delete_message(self, args: _Args) -> bool:
        with self._cond:
            chat = self._known_chat_arg(args, "chat_id")
            message_id = args.integer("message_id")
            msg = self._live_message(chat.id, message_id) if message_id is not None else None
            if msg is None:
                raise _bad_request("message to delete not found")
            rules.check_deletable(msg.date, self._now())
            if (
                not msg.by_bot
                and chat.type != "private"
                and chat.members.get(self.bot.id)
                not in (
                    "administrator",
                    "creator",
                )
            ):
                raise _bad_request("message can't be deleted")
            msg.deleted = True
            self._changed()
            return True

    def _set_my_commands(self, args: _Args) -> bool:
        commands = args.object("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        cleaned: list[JSON] = []
        for entry in commands:
            if not isinstance(entry, dict):
                raise _bad_request("can't parse BotCommand")
            command = str(entry.get("command", "")).removeprefix("/")
            description = str(entry.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        with self._cond:
            self._commands[(_scope_key(args.object("scope")), args.text("language_code") or "")] = cleaned
            self._changed()
        return True

    def _get_my_commands(self, args: _Args) -> list[JSON]:
        with self._cond:
            key = (_scope_key(args.object("scope")), args.text("language_code") or "")
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, args: _Args) -> bool:
        with self._cond:
            self._commands.pop((_scope_key(args.object("scope")), args.text("language_code") or ""), None)
            self._changed()
        return True

    def _get_chat(self, args: _Args) -> JSON:
        with self._cond:
            raw = args.text("chat_id") or ""
            user_id = int(raw) if raw.isdigit() else None
            user = self._users.get(user_id) if user_id is not None else None
            if user is not None and user.id not in self._chats and user.id != self.bot.id:
                # A user the bot has met: their private chat, as getChat describes it.
                chat = SandboxChat(user.id, "private", None, user.username, user.first_name, user.last_name)
            else:
                chat = self._known_chat_arg(args, "chat_id")
            out = chat.to_api()
            owner = self._users.get(chat.id) if chat.type == "private" else None
            if owner is not None and owner.bio:
                out["bio"] = owner.bio
            out.update(
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            )
            if chat.description is not None:
                out["description"] = chat.description
            return out

    def _get_chat_member(self, args: _Args) -> JSON:
        with self._cond:
            chat = self._known_chat_arg(args, "chat_id")
            user_id = args.integer("user_id")
            user = self._users.get(user_id) if user_id is not None else None
            if user is None:
                raise _bad_request("user not found")
            status = chat.members.get(user.id, "left")
            return _member_json(status, user.to_api())

    # ---- helpers (call with the lock held) --------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _known_user(self, user: SandboxUser | int) -> SandboxUser:
        found = self._users.get(_id_of(user))
        if found is None:
            raise ValueError(f"unknown user {_id_of(user)}; add_user() first")
        return found

    def _known_chat(self, chat: SandboxChat | int) -> SandboxChat:
        found = self._chats.get(_id_of(chat))
        if found is None:
            raise ValueError(f"unknown chat {_id_of(chat)}; add_chat() first")
        return found

    def _known_chat_arg(self, args: _Args, name: str) -> SandboxChat:
        raw = args.text(name)
        if raw is None or raw == "":
            raise _bad_request(f"{name} is empty")
        if raw.startswith("@"):
            wanted = raw[1:].lower()
            for chat in self._chats.values():
                if chat.type != "private" and (chat.username or "").lower() == wanted:
                    return chat
            raise _bad_request("chat not found")
        try:
            chat_id = int(raw)
        except ValueError:
            raise _bad_request("chat not found") from None
        found = self._chats.get(chat_id)
        if found is None:
            raise _bad_request("chat not found")
        return found

    def _target_chat(self, args: _Args) -> SandboxChat:
        wanted = args.text("chat_id") or ""
        if wanted.isdigit():  # a person's id: only once they have opened a chat with the bot
            rules.check_private_chat(int(wanted) in self._users, int(wanted) in self._chats)
        chat = self._known_chat_arg(args, "chat_id")
        if chat.bot_blocked:
            raise api_error(403, "Forbidden: bot was blocked by the user")
        status = chat.members.get(self.bot.id)
        if status in ("left", "kicked"):
            which = "channel" if chat.type == "channel" else "group chat"
            raise api_error(403, f"Forbidden: bot was kicked from the {which}")
        if chat.type == "channel" and status not in ("administrator", "creator"):
            raise _bad_request("need administrator rights in the channel chat")
        return chat

    def _formatted(self, args: _Args) -> tuple[str, list[JSON]]:
        raw = args.text("text")
        if not raw:
            raise _bad_request("message text is empty")
        explicit = args.object("entities")
        mode = (args.text("parse_mode") or "").strip()
        if isinstance(explicit, list):
            text, entities = raw, [e for e in explicit if isinstance(e, dict)]
        elif mode == "":
            text, entities = raw, []
        else:
            parser = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}.get(
                mode.lower()
            )
            if parser is None:
                raise _bad_request(f"unsupported parse_mode {mode!r}")
            try:
                text, entities = parser(raw)
            except EntityParseError as err:
                raise _bad_request(f"can't parse entities: {err}") from None
        text, entities = _strip_text(text, entities)
        if not text:
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        entities = [self._mention_or_link(e) for e in entities]
        return text, _sort_entities([*entities, *detect_entities(text, entities)])

    def _mention_or_link(self, entity: JSON) -> JSON:
        """A ``tg://user?id=`` link to a known user becomes a text_mention carrying that user."""
        url = entity.get("url", "")
        if entity["type"] == "text_link" and url.startswith("tg://user?id="):
            user = self._users.get(int(url.rpartition("=")[2])) if url.rpartition("=")[2].isdigit() else None
            if user is not None:
                return {
                    "type": "text_mention",
                    "offset": entity["offset"],
                    "length": entity["length"],
                    "user": user.to_api(),
                }
        return entity

    def _inline_markup(self, args: _Args) -> JSON | None:
        """The inline keyboard to keep on the message; other keyboards are accepted but not shown."""
        markup = args.object("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards, ForceReply and removals live on the client, not the message
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                if len(button) == 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                rules.check_button_url(button)
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _CALLBACK_DATA_MAX_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        if not any(rows):
            return None
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _reply_target(self, chat: SandboxChat, args: _Args) -> int | None:
        params = args.object("reply_parameters")
        if isinstance(params, dict):
            wanted, lenient = params.get("message_id"), bool(params.get("allow_sending_without_reply"))
        else:
            wanted, lenient = args.integer("reply_to_message_id"), args.boolean("allow_sending_without_reply")
        if wanted is None:
            return None
        try:
            message_id = int(wanted)
        except (TypeError, ValueError):
            raise _bad_request("message to be replied not found") from None
        if self._live_message(chat.id, message_id) is None:
            if lenient:
                return None
            raise _bad_request("message to be replied not found")
        return message_id

    def _link_preview(self, args: _Args) -> JSON | None:
        options = args.object("link_preview_options")
        if isinstance(options, dict):
            return options
        if args.boolean("disable_web_page_preview"):
            return {"is_disabled": True}
        return None

    def _editable(self, args: _Args) -> StoredMessage:
        if args.has("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")  # the bot never sends inline messages here
        chat = self._known_chat_arg(args, "chat_id")
        message_id = args.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        msg = self._live_message(chat.id, message_id)
        if msg is None:
            raise _bad_request("message to edit not found")
        if not msg.by_bot or msg.forward_origin is not None:
            raise _bad_request("message can't be edited")
        return msg

    def _source_message(self, args: _Args, missing: str) -> StoredMessage:
        chat = self._known_chat_arg(args, "from_chat_id")
        message_id = args.integer("message_id")
        msg = self._live_message(chat.id, message_id) if message_id is not None else None
        if msg is None:
            raise _bad_request(missing)
        return msg

    def _origin_of(self, source: StoredMessage) -> JSON:
        """The forward_origin a forward of ``source`` carries (the first origin if it was a forward)."""
        if source.forward_origin is not None:
            return copy.deepcopy(source.forward_origin)
        chat = self._chats[source.chat_id]
        if chat.type == "channel":
            return {
                "type": "channel",
                "date": source.date,
                "chat": chat.to_api(),
                "message_id": source.message_id,
            }
        if source.sender_chat_id is not None:
            return {
                "type": "chat",
                "date": source.date,
                "sender_chat": self._chats[source.sender_chat_id].to_api(),
            }
        user = self._users[source.from_user_id] if source.from_user_id is not None else self.bot
        if user.hide_forwards:
            return {"type": "hidden_user", "date": source.date, "sender_user_name": user.full_name}
        return {"type": "user", "date": source.date, "sender_user": user.to_api()}

    def _admit(self, chat: SandboxChat) -> None:
        if self._flood is None:
            return
        retry_after = self._flood.admit(chat, self._clock())
        if retry_after is not None:
            self.too_many_requests += 1
            raise HttpError(429, _too_many_requests(retry_after))

    def _live_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        msg = self._messages.get(chat_id, {}).get(message_id)
        return None if msg is None or msg.deleted else msg

    def _store(self, chat: SandboxChat, text: str, entities: list[JSON], **fields: Any) -> StoredMessage:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        msg = StoredMessage(chat.id, message_id, self._now(), text, entities, **fields)
        self._messages.setdefault(chat.id, {})[message_id] = msg
        if msg.by_bot:
            self._sent[chat.id] = self._sent.get(chat.id, 0) + 1
        return msg

    def _bot_sees(self, chat: SandboxChat, msg: StoredMessage) -> bool:
        replied = self._messages[chat.id].get(msg.reply_to_message_id or 0)
        return rules.bot_sees(
            chat_type=chat.type,
            privacy_mode=self._privacy_mode,
            bot=self.bot,
            bot_status=chat.members.get(self.bot.id),
            sender=self._users.get(msg.from_user_id) if msg.from_user_id is not None else None,
            text=msg.text,
            entities=msg.entities,
            replied_by_bot=replied is not None and replied.by_bot,
            last_bot=rules.last_bot_sender(self._messages[chat.id].values(), self._users, msg.message_id),
        )

    def _push_update(self, kind: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        if rules.update_wanted(kind, self._allowed_updates):  # filtered as it is made, not as it is read
            self._updates.append((update_id, kind, payload))
        return update_id

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        before = len(self._updates)
        if offset < 0:
            del self._updates[: max(len(self._updates) + offset, 0)]
        else:
            self._updates = [u for u in self._updates if u[0] >= offset]
        if len(self._updates) != before:
            self._changed()

    def _deliverable(self, limit: int) -> list[JSON]:
        return [{"update_id": update_id, kind: payload} for update_id, kind, payload in self._updates[:limit]]

    def _message_json(self, msg: StoredMessage, *, nested: bool = False) -> JSON:
        out: JSON = {"message_id": msg.message_id}
        if msg.from_user_id is not None:
            out["from"] = self._users[msg.from_user_id].to_api()
        if msg.sender_chat_id is not None:
            out["sender_chat"] = self._chats[msg.sender_chat_id].to_api()
        out["date"] = msg.date
        out["chat"] = self._chats[msg.chat_id].to_api()
        if msg.via_bot_id is not None:
            out["via_bot"] = self._users[msg.via_bot_id].to_api()
        if msg.forward_origin is not None:
            out["forward_origin"] = copy.deepcopy(msg.forward_origin)
        if msg.reply_to_message_id is not None and not nested:
            replied = self._live_message(msg.chat_id, msg.reply_to_message_id)
            if replied is not None:
                out["reply_to_message"] = self._message_json(replied, nested=True)
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        out["text"] = msg.text
        if msg.entities:
            out["entities"] = copy.deepcopy(msg.entities)
        if msg.link_preview_options is not None:
            out["link_preview_options"] = copy.deepcopy(msg.link_preview_options)
        if msg.reply_markup is not None:
            out["reply_markup"] = copy.deepcopy(msg.reply_markup)
        return out


def _id_of(thing: SandboxUser | SandboxChat | int) -> int:
    return thing if isinstance(thing, int) else thing.id


def _message_id_of(thing: StoredMessage | int | None) -> int | None:
    return thing.message_id if isinstance(thing, StoredMessage) else thing


def _scope_key(scope: Any) -> str:
    return json.dumps(scope if isinstance(scope, dict) else {"type": "default"}, sort_keys=True)


_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_post_messages",
    "can_edit_messages",
)


def _member_json(status: str, user: JSON) -> JSON:
    """A ChatMember object of the kind ``status`` names."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(_ADMIN_RIGHTS, True)
        rights["can_promote_members"] = False
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **rights,
        }
    if status == "restricted":
        return {
            "status": "restricted",
            "user": user,
            "is_member": True,
            "until_date": 0,
            "can_send_messages": False,
            "can_send_audios": False,
            "can_send_documents": False,
            "can_send_photos": False,
            "can_send_videos": False,
            "can_send_video_notes": False,
            "can_send_voice_notes": False,
            "can_send_polls": False,
            "can_send_other_messages": False,
            "can_add_web_page_previews": False,
            "can_change_info": False,
            "can_invite_users": False,
            "can_pin_messages": False,
            "can_manage_topics": False,
        }
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status == "member":
        return {"status": "member", "user": user}
    return {"status": "left", "user": user}
