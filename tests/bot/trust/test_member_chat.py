"""The consent registry hands a member's mini-interview messages to the chat the composition root
gave it (trust never imports the series): with it, an invited member is answered question by
question, even past a stranger's request budget; without it, the same message gets the help text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Author, MemberRequest, Platform
from bot.series.interview_chat import InterviewChat, InterviewChats
from bot.series.interviews import InterviewBook
from bot.store.store import Store
from bot.trust import member_chat
from bot.trust.consent import HELP_TEXT, ConsentRegistry
from tests.conftest import make_settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MARIA = Author("4242", "maria_md", "María")


def request(kind: str, argument: str | None, n: int) -> MemberRequest:
    return MemberRequest(kind, MARIA, Platform.TELEGRAM, argument, reply_ref=f"m{n}", private=True)


def test_the_registry_hands_an_invited_members_messages_to_the_interview_chat(store: Store) -> None:
    settings = make_settings(trust__requests_per_sender=2)
    book = InterviewBook.of(store, settings)
    _, payload = InterviewChat(book, Platform.TELEGRAM).invite(
        "María", handle="@maria_md", language="en", invited_by="ana", now=NOW
    )
    registry = ConsentRegistry(store, settings, chat=InterviewChats(book, language="en"))

    (opened,) = registry.record(Platform.TELEGRAM, [request(member_chat.INTERVIEW, payload, 1)], NOW)
    assert opened.outcome == "interview_opened"
    assert opened.reply is not None
    assert "1/" in opened.reply  # the first question follows the invitation
    # past the budget of 2 a stranger is not answered; a member mid-interview is
    for n in (2, 3):
        at = NOW + timedelta(seconds=n)
        (answered,) = registry.record(Platform.TELEGRAM, [request(member_chat.ANSWER, f"answer {n}", n)], at)
        assert answered.outcome == "answer"
        assert answered.reply is not None
        assert answered.reply.startswith(f"{n}/")  # the next question


def test_without_a_chat_an_interview_message_gets_the_help_text(store: Store) -> None:
    registry = ConsentRegistry(store, make_settings())
    assert registry.chat is None
    (handled,) = registry.record(Platform.TELEGRAM, [request(member_chat.INTERVIEW, "ivtoken", 1)], NOW)
    assert (handled.outcome, handled.reply) == ("help", HELP_TEXT)
