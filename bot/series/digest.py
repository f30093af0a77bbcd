"""The weekly opportunity digest, composed for one platform and one language. Pure.

Open entries are grouped by kind, soonest deadline first within a group; the digest is one
post when it fits and otherwise a numbered thread (1/4, 2/4 …) in which no entry is ever split
and a group that runs on into the next part repeats its heading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.domain import TextLimits
from bot.series.markup import Markup
from bot.series.opportunities import Opportunity, digest_order
from bot.series.templates import KINDS, Templates
from bot.text import graphemes, split_thread

GROUP_GAP = "\n\n"
ENTRY_GAP = "\n\n"
HEADING_GAP = "\n"


@dataclass(frozen=True)
class DigestContext:
    """What the digest says about the community, from the config."""

    community: str  # the community's name
    hashtag: str  # "#LatinasInMedicine"
    tag: str  # "#opportunity"
    closing_soon_days: int = 7
    show_eligibility: bool = True
    call_for_submissions: bool = False


@dataclass
class Digest:
    parts: list[str]
    entries: int = 0
    left_out: list[Opportunity] = field(default_factory=list)  # too long for one post, even shortened


def _numbered(parts: list[str]) -> list[str]:
    if len(parts) == 1:
        return parts
    n = len(parts)
    return [f"{p}\n{i}/{n}" for i, p in enumerate(parts, 1)]


class _Composer:
    def __init__(
        self,
        templates: Templates,
        limits: TextLimits,
        markup: Markup,
        ctx: DigestContext,
        day: date,
    ) -> None:
        self.t = templates
        self.limits = limits
        self.mk = markup
        self.ctx = ctx
        self.day = day
        self.measure: Callable[[str], int] = markup.measure(limits)
        self._entries: dict[int, tuple[str, int]] = {}  # entry text and size, across packings

    def entry(self, o: Opportunity, title: str | None = None, organisation: str | None = None) -> str:
        mk, t = self.mk, self.t
        title = o.title if title is None else title
        organisation = o.organisation if organisation is None else organisation
        if o.deadline is None:
            deadline = mk.fill(t, "digest_no_deadline")
        else:
            shown = mk.text(t.date(o.deadline))
            days = str(o.days_left(self.day))
            deadline = mk.fill(t, "digest_deadline", date=shown, days=days)
            if o.closing_soon(self.day, self.ctx.closing_soon_days):
                deadline += mk.fill(t, "digest_closing_soon", date=shown, days=days)
        eligibility = ""
        if self.ctx.show_eligibility and o.eligibility:
            words = ", ".join(dict.fromkeys(t.eligibility(w) for w in o.eligibility))
            eligibility = mk.fill(t, "digest_eligibility", eligibility=mk.text(words))
        return mk.fill(
            t,
            "digest_entry",
            title=mk.text(title),
            organisation=mk.fill(t, "digest_organisation", organisation=mk.text(organisation))
            if organisation
            else "",
            deadline=deadline,
            eligibility=eligibility,
            link=mk.link(o.url),
        )

    def fitted_entry(self, o: Opportunity, room: int) -> str | None:
        """The entry, its title (then organisation) shortened with "…" if it cannot fit a post
        on its own; None if even that is not enough (a link longer than a post)."""
        if o.id not in self._entries:
            text = self.entry(o)
            self._entries[o.id] = (text, self.measure(text))
        text, size = self._entries[o.id]
        if size <= room:
            return text
        for field_name in ("title", "organisation"):
            value = getattr(o, field_name)
            cut = graphemes(value)
            lo, hi, best = 0, len(cut) - 1, None
            while lo <= hi:  # the longest prefix that fits
                mid = (lo + hi) // 2
                shorter = "".join(cut[:mid]).rstrip() + "…"
                kwargs = {field_name: shorter}
                if field_name == "organisation":
                    kwargs["title"] = self._short_title(o)
                candidate = self.entry(o, **kwargs)
                if self.measure(candidate) <= room:
                    best, lo = candidate, mid + 1
                else:
                    hi = mid - 1
            if best is not None:
                return best
        return None

    def _short_title(self, o: Opportunity) -> str:
        return "".join(graphemes(o.title)[:12]).rstrip() + "…"

    def compose(self, opportunities: Sequence[Opportunity]) -> Digest:
        mk, t, ctx = self.mk, self.t, self.ctx
        entries = [o for o in digest_order(opportunities) if o.is_open(self.day)]
        if not entries:
            return self.empty()
        header = mk.fill(
            t,
            "digest_header",
            community=mk.text(ctx.community),
            date=mk.text(t.date(self.day)),
            hashtag=mk.text(ctx.hashtag),
            tag=mk.text(ctx.tag),
            count=str(len(entries)),
        )
        footer = mk.fill(
            t,
            "digest_footer",
            community=mk.text(ctx.community),
            hashtag=mk.text(ctx.hashtag),
            tag=mk.text(ctx.tag),
        )
        groups = [(kind, [o for o in entries if o.kind == kind]) for kind in KINDS]
        total_guess = 1
        while True:
            suffix = len(f"\n{total_guess}/{total_guess}") if total_guess > 1 else 0
            room = self.limits.max_length - suffix
            parts, left_out = self._pack(header, footer, groups, room)
            # A thread needs room for its numbers: pack again until the count's digits fit.
            if len(parts) == 1 or (total_guess > 1 and len(str(len(parts))) <= len(str(total_guess))):
                break
            total_guess = len(parts)
        return Digest(_numbered(parts), entries=len(entries) - len(left_out), left_out=left_out)

    def _pack(
        self, header: str, footer: str, groups: list[tuple[str, list[Opportunity]]], room: int
    ) -> tuple[list[str], list[Opportunity]]:
        measure = self.measure
        parts: list[str] = []
        left_out: list[Opportunity] = []
        current, used = header, measure(header)
        gap = measure(ENTRY_GAP)
        for kind, items in groups:
            if not items:
                continue
            heading = self.mk.bold(self.mk.text(self.t.kind(kind)))
            heading_len = measure(heading) + measure(HEADING_GAP)
            first_in_part = True  # of this group, in the current part
            for o in items:
                try:
                    text = self.fitted_entry(o, room - heading_len)
                except Exception:  # one entry that cannot be written is left out (Digest.left_out), not all
                    text = None
                if text is None:
                    left_out.append(o)
                    continue
                size = self._entries[o.id][1] if text is self._entries[o.id][0] else measure(text)
                block, block_len = text, size
                if first_in_part:
                    block = heading + HEADING_GAP + text
                    block_len = heading_len + size
                if used + gap + block_len <= room:
                    current += (GROUP_GAP if first_in_part else ENTRY_GAP) + block
                    used += gap + block_len
                else:
                    parts.append(current)
                    current = heading + HEADING_GAP + text
                    used = heading_len + size
                first_in_part = False
        footer_len = measure(footer)
        if footer and used + gap + footer_len <= room:
            current += GROUP_GAP + footer
        parts.append(current)
        return parts, left_out

    def empty(self) -> Digest:
        if not self.ctx.call_for_submissions:
            return Digest([])
        ctx = self.ctx
        call = self.t.render(
            "digest_call",
            community=ctx.community,
            date=self.t.date(self.day),
            hashtag=ctx.hashtag,
            tag=ctx.tag,
        )
        # Escaping changes no visible character, so splitting the plain text is exact.
        return Digest([self.mk.text(p) for p in split_thread(call, self.limits)])


def compose_digest(
    opportunities: Sequence[Opportunity],
    *,
    day: date,
    templates: Templates,
    limits: TextLimits,
    markup: Markup,
    context: DigestContext,
) -> Digest:
    """The digest published on ``day`` (the slot's local date): entries still open that day."""
    return _Composer(templates, limits, markup, context, day).compose(opportunities)
