"""Mini-interviews: composing one short post and saying where it overflows, and the lifecycle
from invitation through the member's consent to the queue, in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import TextLimits
from bot.errors import SeriesError
from bot.series.interviews import (
    ANSWERED,
    AWAITING_CONSENT,
    INVITED,
    QUEUED,
    SCHEDULED,
    InterviewBook,
    check_fit,
    compose_interview,
    interview_limits,
)
from bot.store.store import Store
from bot.text import graphemes

LIMITS = {"mastodon": TextLimits(280, "chars", 23), "bluesky": TextLimits(280, "graphemes")}
ANSWERS = {
    "role": "Internal medicine resident in Chicago",
    "goals": "A cardiology fellowship",
    "outside": "Salsa dancing",
    "advice": "Find your people early",
}


@pytest.fixture
def book(store: Store, settings: Settings) -> InterviewBook:
    return InterviewBook(
        store,
        settings.series.interviews,
        settings.series.templates_for,
        hashtag="#LatinasInMedicine",
        community=settings.community.name,
    )


def compose(answers: dict[str, str], settings: Settings, lang: str = "en") -> tuple[str, list]:  # type: ignore[type-arg]
    return compose_interview(
        name="Dra. María Pérez",
        handle="@maria@med.example",
        answers=answers,
        questions=settings.series.interviews.questions,
        templates=settings.series.templates_for(lang),
        hashtag="#LatinasInMedicine",
        community="Latinas in Medicine",
    )


def test_the_post_is_one_short_text_in_the_members_language(settings: Settings) -> None:
    text, _ = compose(ANSWERS, settings)
    assert text == (
        "🎙️ Mini-interview: meet Dra. María Pérez @maria@med.example\n\n"
        "🩺 Internal medicine resident in Chicago\n"
        "🎯 A cardiology fellowship\n"
        "🌱 Salsa dancing\n"
        "💡 Find your people early\n\n"
        "#LatinasInMedicine"
    )
    assert check_fit(text, LIMITS) == []
    es, _ = compose(ANSWERS, settings, "es")
    assert es.startswith("🎙️ Mini-entrevista: te presentamos a Dra. María Pérez")


def test_an_overlong_interview_says_by_how_much_and_in_which_answer(settings: Settings) -> None:
    answers = {**ANSWERS, "outside": "Salsa dancing with my family every Sunday " * 5}
    text, sections = compose(answers, settings)
    (mastodon, bluesky) = check_fit(text, LIMITS, sections)
    assert mastodon.where == "mastodon"
    # Mastodon counts a remote mention by its local part: @maria@med.example is 6 characters
    assert mastodon.over_by == len(text) - len("@med.example") - 280
    assert mastodon.section == "the answer to “Something you love outside medicine?” (outside)"
    assert "too long" in mastodon.describe()
    assert mastodon.longest is not None
    assert mastodon.longest.startswith("the answer to “Something you love outside medicine?” (outside), ")
    assert str(mastodon.over_by) in mastodon.describe()
    # Bluesky counts graphemes: the emoji labels (two code points each) count once, the mention whole
    assert bluesky.over_by == len(graphemes(text)) - 280


def test_links_count_23_on_mastodon_and_graphemes_on_bluesky(settings: Settings) -> None:
    link = "https://example.org/" + "a" * 200
    text, _ = compose({**ANSWERS, "goals": f"Read my story {link}"}, settings)
    assert len(text) > 280
    overflows = check_fit(text, LIMITS)
    assert [o.where for o in overflows] == ["bluesky"]  # Mastodon counts the link as 23


def test_the_limit_is_the_series_length_capped_by_each_platform(settings: Settings) -> None:
    platform = {"mastodon": TextLimits(500, "chars", 23), "tiny": TextLimits(200, "chars")}
    limits = interview_limits(settings.series.interviews, platform)
    assert limits["mastodon"] == TextLimits(280, "chars", 23)
    assert limits["tiny"].max_length == 200


def test_invite_answer_approve_confirm_queue(book: InterviewBook, clock: FakeClock) -> None:
    interview = book.invite("María Pérez", language="es", invited_by="ana", now=clock.now(), handle="@maria")
    assert interview.state == INVITED
    assert "¿Cuál es tu rol y tu especialidad?" in book.message(interview.id, "interview_invite")
    assert book.next_question(interview.id).id == "role"  # type: ignore[union-attr]
    for qid, answer in list(ANSWERS.items())[:-1]:
        step = book.record_answer(interview.id, qid, answer, clock.now())
        assert step.interview.state == INVITED
    done = book.record_answer(interview.id, "advice", "Busca a tu gente", clock.now())
    assert done.next_question is None
    assert done.interview.state == ANSWERED
    assert "💡 Busca a tu gente" in (done.interview.text or "")
    with pytest.raises(SeriesError, match="answered: cannot confirm"):
        book.confirm(interview.id, clock.now(), via="telegram")  # nobody approved it yet
    message = book.approve(interview.id, by="rosa", now=clock.now(), limits=LIMITS)
    assert message.startswith("Esta es tu mini-entrevista, tal como se publicará:")
    assert done.interview.text in message
    assert book.get(interview.id).state == AWAITING_CONSENT
    with pytest.raises(SeriesError, match="changed since it was shown"):
        book.confirm(interview.id, clock.now(), via="telegram", text="an older text")
    queued = book.confirm(interview.id, clock.now(), via="telegram", text=done.interview.text)
    assert (queued.state, queued.confirmed_via) == (QUEUED, "telegram")
    assert [i.id for i in book.queue()] == [interview.id]


def test_a_curators_edit_needs_the_members_consent_again(book: InterviewBook, clock: FakeClock) -> None:
    interview = book.invite("Ana", language="en", invited_by="ana", now=clock.now())
    for qid, answer in ANSWERS.items():
        book.record_answer(interview.id, qid, answer, clock.now())
    book.approve(interview.id, by="rosa", now=clock.now(), limits=LIMITS)
    book.confirm(interview.id, clock.now(), via="cli")
    edited = book.edit(interview.id, "Meet Ana! #LatinasInMedicine", clock.now(), by="rosa")
    assert (edited.state, edited.consent_text, edited.edited) == (ANSWERED, None, True)
    assert book.queue() == []
    book.approve(interview.id, by="rosa", now=clock.now(), limits=LIMITS)
    assert book.confirm(interview.id, clock.now(), via="cli").state == QUEUED


def test_too_long_cannot_be_approved(book: InterviewBook, clock: FakeClock) -> None:
    interview = book.invite("Ana", language="en", invited_by="ana", now=clock.now())
    for qid, answer in ANSWERS.items():
        book.record_answer(interview.id, qid, answer * 6, clock.now())
    with pytest.raises(SeriesError) as err:
        book.approve(interview.id, by="rosa", now=clock.now(), limits=LIMITS)
    assert "too long; edit it first" in str(err.value)
    assert "The limit falls in the answer to “What are you working towards?” (goals)" in str(err.value)
    assert book.get(interview.id).state == ANSWERED


def test_the_queue_is_oldest_confirmed_first_and_a_slot_gets_one(
    book: InterviewBook, clock: FakeClock
) -> None:
    ids = []
    for name, lang in (("First", "en"), ("Segunda", "es"), ("Third", "en")):
        i = book.invite(name, language=lang, invited_by="ana", now=clock.now())
        for qid, answer in ANSWERS.items():
            book.record_answer(i.id, qid, answer, clock.now())
        book.approve(i.id, by="rosa", now=clock.now(), limits=LIMITS)
        ids.append(i.id)
    for i in reversed(ids):  # confirmed in reverse: the third is the oldest confirmation
        clock.advance(minutes=1)
        book.confirm(i, clock.now(), via="cli")
    slot = datetime(2026, 3, 5, 18, tzinfo=UTC)
    got = book.assign("interview", slot, ["es"])
    assert got is not None
    assert (got.name, got.state) == ("Segunda", SCHEDULED)
    assert book.assign("interview", slot, ["en"]) == got  # the slot keeps its interview
    nxt = book.assign("interview", slot + timedelta(days=7), [])
    assert nxt is not None
    assert nxt.name == "Third"


def test_import_answers_from_a_file(book: InterviewBook, clock: FakeClock, tmp_path: Path) -> None:
    invited = book.invite("Lucía", language="en", invited_by="ana", now=clock.now())
    path = tmp_path / "answers.yaml"
    path.write_text(
        f"""
