"""An original post as each platform will receive it: made inert (``bot.inert``), written in the
platform's markup, split into a numbered thread where it does not fit one post, and measured the
way the platform counts. Pure: the preview and the publisher call the same function, so what a
curator sees is exactly what goes out.

A line holding only ``---`` starts a new part of a thread where the curator wants one; a part
still too long for a platform is split further between words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial

from bot.domain import Platform, TextLimits
from bot.inert import InertRules, inert, inert_html
from bot.series.markup import Markup
from bot.text import length, split_thread

MAX_TEXT = 20_000  # characters a curator may write for one post or thread
MAX_PARTS = 25  # parts a thread may have on any platform
_BREAK = re.compile(r"^[ \t]*-{3,}[ \t]*$", re.MULTILINE)
_NUMBER_ROOM = len(" 99/99")


@dataclass(frozen=True)
class Part:
    text: str  # exactly what the adapter is given (HTML on an HTML platform)
    shown: str  # what a reader sees
    length: int  # as the platform counts it
    fits: bool


@dataclass(frozen=True)
class PlatformFit:
    """One platform's version of an original post."""

    platform: Platform
    max_length: int
    counting: str  # chars | graphemes | utf16, and links as Mastodon counts them (link_length)
    link_length: int | None
    parts: tuple[Part, ...]
    fits: bool  # every part within the limit, and no more parts than a thread may have
    thread: bool  # more than one part


def markup_for(kind: str, rules: InertRules | None, own_tags: Iterable[str]) -> Markup:
    """How an original is written for a platform: its markup and its adapter's inert step (the
    adapter repeats that step; doing it here first keeps the measuring true)."""
    if rules is None:
        return Markup(kind)
    keep = rules.with_tags(frozenset(own_tags))
    return Markup(kind, inert=partial(inert_html if kind == "html" else inert, rules=keep))


def blocks(text: str) -> list[str]:
    """The parts the curator marked with ``---`` lines (one block when she marked none)."""
    return [b.strip() for b in _BREAK.split(text.replace("\r\n", "\n")) if b.strip()]


def _split(text: str, limits: TextLimits) -> list[str]:
    chosen = blocks(text)
    if len(chosen) <= 1:
        return split_thread(text.strip(), limits)
    room = replace(limits, max_length=max(1, limits.max_length - _NUMBER_ROOM))
    parts = [p for block in chosen for p in split_thread(block, room, number=False)]
    return [f"{p} {i}/{len(parts)}" for i, p in enumerate(parts, 1)]


def compose(text: str, limits: TextLimits, markup: Markup) -> list[str]:
    """``text`` as the parts the adapter publishes, in order."""
    if not text.strip():
        return []
    visible = markup.visible(markup.text(text))  # inert as the reader will see it
    return [markup.text(part) for part in _split(visible, limits)]


def fit(text: str, platform: Platform, limits: TextLimits, markup: Markup) -> PlatformFit:
    measure: Callable[[str], int] = lambda value: length(markup.visible(value), limits)  # noqa: E731
    parts = tuple(
        Part(p, markup.visible(p), measure(p), measure(p) <= limits.max_length)
        for p in compose(text, limits, markup)
    )
    fits = bool(parts) and len(parts) <= MAX_PARTS and all(p.fits for p in parts)
    return PlatformFit(
        platform, limits.max_length, limits.counting, limits.link_length, parts, fits, len(parts) > 1
    )
