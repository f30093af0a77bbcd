"""Conference mode's and the chats' figures: composing one day's highlights from 200 approved
posts for Mastodon, Bluesky and Telegram (each platform's limits and markup from its adapter
class), and a chat's recap (1,000 answers over 10 questions on three platforms) with its
Markdown and HTML transcripts."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from adapters.registry import limits_for, markup_for
from bench.registry import group
from bot.chats.model import ChatView, Question
from bot.chats.recap import Answer, build_recap, to_html, to_markdown
from bot.conference.highlights import Highlight, compose_highlights
from bot.domain import Platform
from bot.series.markup import Markup

ROUNDS = 30
WORDS = ["plenary", "poster", "mentorship", "cirugía", "residentes", "equity", "🎤", "Núñez", "panel", "talk"]


def highlights(n: int, seed: int = 14) -> list[Highlight]:
    rng = random.Random(seed)
    start = datetime(2027, 10, 14, 14, 0, tzinfo=UTC)
    return [
        Highlight(
            handle=f"member{i}@med.example",
            name=rng.choice(["Dra. María Núñez", "Elena", "", "Dr. José Peña"]),
            url=f"https://med.example/@member{i}/{110_000_000 + i}",
            text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))) + " #ACSCC27",
            consent=rng.choice([None, None, None, "in", "out"]),
            approved_at=start + timedelta(minutes=i),
        )
        for i in range(n)
    ]


@group("conference", [("highlights_compose_ms", "ms", "<= 50")])
def measure() -> dict[str, float]:
    items = highlights(200)
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for platform in Platform:
            parts = compose_highlights(
                conference="ACS Clinical Congress",
                tag="ACSCC27",
                day=date(2027, 10, 14),
                day_number=1,
                items=items,
                limits=limits_for(platform),
                markup=Markup(markup_for(platform)),
            )
            assert parts
        times.append((time.perf_counter() - began) * 1000)
    return {"highlights_compose_ms": statistics.median(times)}


def chat_answers(n: int, questions: int, seed: int = 15) -> tuple[ChatView, list[Answer]]:
    rng = random.Random(seed)
    start = datetime(2027, 3, 5, 0, 0, tzinfo=UTC)
    chat = ChatView(
        id=1,
        topic="Mentorship in residency",
        host="Dra. Ruiz",
        tag="limchat",
        starts_at=start,
        timezone="America/New_York",
        languages=("en", "es"),
        questions=tuple(
            Question(i + 1, 10 * i, {"en": f"Question {i + 1} about mentors?", "es": f"¿Pregunta {i + 1}?"})
            for i in range(questions)
        ),
    )
    platforms = [p.value for p in Platform]
    answers = [
        Answer(
            question=rng.randint(1, questions),
            platform=rng.choice(platforms),
            handle=f"member{rng.randint(0, 400)}@med.example",
            name=rng.choice(["Dra. María Núñez", "Elena <b>", "", "Dr. José Peña & co"]),
            text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 50))) + " A1 #limchat",
            url=f"https://med.example/@m/{120_000_000 + i}",
            at=start + timedelta(seconds=3 * i),
            consent=rng.choice([None, None, "in", "out"]),
            first_time=rng.random() < 0.1,
        )
        for i in range(n)
    ]
    return chat, answers


@group("chats", [("recap_compose_ms", "ms", "<= 100")])
def measure_recap() -> dict[str, float]:
    chat, answers = chat_answers(1000, 10)
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        recap = build_recap(chat, answers)
        md, page = to_markdown(recap), to_html(recap)
        times.append((time.perf_counter() - began) * 1000)
        assert recap.answers == 1000
        assert md
        assert page
    return {"recap_compose_ms": statistics.median(times)}
