"""Mini-interviews on Telegram, end to end: a curator invites from the console, the member opens
the link, answers one question at a time in the private chat, confirms the approved text and
withdraws. The real python-telegram-bot against the Bot API sandbox; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import Platform
from bot.series.interview_chat import LINK_HELP, InterviewChat
from bot.series.interviews import ANSWERED, INVITED, QUEUED, WITHDRAWN
from bot.store import models as m
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.telegram.conftest import ANA, BEA, CURATORS, MARIA, SAM, Harness

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

QUESTIONS = [
    ("role", "What is your role, and your specialty?", "Third-year surgery resident"),
    ("goals", "What are you working towards?", "A fellowship in trauma surgery"),
    ("outside", "Something you love outside medicine?", "Salsa dancing on Fridays"),
    ("advice", "Your advice for someone starting out?", "Find your people early, and ask for help."),
]


def reply_to(tg: TelegramSandbox, chat: int, message_id: int) -> StoredMessage | None:
    return next((x for x in tg.messages(chat, by_bot=True) if x.reply_to_message_id == message_id), None)


async def curator_says(tg: TelegramSandbox, user: int, text: str) -> str:
    asked = tg.user_sends(user, CURATORS, text)
    return str((await tg.wait_for_async(lambda: reply_to(tg, CURATORS, asked.message_id))).text)


async def member_says(h: Harness, user: int, text: str) -> str:
    """The member writes to the bot in private; once the watch has stored it (Telegram has no
    unconfirmed update left), the trust service delivers the answer the core chose."""
    tg = h.tg
    asked = tg.user_sends(user, user, text)
    await tg.wait_for_async(lambda: tg.pending_updates == 0 and tg.polls_waiting >= 1)
    await deliver(h)
    return str((await tg.wait_for_async(lambda: reply_to(tg, user, asked.message_id))).text)


async def deliver(h: Harness) -> None:
    """What the trust service's next round does: the bot keeps to one private message a
    second per chat, so the (injected) clock moves on first."""
    h.clock.advance(seconds=2)
    await h.app.trust.deliver_replies()


def interview_row(h: Harness, interview_id: int) -> Any:
    with h.engine.connect() as conn:
        return (
            conn.execute(select(m.table(m.Interview)).where(m.Interview.id == interview_id)).mappings().one()
        )


async def test_a_member_is_interviewed_in_private_confirms_and_withdraws(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    book = h.app.series.interviews

    # the curator invites, and gets a link to forward
    invited = await curator_says(tg, ANA, "/interview @maria_md María Pérez")
    found = re.search(r"Interview #(\d+) for María Pérez", invited)
    assert found is not None
    interview_id = int(found[1])
    link = re.search(r"https://t\.me/CoalesceBot\?start=(iv[A-Za-z0-9_-]{8,})", invited)
    assert link is not None
    payload = link[1]
    assert len(payload) <= 64
    row = interview_row(h, interview_id)
    assert (row["name"], row["handle"], row["invited_by"], row["state"]) == (
        "María Pérez",
        "@maria_md",
        "ana",
        INVITED,
    )
    assert row["member_ref"] != str(MARIA)  # nobody has opened the link yet
    assert "Usage: /interview @handle Name" in await curator_says(tg, ANA, "/interview @maria_md")
    assert await curator_says(tg, SAM, "/interview @sam Sam") == "Only the community's curators can do that."

    # a wrong link is refused; plain text from someone without an interview keeps today's answer
    assert "not valid" in await member_says(h, BEA, "/start ivNotAToken123")
    assert await member_says(h, BEA, "hello there") == LINK_HELP

    # the member opens the link: the invitation and the first question
    opened = await member_says(h, MARIA, f"/start {payload}")
    assert opened.startswith("Hi María Pérez! Would you like to be featured")
    assert opened.endswith(f"1/4 {QUESTIONS[0][1]}")
    assert interview_row(h, interview_id)["member_ref"] == str(MARIA)

    # each answer brings the next question, and only the next one
    for i, (_, _, answer) in enumerate(QUESTIONS):
        said = await member_says(h, MARIA, answer)
        if i + 1 < len(QUESTIONS):
            assert said == f"{i + 2}/4 {QUESTIONS[i + 1][1]}"
            assert interview_row(h, interview_id)["state"] == INVITED
        else:
            assert said.startswith("Thank you, María Pérez! That was the last question.")
    interview = book.get(interview_id)
    assert interview.state == ANSWERED
    assert dict(interview.answers) == {qid: answer for qid, _, answer in QUESTIONS}
    assert interview.text is not None
    assert "Find your people early, and ask for help." in interview.text

    # answers are not kept in the requests table, only in the interview
    with h.engine.connect() as conn:
        kept = list(conn.execute(select(m.MemberRequest.kind, m.MemberRequest.argument)))
    assert ("answer", None) in kept
    assert all(argument is None for kind, argument in kept if kind == "answer")

    # a curator approves (as `interviews approve` does): the member gets the exact text to confirm
    limits = h.app.series.interview_limits([Platform.TELEGRAM])
    consent_request = book.approve(interview_id, by="ana", now=h.clock.now(), limits=limits)
    assert InterviewChat(book, Platform.TELEGRAM).send_consent_request(
        interview_id, consent_request, h.clock.now()
    )
    await deliver(h)
    shown = await tg.wait_for_async(
        lambda: next((x for x in tg.messages(MARIA, by_bot=True) if x.text == consent_request), None)
    )
    assert interview.text in shown.text

    confirmed = await member_says(h, MARIA, "/confirm")
    assert confirmed == book.message(interview_id, "interview_confirmed")
    interview = book.get(interview_id)
    assert (interview.state, interview.confirmed_via) == (QUEUED, "telegram")
    assert [i.id for i in book.queue()] == [interview_id]
    assert "waiting for its slot" in await member_says(h, MARIA, "/confirm")  # nothing left to confirm

    withdrawn = await member_says(h, MARIA, "/withdraw")
    assert withdrawn == book.message(interview_id, "interview_withdrawn")
    assert book.get(interview_id).state == WITHDRAWN
    assert book.queue() == []


async def test_the_member_asks_for_changes_then_says_yes_to_the_new_text(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    book = h.app.series.interviews
    chat = InterviewChat(book, Platform.TELEGRAM)
    interview, payload = chat.invite(
        "Bea Ruiz", handle="@bea_ms", language="en", invited_by="rosa", now=h.clock.now()
    )
    await member_says(h, BEA, f"/start {payload}")
    for _, _, answer in QUESTIONS:
        await member_says(h, BEA, answer)
    limits = h.app.series.interview_limits([Platform.TELEGRAM])
    assert await member_says(h, BEA, "yes") == chat._say("preparing")  # nothing to confirm yet

    first = book.approve(interview.id, by="rosa", now=h.clock.now(), limits=limits)
    assert chat.send_consent_request(interview.id, first, h.clock.now())
    await deliver(h)
    await tg.wait_for_async(lambda: any(x.text == first for x in tg.messages(BEA, by_bot=True)))
    assert "changes" in await member_says(h, BEA, "Please say fourth-year, not third-year")
    back = book.get(interview.id)
    assert back.state == ANSWERED
    assert back.note == "the member asked: Please say fourth-year, not third-year"

    book.edit(interview.id, back.text.replace("Third-year", "Fourth-year"), h.clock.now(), by="rosa")  # type: ignore[union-attr]
    second = book.approve(interview.id, by="rosa", now=h.clock.now(), limits=limits)
    assert chat.send_consent_request(interview.id, second, h.clock.now())
    await deliver(h)
    await tg.wait_for_async(lambda: any(x.text == second for x in tg.messages(BEA, by_bot=True)))
    assert "Fourth-year surgery resident" in second
    assert await member_says(h, BEA, "Sí") == book.message(interview.id, "interview_confirmed")
    assert book.get(interview.id).state == QUEUED
