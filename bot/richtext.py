"""Platform-free rich text for what the bot writes to people (console cards, spotlights): lines of
spans with a little emphasis, links and quotes, that each platform renders in its own markup.

Spans written by members are marked ``untrusted``: renderers escape them and keep them from
turning into markup, links or mentions the member did not write. ``fit`` cuts a document to a
platform's length between words, never inside a link, and never touches the trusted lines (so
the link to the original always survives the cut).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from bot.domain import TextLimits
from bot.text import URL, length

Style = Literal["plain", "bold", "italic", "code", "quote", "spoiler"]
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style = "plain"
    url: str | None = None  # the span links there
    untrusted: bool = False  # a member wrote it: escape it, never let it become markup
    cuttable: bool = False  # may be shortened when the whole does not fit


Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Doc:
    lines: tuple[Line, ...]

    @classmethod
    def of(cls, *lines: Line | Span | str | None) -> Doc:
        """Lines from spans, tuples of spans or plain strings; None lines are left out."""
        out: list[Line] = []
        for line in lines:
            if line is None:
                continue
            if isinstance(line, str):
                out.append((Span(line),))
            elif isinstance(line, Span):
                out.append((line,))
            else:
                out.append(tuple(s for s in line if s.text))
        return cls(tuple(out))

    def plain(self) -> str:
        """The text as a reader sees it, which is what platforms count."""
        return "\n".join("".join(s.text for s in line) for line in self.lines)

    def fit(self, limits: TextLimits) -> Doc:
        """This document cut to ``limits``: cuttable spans are shortened, longest first, between
        words, each ending in an ellipsis. Raises ValueError if even that cannot make it fit."""
        over = length(self.plain(), limits) - limits.max_length
        if over <= 0:
            return self
        spans = sorted(
            ((i, j) for i, line in enumerate(self.lines) for j, s in enumerate(line) if s.cuttable),
            key=lambda ij: -length(self.lines[ij[0]][ij[1]].text, limits),
        )
        lines = [list(line) for line in self.lines]
        for i, j in spans:
            span = lines[i][j]
            room = max(0, length(span.text, limits) - over - length(ELLIPSIS, limits))
            cut = cut_text(span.text, room, limits)
            lines[i][j] = replace(span, text=cut + ELLIPSIS)
            over = length(Doc(tuple(tuple(line) for line in lines)).plain(), limits) - limits.max_length
            if over <= 0:
                return Doc(tuple(tuple(line) for line in lines))
        raise ValueError("the fixed parts alone are longer than the platform allows")


def cut_text(text: str, room: int, limits: TextLimits) -> str:
    """The longest start of ``text`` within ``room`` (by ``limits``' counting) that ends between
    words and outside any link; a single overlong word is cut between characters."""
    if length(text, limits) <= room:
        return text
    links = [(m.start(), m.end()) for m in URL.finditer(text)]
    best = 0
    for m in re.finditer(r"\s+", text):
        end = m.start()
        if length(text[:end], limits) > room:
            break
        if not any(start < end < stop for start, stop in links):
            best = end
    if best == 0:  # no word boundary fits: cut inside the first word, but never inside a link
        best = len(text)
        while best and length(text[:best], limits) > room:
            best -= 1
        for start, stop in links:
            if start < best < stop:
                best = start
    return text[:best].rstrip()
