"""A scheduled chat as the rest of the bot sees it, and the pure rules of its schedule: what it
posts when (a day and an hour before, then each question at its minute offset)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ANNOUNCE_DAY = "announce-day"
ANNOUNCE_HOUR = "announce-hour"
LEADS = {ANNOUNCE_DAY: timedelta(days=1), ANNOUNCE_HOUR: timedelta(hours=1)}
RECAP = "recap"
# Answers still count this long after the last question; then the recap thread goes out.
ANSWERS_AFTER = timedelta(minutes=60)
MAX_QUESTIONS = 20
# "10: What brought you here?" or "10:es: ¿Qué te trajo aquí?" (a translation of that question)
_QUESTION = re.compile(r"^\s*(\d{1,3})\s*(?::\s*([a-z]{2,3}))?\s*:\s*(\S.*)$", re.DOTALL)


class BadChat(ValueError):
    """What a curator gave for a chat is not usable: the message says which part and why."""


@dataclass(frozen=True)
class Question:
    number: int  # 1-based: Q1, Q2 …
    offset: int  # minutes after the start
    text: dict[str, str]  # language -> the question

    def in_(self, language: str) -> str:
        return self.text.get(language) or next(iter(self.text.values()))

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "offset": self.offset, "text": dict(self.text)}


@dataclass(frozen=True)
class ChatView:
    id: int
    topic: str
    host: str
    tag: str
    starts_at: datetime
    timezone: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(self.timezone))

    def slot_times(self) -> dict[str, datetime]:
        """Every slot's key and UTC time: the two announcements, q1, q2 …, then the recap. Offsets
        are real minutes after the start, so a clock change during the chat moves no question."""
        out = {key: self.starts_at - lead for key, lead in LEADS.items()}
        out.update({f"q{q.number}": self.starts_at + timedelta(minutes=q.offset) for q in self.questions})
        out[RECAP] = self.last_question + ANSWERS_AFTER
        return out

    @property
    def last_question(self) -> datetime:
        return self.starts_at + timedelta(minutes=max(q.offset for q in self.questions))

    def question(self, key: str) -> Question | None:
        if not key.startswith("q") or not key[1:].isdigit():
            return None
        n = int(key[1:])
        return next((q for q in self.questions if q.number == n), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic": self.topic,
            "host": self.host,
            "tag": self.tag,
            "starts_at": self.starts_at.isoformat(),
            "local_start": self.local_start.isoformat(),
            "timezone": self.timezone,
            "languages": list(self.languages),
            "questions": [q.as_json() for q in self.questions],
        }


def parse_questions(given: list[str], languages: tuple[str, ...]) -> tuple[Question, ...]:
    """Questions from "MINUTES: text" lines (a translation: "MINUTES:LANG: text"), numbered by
    offset. Each needs its text in the chat's first language; others fall back to it."""
    if not given:
        raise BadChat('a chat needs at least one question, like "0: What brought you here?"')
    by_offset: dict[int, dict[str, str]] = {}
    for line in given:
        found = _QUESTION.match(line)
        if found is None:
            raise BadChat(f'{line!r} is not a question: write "MINUTES: text" or "MINUTES:es: text"')
        offset, language, text = int(found[1]), found[2] or languages[0], found[3].strip()
        if offset > 180:
            raise BadChat(f"question at minute {offset}: a chat's questions come within three hours")
        if language not in languages:
            raise BadChat(f"question at minute {offset} is in {language!r}, not one of the chat's languages")
        texts = by_offset.setdefault(offset, {})
        if language in texts:
            raise BadChat(f"two questions at minute {offset} in {language!r}")
        texts[language] = text
    if len(by_offset) > MAX_QUESTIONS:
        raise BadChat(f"at most {MAX_QUESTIONS} questions")
    out = []
    for number, offset in enumerate(sorted(by_offset), 1):
        texts = by_offset[offset]
        if languages[0] not in texts:
            raise BadChat(f"question at minute {offset} needs its text in {languages[0]!r}")
        out.append(Question(number, offset, {lang: texts[lang] for lang in languages if lang in texts}))
    return tuple(out)


def view_of(row: Any) -> ChatView:
    return ChatView(
        id=row.id,
        topic=row.topic,
        host=row.host,
        tag=row.tag,
        starts_at=row.starts_at,
        timezone=row.timezone,
        languages=tuple(row.languages.split()),
        questions=tuple(
            Question(int(q["number"]), int(q["offset"]), dict(q["text"])) for q in json.loads(row.questions)
        ),
    )
