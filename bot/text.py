"""Counting and splitting text the way each platform counts it. Pure functions.

Mastodon counts code points, every link as 23 and a mention by its local part; Bluesky counts
grapheme clusters (an emoji with ZWJ, a flag or an accented letter is one); Telegram counts
UTF-16 code units. Threads are split between words, never inside a word, link or hashtag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import regex

from bot.domain import TextLimits

# Characters a member's text may carry that must not reach a page or a file as they are: NUL,
# and the bidirectional embeddings, overrides and isolates, which would turn the words around
# them (a name that makes "Reject" read as "Approve", a link whose end shows first).
HIDDEN = dict.fromkeys([0, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def without_hidden(text: str) -> str:
    """``text`` without the ``HIDDEN`` characters."""
    return text.translate(HIDDEN)


URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'’”]")
_MENTION = re.compile(r"(?<![\w/])@(\w[\w.-]*)@[\w.-]+\w")
_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    found: list[str] = _GRAPHEME.findall(text)
    return found


def length(text: str, limits: TextLimits) -> int:
    """How long ``text`` is by ``limits``' rules."""
    if limits.counting == "graphemes":
        return len(graphemes(text))
    if limits.counting == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if limits.link_length is not None:
        link = "x" * limits.link_length
        text = URL.sub(link, text)
        text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(text)


def fits(text: str, limits: TextLimits) -> bool:
    return length(text, limits) <= limits.max_length


def _tokens(text: str) -> list[str]:
    """Words with their trailing white space; links and hashtags are words like any other."""
    return re.findall(r"\S+\s*", text) or [text]


def _hard_split(word: str, limits: TextLimits, room: int) -> list[str]:
    """A single word longer than a whole post (not a link): cut between graphemes."""
    pieces: list[str] = []
    current = ""
    for g in graphemes(word):
        if current and length(current + g, limits) > room:
            pieces.append(current)
            current = ""
        current += g
    if current:
        pieces.append(current)
    return pieces


def _pack(tokens: list[str], limits: TextLimits, room: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for token in tokens:
        candidate = current + token
        if length(candidate.rstrip(), limits) <= room:
            current = candidate
            continue
        if current:
            parts.append(current.rstrip())
            current = ""
        if length(token.rstrip(), limits) <= room or URL.fullmatch(token.strip()):
            current = token
        else:
            *whole, last = _hard_split(token.rstrip(), limits, room)
            parts.extend(whole)
            current = last + token[len(token.rstrip()) :]
    if current.strip():
        parts.append(current.rstrip())
    return parts


def split_thread(text: str, limits: TextLimits, *, number: bool = True) -> list[str]:
    """``text`` as one post, or as a thread of posts that each fit, numbered " 1/3" when split.

    Paragraph breaks are preferred split points: a paragraph that fits in a post is never
    broken across two.
    """
    text = text.strip()
    if fits(text, limits):
        return [text]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    total_guess = 2
    while True:
        suffix_room = len(f" {total_guess}/{total_guess}") if number else 0
        room = limits.max_length - suffix_room
        parts: list[str] = []
        current = ""
        for para in paragraphs:
            joined = f"{current}\n\n{para}" if current else para
            if length(joined, limits) <= room:
                current = joined
                continue
            if current:
                parts.append(current)
                current = ""
            if length(para, limits) <= room:
                current = para
            else:
                *whole, last = _pack(_tokens(para), limits, room)
                parts.extend(whole)
                current = last
        if current:
            parts.append(current)
        if not number or len(str(len(parts))) <= len(str(total_guess)):
            break
        total_guess = len(parts)
    if not number:
        return parts
    n = len(parts)
    return [f"{p} {i}/{n}" for i, p in enumerate(parts, 1)]


def numbered(problems: Sequence[str]) -> str:
    """Problems as a list a person can refer to, counted from 1: ``  1. …`` on a line each."""
    return "\n".join(f"  {n}. {problem}" for n, problem in enumerate(problems, 1))
