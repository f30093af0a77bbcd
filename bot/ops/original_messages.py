"""What the original-post operations say to people (English), in one place: the command line
prints these and the web console shows the same words."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.ops.messages import plural, when

if TYPE_CHECKING:
    from bot.series.original_text import PlatformFit
    from bot.series.originals import OriginalView

COUNTING = {"chars": "characters", "graphemes": "graphemes", "utf16": "characters"}


def unit(f: PlatformFit) -> str:
    word = COUNTING.get(f.counting, f.counting)
    return f"{word}, links count {f.link_length}" if f.link_length else word


def fit_line(f: PlatformFit) -> str:
    """``mastodon: fits in one post (212 of 500 characters, links count 23)``."""
    longest = max((p.length for p in f.parts), default=0)
    if not f.fits:
        over = [str(i) for i, p in enumerate(f.parts, 1) if not p.fits]
        where = f"part {', '.join(over)}" if over else f"{len(f.parts)} parts"
        return f"{f.platform.value}: does NOT fit ({where}; limit {f.max_length} {unit(f)})"
    if f.thread:
        size = f"longest {longest} of {f.max_length} {unit(f)}"
        return f"{f.platform.value}: a thread of {len(f.parts)} posts ({size})"
    return f"{f.platform.value}: fits in one post ({longest} of {f.max_length} {unit(f)})"


def empty_text() -> str:
    return "write something: the post is empty"


def too_long(limit: int) -> str:
    return f"the text is longer than {limit} characters; split it into several posts"


def does_not_fit(fits: Sequence[PlatformFit]) -> str:
    return "it does not fit: " + "; ".join(fit_line(f) for f in fits if not f.fits)


def names_curator(name: str) -> str:
    return f"the text names the curator {name}; the account speaks as the curators"


def unknown_platform(name: str, enabled: Sequence[str]) -> str:
    return f"no platform {name!r} is enabled here: choose among {', '.join(enabled) or 'none'}"


def in_the_past(at: datetime) -> str:
    return f"{when(at)} is in the past: choose a later time, or send it now"


def status(o: OriginalView, *, frozen: bool = False) -> str:
    """Where the post stands, in one sentence."""
    if o.state == "pending":
        said = f"waits for {plural(o.needs, 'more approval')}"
        said += f", then goes out at {when(o.due_at)}" if o.due_at else ""
    elif o.state == "approved":
        said = "is approved; choose when it goes out"
        if o.due_at is not None:
            said = f"is approved and goes out at {when(o.due_at)}"
    else:
        said = f"is {o.state}"
    note = " The account is frozen: nothing goes out until it is unfrozen." if frozen else ""
    return f"Original post #{o.id} {said}.{note}"


def written(o: OriginalView, fits: Sequence[PlatformFit], *, frozen: bool = False) -> str:
    return "\n".join([status(o, frozen=frozen), *(f"  {fit_line(f)}" for f in fits)])


def listed(items: Sequence[OriginalView]) -> str:
    if not items:
        return "No original posts."
    lines = []
    for o in items:
        first = o.text.strip().splitlines()[0] if o.text.strip() else ""
        first = first if len(first) <= 60 else first[:59] + "…"
        moment = o.slot or o.due_at
        at = f" {when(moment)}" if moment is not None else ""
        approvals = f" {o.approvals}/{o.approvals_required}" if o.state == "pending" else ""
        lines.append(f"#{o.id} {o.state}{approvals}{at} [{' '.join(p.value for p in o.platforms)}] {first}")
    return "\n".join(lines)
