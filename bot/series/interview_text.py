"""An interview as text (pure): the member's answers composed into a post, and whether it fits
every platform's limits. Part of bot.series.interviews, which names all of it too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import TextLimits, is_number_handle
from bot.series.interview_record import Interview
from bot.series.settings import InterviewSettings, Question
from bot.series.templates import Templates
from bot.text import length

if TYPE_CHECKING:
    pass

# -- composing (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """Where one part of the composed post lies in its text, to say where it overflows."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Overflow:
    """The post is ``over_by`` too long for ``where`` (a platform); the limit falls in ``section``."""

    where: str
    length: int
    limit: int
    over_by: int
    section: str | None
    excerpt: str  # the text from the point where the limit falls
    longest: str | None = None  # the longest answer, the likeliest to shorten

    def describe(self) -> str:
        place = f" The limit falls in {self.section}" if self.section else " The limit falls"
        longest = f" The longest is {self.longest}." if self.longest else ""
        return (
            f"{self.where}: {self.length} of {self.limit} — {self.over_by} too long.{place}, "
            f"at “{self.excerpt}”.{longest}"
        )


def compose_interview(
    *,
    name: str,
    handle: str,
    answers: Mapping[str, str],
    questions: Sequence[Question],
    templates: Templates,
    hashtag: str,
    community: str,
) -> tuple[str, list[Section]]:
    """The post, and where the introduction and each answer sit in it."""
    lang = templates.language
    lines = []
    for q in questions:
        answer = " ".join(answers.get(q.id, "").split())
        if answer:
            line = templates.render(
                "interview_answer", label=q.label_in(lang), answer=answer, question=q.asked(lang)
            )
            lines.append((q, line.strip()))
    text = templates.render(
        "interview_post",
        name=name,
        handle="" if is_number_handle(handle) else handle,  # the name already says who
        answers="\n".join(line for _, line in lines),
        hashtag=hashtag,
        community=community,
    )
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    sections: list[Section] = []
    cursor = 0
    for q, line in lines:
        at = text.find(line, cursor)
        if at < 0:
            continue
        if not sections and at > 0:
            sections.append(Section("the introduction", 0, at))
        sections.append(Section(f"the answer to “{q.asked(lang)}” ({q.id})", at, at + len(line)))
        cursor = at + len(line)
    if cursor < len(text):
        sections.append(Section("the closing line", cursor, len(text)))
    return text, sections


def check_fit(
    text: str, limits: Mapping[str, TextLimits], sections: Sequence[Section] = ()
) -> list[Overflow]:
    """Every platform ``text`` is too long for, by how much and where the limit falls."""
    out = []
    for where, lim in limits.items():
        size = length(text, lim)
        if size <= lim.max_length:
            continue
        lo, hi = 0, len(text)
        while lo < hi:  # the longest prefix that still fits
            mid = (lo + hi + 1) // 2
            if length(text[:mid], lim) <= lim.max_length:
                lo = mid
            else:
                hi = mid - 1
        section = next((s.name for s in sections if s.start <= lo < s.end), None)
        excerpt = " ".join(text[lo : lo + 40].split())
        answers = [s for s in sections if s.name.startswith("the answer")]
        longest = max(answers, key=lambda s: length(text[s.start : s.end], lim), default=None)
        longest_text = (
            f"{longest.name}, {length(text[longest.start : longest.end], lim)} long" if longest else None
        )
        out.append(
            Overflow(where, size, lim.max_length, size - lim.max_length, section, excerpt + "…", longest_text)
        )
    return out


def interview_limits(
    settings: InterviewSettings, platform_limits: Mapping[str, TextLimits]
) -> dict[str, TextLimits]:
    """Each platform's own limit, capped at the series' configured length."""
    return {
        name: TextLimits(min(settings.max_length, lim.max_length), lim.counting, lim.link_length)
        for name, lim in platform_limits.items()
    }


def member_message(
    t: Templates,
    template: str,
    interview: Interview,
    questions: Sequence[tuple[Question, str]],
    *,
    community: str,
) -> str:
    """A member-facing text in the member's language: ``interview_invite``,
    ``interview_consent_request``, ``interview_confirmed`` or ``interview_withdrawn``."""
    return t.render(
        template,
        name=interview.name,
        community=community,
        text=interview.consent_text or interview.text or "",
        questions="\n".join(f"{i}. {asked}" for i, (_, asked) in enumerate(questions, 1)),
        count=str(len(questions)),
    )
