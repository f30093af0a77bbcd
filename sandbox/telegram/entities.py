"""Message entities as Telegram counts them: UTF-16 offsets, the entities it detects in plain text
(links, mentions, hashtags, commands) and the helpers the markup parsers share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sandbox.telegram.model import JSON


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets and of the 4096 limit (a lone
    surrogate, which a client may send, is one unit)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class EntityParseError(ValueError):
    """Formatted text Telegram would refuse; the message becomes "can't parse entities: ..."."""


class TextBuilder:
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
