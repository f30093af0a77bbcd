"""What a chat posts, in its languages: the announcements (a day and an hour before) and each
question, with how to answer it (``A1`` in English, ``R1`` in Spanish). Pure."""

from __future__ import annotations

from datetime import datetime

from bot.chats.model import ANNOUNCE_DAY, ANNOUNCE_HOUR, ChatView
from bot.chats.recap import Recap
from bot.domain import TextLimits
from bot.series.markup import Markup
from bot.text import split_thread

# Per language: the announcements, the question, and the answer marker members write.
TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        ANNOUNCE_DAY: "Tomorrow at {time} ({zone}): our community chat on “{topic}”, hosted by {host}. "
        "Follow #{tag}; answer each question with A1, A2 … and #{tag}.",
        ANNOUNCE_HOUR: "In one hour, at {time} ({zone}): our chat on “{topic}” with {host}. "
        "Join us on #{tag}: questions come every few minutes.",
        "question": "Q{n}: {question} Answer with A{n} and #{tag}, or reply here.",
        "marker": "A",
        "recap": "Thank you for our chat on “{topic}” with {host} (#{tag})! {answers} answers from "
        "{people} members ({where}); {first} for the first time. What you said:",
        "withheld": "+ {n} more from members who keep their posts to themselves.",
    },
    "es": {
        ANNOUNCE_DAY: "Mañana a las {time} ({zone}): chat de la comunidad sobre “{topic}”, con {host}. "
        "Sigue #{tag}; responde a cada pregunta con R1, R2 … y #{tag}.",
        ANNOUNCE_HOUR: "En una hora, a las {time} ({zone}): chat sobre “{topic}” con {host}. "
        "Únete en #{tag}: las preguntas llegan cada pocos minutos.",
        "question": "P{n}: {question} Responde con R{n} y #{tag}, o contesta aquí.",
        "marker": "R",
        "recap": "¡Gracias por el chat sobre “{topic}” con {host} (#{tag})! {answers} respuestas de "
        "{people} participantes ({where}); {first} por primera vez. Lo que dijeron:",
        "withheld": "+ {n} más de participantes que prefieren no ser citadas.",
    },
}
MARKERS = {lang: t["marker"] for lang, t in TEMPLATES.items()}
QUOTE_CHARS = 200  # an answer longer than this is cut (its link is in the transcript)


def _local(at: datetime, chat: ChatView) -> str:
    local = at.astimezone(chat.local_start.tzinfo)
    return f"{local:%H:%M}"


def compose_slot(chat: ChatView, key: str, limits: TextLimits, markup: Markup | None = None) -> list[str]:
    """The parts of one slot's post on one platform: every language of the chat, the chat's
    first language first, as one post or a numbered thread."""
    mk = markup or Markup()
    question = chat.question(key)
    paragraphs = []
    for lang in chat.languages:
        words = TEMPLATES[lang]
        if question is not None:
            text = words["question"].format(n=question.number, question=question.in_(lang), tag=chat.tag)
        elif key in (ANNOUNCE_DAY, ANNOUNCE_HOUR):
            text = words[key].format(
                time=_local(chat.starts_at, chat),
                zone=chat.timezone,
                topic=chat.topic,
                host=chat.host,
                tag=chat.tag,
            )
        else:
            raise ValueError(f"chat #{chat.id} has no slot {key!r}")
        paragraphs.append(mk.text(text))
    body = "\n\n".join(paragraphs)
    if mk.is_html:  # the thread splitter counts characters as readers see them: keep it plain there
        return [body] if mk.measure(limits)(body) <= limits.max_length else split_thread(body, limits)
    return split_thread(body, limits)


def compose_recap(recap: Recap, limits: TextLimits, markup: Markup | None = None) -> list[str]:
    """The recap as one post or a numbered thread, in the chat's first language: who took part
    and, per question, the answers of members who consented (the others only counted).
    Nothing when nobody answered."""
    if not recap.answers:
        return []
    mk = markup or Markup()
    chat, words = recap.chat, TEMPLATES[recap.chat.languages[0]]
    where = ", ".join(f"{n} on {p.capitalize()}" for p, n in recap.participants.items())
    head = words["recap"].format(
        topic=chat.topic,
        host=chat.host,
        tag=chat.tag,
        answers=recap.answers,
        people=sum(recap.participants.values()),
        where=where,
        first=recap.first_timers,
    )
    paragraphs = [mk.text(head)]
    letter = words["question"][0]
    for q in recap.questions:
        lines = [f"{letter}{q.number}: {q.question}"]
        for a in q.quoted:
            said = " ".join(a.text.split())
            said = said if len(said) <= QUOTE_CHARS else said[: QUOTE_CHARS - 1].rstrip() + "…"
            lines.append(f"• {a.name.strip() or a.handle}: “{said}”")
        if q.withheld:
            lines.append(words["withheld"].format(n=q.withheld))
        paragraphs.append(mk.text("\n".join(lines)))
    return split_thread("\n\n".join(paragraphs), limits)
