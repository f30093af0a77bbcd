"""A chat's recap: per question, the answers of members who consented (an opted-out member is
counted, never quoted nor named), and who took part on each platform, with the first-timers.
Exported as Markdown and as HTML (every member-written character escaped). Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.chats.model import ChatView
from bot.text import without_hidden
from bot.trust.standing import may_credit


@dataclass(frozen=True, slots=True)
class Answer:
    question: int
    platform: str
    handle: str
    name: str
    text: str
    url: str
    at: datetime
    consent: str | None
    first_time: bool = False  # the member had never posted with the community's tags before


@dataclass(frozen=True)
class QuestionRecap:
    number: int
    question: str
    quoted: tuple[Answer, ...]
    withheld: int  # answers of members who did not consent: counted only


@dataclass(frozen=True)
class Recap:
    chat: ChatView
    questions: tuple[QuestionRecap, ...]
    participants: dict[str, int] = field(default_factory=dict)  # platform -> distinct members
    first_timers: int = 0
    answers: int = 0


def build_recap(chat: ChatView, answers: Iterable[Answer], consent_mode: str = "opt-out") -> Recap:
    by_question: dict[int, list[Answer]] = {q.number: [] for q in chat.questions}
    people: dict[str, set[str]] = {}
    first: set[tuple[str, str]] = set()
    total = 0
    for a in answers:
        if a.question not in by_question:
            continue
        total += 1
        by_question[a.question].append(a)
        people.setdefault(a.platform, set()).add(a.handle)
        if a.first_time:
            first.add((a.platform, a.handle))
    lead = chat.languages[0]
    questions = []
    for q in chat.questions:
        given = sorted(by_question[q.number], key=lambda a: (a.at, a.url))
        quoted = tuple(a for a in given if may_credit(a.consent, consent_mode))
        questions.append(QuestionRecap(q.number, q.in_(lead), quoted, len(given) - len(quoted)))
    return Recap(
        chat=chat,
        questions=tuple(questions),
        participants={p: len(h) for p, h in sorted(people.items())},
        first_timers=len(first),
        answers=total,
    )


def _who(a: Answer) -> str:
    return a.name.strip() or a.handle


def _withheld(n: int) -> str:
    return f"{n} more answer{'s' if n != 1 else ''} from members who keep their posts to themselves."


def _taking_part(recap: Recap) -> str:
    where = ", ".join(f"{n} on {p.capitalize()}" for p, n in recap.participants.items()) or "nobody yet"
    return f"{recap.answers} answers; members taking part: {where}; {recap.first_timers} for the first time."


def to_markdown(recap: Recap) -> str:
    chat = recap.chat
    out = [
        f"# {_md(chat.topic)}",
        "",
        f"#{chat.tag} with {_md(chat.host)}, {chat.local_start:%Y-%m-%d %H:%M} ({chat.timezone})",
        "",
        _taking_part(recap),
    ]
    for q in recap.questions:
        out += ["", f"## Q{q.number}: {_md(q.question)}", ""]
        out += [f"- **{_md(_who(a))}**: {_md(' '.join(a.text.split()))}{_md_link(a.url)}" for a in q.quoted]
        if q.withheld:
            out.append(f"- _{_withheld(q.withheld)}_")
        if not q.quoted and not q.withheld:
            out.append("- _No answers._")
    return "\n".join(out) + "\n"


def to_html(recap: Recap) -> str:
    chat = recap.chat

    def e(text: str) -> str:
        return html.escape(without_hidden(text))

    out = [
        f'<article class="chat-recap"><h1>{e(chat.topic)}</h1>',
        f"<p>#{e(chat.tag)} with {e(chat.host)}, {chat.local_start:%Y-%m-%d %H:%M} ({e(chat.timezone)})</p>",
        f"<p>{e(_taking_part(recap))}</p>",
    ]
    for q in recap.questions:
        out.append(f"<section><h2>Q{q.number}: {e(q.question)}</h2><ul>")
        out += [
            f"<li><b>{e(_who(a))}</b>: {e(' '.join(a.text.split()))}{_html_link(a.url)}</li>"
            for a in q.quoted
        ]
        if q.withheld:
            out.append(f"<li><i>{e(_withheld(q.withheld))}</i></li>")
        if not q.quoted and not q.withheld:
            out.append("<li><i>No answers.</i></li>")
        out.append("</ul></section>")
    out.append("</article>")
    return "\n".join(out) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~])")


def _md(text: str) -> str:
    """Member text inert in Markdown: no emphasis, links, headings or raw HTML of theirs."""
    return _MD_SPECIAL.sub(r"\\\1", without_hidden(text))


def _md_link(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        return ""  # only web addresses become links
    return " ([post](" + url.replace("(", "%28").replace(")", "%29").replace(" ", "%20") + "))"


def _html_link(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        return ""
    return f' (<a href="{html.escape(url, quote=True)}" rel="nofollow">post</a>)'
