"""The daily highlights of a conference: the day's approved conference posts, each credited to
its author, as one post or a numbered thread that fits the platform. Pure: given the posts and
the platform's limits and markup, the parts to publish.

Consent: a member who opted out is left out (never credited nor linked); under an opt-in
community only members who opted in are."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain import TextLimits
from bot.series.markup import Markup
from bot.trust.standing import may_credit

EXCERPT = 90  # characters of a post shown before its link
MAX_ITEMS = 25  # a day's thread stays readable: the rest are counted, not listed


@dataclass(frozen=True, slots=True)
class Highlight:
    handle: str
    name: str
    url: str
    text: str
    consent: str | None  # "in", "out" or None (unsaid), as the consent registry keeps it
    approved_at: datetime
    engagement: int | None = None


def excerpt(text: str, room: int = EXCERPT) -> str:
    """The post's words on one line, cut between words with an ellipsis when longer than ``room``."""
    flat = " ".join(text.split())
    if len(flat) <= room:
        return flat
    cut = flat[: room - 1]
    space = cut.rfind(" ")
    if flat[len(cut)] != " " and space > room // 2:  # the cut falls inside a word: drop it
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def _pack(paragraphs: Sequence[str], measure: Callable[[str], int], room: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for para in paragraphs:
        joined = f"{current}\n\n{para}" if current else para
        if current and measure(joined) > room:
            parts.append(current)
            current = para
        else:
            current = joined
    if current:
        parts.append(current)
    return parts


def compose_highlights(
    *,
    conference: str,
    tag: str,
    day: date,
    day_number: int,
    items: Iterable[Highlight],
    limits: TextLimits,
    markup: Markup | None = None,
    consent_mode: str = "opt-out",
    max_items: int = MAX_ITEMS,
) -> list[str]:
    """The parts of the day's highlights thread (empty when no post may be shown)."""
    mk = markup or Markup()
    measure = mk.measure(limits)
    shown = sorted(
        (h for h in items if may_credit(h.consent, consent_mode)), key=lambda h: (h.approved_at, h.url)
    )
    if not shown:
        return []
    listed, rest = shown[:max_items], len(shown) - max_items
    head = mk.bold(
        mk.text(f"{conference}, day {day_number} ({day:%B} {day.day}): highlights from our members")
    )
    head += mk.text(f" #{tag}")
    numbered = len(listed) > 1
    suffix = len(" 99/99")  # the room a thread's numbering takes, whatever the count
    room = limits.max_length - suffix
    paragraphs = [head]
    for i, h in enumerate(listed, 1):
        who = h.name.strip() or h.handle
        lead = f"{i}. " if numbered else ""
        entry = ""
        for size in (EXCERPT, EXCERPT // 2, 0):  # shorter excerpts until the entry fits a post
            words = f"“{excerpt(h.text, size)}” " if size else ""
            entry = mk.text(f"{lead}{words}— {who} ") + mk.link(h.url)
            if measure(entry) <= room:
                break
        else:
            continue  # an address too long for any post: never cut a link
        paragraphs.append(entry)
    if rest > 0:
        paragraphs.append(mk.text(f"…and {rest} more: follow #{tag} for them all."))
    parts = _pack(paragraphs, measure, room)
    if len(parts) == 1:
        return parts
    n = len(parts)
    return [f"{p}{mk.text(f' {i}/{n}')}" for i, p in enumerate(parts, 1)]