- interview: {invited.id}
  answers:
    role: Family physician
    goals: Open a clinic
    outside: Gardening
    advice: Ask for help
- name: Dra. Sofía Ramírez
  handle: "@sofia@med.example"
  language: es
  answers:
    role: Cirujana
    goals: Enseñar
    outside: Correr
    advice: Descansa
""",
        encoding="utf-8",
    )
    first, second = book.import_answers(path, invited_by="ana", now=clock.now())
    assert (first.id, first.state) == (invited.id, ANSWERED)
    assert (second.name, second.language, second.state) == ("Dra. Sofía Ramírez", "es", ANSWERED)
    assert (second.text or "").startswith("🎙️ Mini-entrevista")
    path.write_text("name: X\nanswers:\n  favourite_colour: blue\n", encoding="utf-8")
    with pytest.raises(SeriesError, match="favourite_colour: not one of the questions"):
        book.import_answers(path, invited_by="ana", now=clock.now())


def test_withdrawal_is_possible_at_any_step(book: InterviewBook, clock: FakeClock) -> None:
    i = book.invite("Ana", language="en", invited_by="ana", now=clock.now())
    gone = book.withdraw(i.id, by="member", now=clock.now())
    assert gone.state == "withdrawn"
    with pytest.raises(SeriesError, match="withdrawn: cannot"):
        book.record_answer(i.id, "role", "x", clock.now())
    assert book.withdraw(i.id, by="member", now=clock.now()).state == "withdrawn"


def test_a_chat_front_end_finds_the_members_interview_and_asks_one_question_at_a_time(
    book: InterviewBook, clock: FakeClock
) -> None:
    invited = book.invite(
        "Bea", language="en", invited_by="ana", now=clock.now(), platform="telegram", member_ref="3002"
    )
    assert book.for_member("telegram", "3002") == invited
    assert book.for_member("telegram", "9999") is None
    asked = []
    while (question := book.next_question(invited.id)) is not None:
        asked.append(question.id)
        book.record_answer(invited.id, question.id, f"answer to {question.id}", clock.now())
    assert asked == ["role", "goals", "outside", "advice"]
    assert book.get(invited.id).state == ANSWERED
    book.withdraw(invited.id, by="member", now=clock.now())
    assert book.for_member("telegram", "3002") is None
