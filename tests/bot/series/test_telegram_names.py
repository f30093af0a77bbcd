"""A Telegram member without a username is shown by name wherever the account publishes about
them; the number the platform knows them by stays the key to find them (blocks, consent)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import User

from adapters.telegram.normalize import to_author
from bot.config import Settings
from bot.domain import Author, Platform, Post, is_number_handle, shown_name
from bot.series.interviews import compose_interview
from bot.series.opportunities import draft_from_post

NO_USERNAME = User(id=5001, first_name="María", last_name="López", is_bot=False)
WITH_USERNAME = User(id=5002, first_name="Ana", is_bot=False, username="ana_md")


def test_the_number_stays_the_handle_and_the_name_is_what_people_see() -> None:
    author = to_author(NO_USERNAME)
    assert author.handle == "tg:5001"  # what blocks and consent find the account by
    assert is_number_handle(author.handle)
    assert author.shown == "María López"
    named = to_author(WITH_USERNAME)
    assert not is_number_handle(named.handle)
    assert named.shown == "@ana_md"


def test_other_handles_are_shown_as_they_are() -> None:
    assert shown_name("maria@med.example", "María") == "maria@med.example"
    assert shown_name("did:plc:abc123", "Rosa") == "did:plc:abc123"  # not only a number
    assert shown_name("tg:5001", "") == "tg:5001"  # no name to show instead: the number it is


def test_an_opportunity_shared_without_a_title_names_the_member() -> None:
    post = Post(
        platform=Platform.TELEGRAM,
        post_id="-100:7",
        url="https://t.me/c/100/7",
        author=to_author(NO_USERNAME),
        text="https://grants.example.org/beca #LatinasInMedicine",
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    draft = draft_from_post(post)
    assert draft.title == "Shared by María López"
    assert draft.submitted_by == "tg:5001"  # the record keeps the key


def test_an_interview_of_a_member_without_a_username_names_her_once(settings: Settings) -> None:
    author: Author = to_author(NO_USERNAME)
    text, _ = compose_interview(
        name=author.shown,
        handle=author.handle,
        answers={"role": "Pediatra"},
        questions=settings.series.interviews.questions,
        templates=settings.series.templates_for("es"),
        hashtag="#LatinasInMedicine",
        community="Latinas in Medicine",
    )
    assert "te presentamos a María López" in text
    assert "tg:" not in text
