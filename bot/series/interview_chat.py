"""Mini-interviews in a private chat with the bot: the member opens the link a curator forwarded
them, answers the questions one at a time, sees the approved text and confirms it (or asks for
changes), and can withdraw at any time.

Platform-free and in the store. A chat front-end (the Telegram adapter) turns what the member
sends into ``MemberRequest`` kinds ``interview`` (the link's token), ``answer`` (any plain text:
whether it answers a question is decided here), ``confirm`` and ``withdraw``; the consent
registry records each once and hands it to :class:`InterviewChats` (given to the registry by the
composition root), whose reply the trust service delivers. The text to confirm goes out the same
way (:meth:`InterviewChat.send_consent_request`).

Until the member opens their link, an interview's ``member_ref`` is ``invite:<token>``; opening
it binds the interview to the account that opened it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.domain import Platform
from bot.errors import SeriesError
from bot.series.interviews import (
    ANSWERED,
    AWAITING_CONSENT,
    INVITED,
    PUBLISHED,
    QUEUED,
    SCHEDULED,
    Interview,
    InterviewBook,
)
from bot.series.settings import Question
from bot.store import models as m
from bot.store.member_messages import owe_member
from bot.trust.member_chat import ANSWER as ANSWER
from bot.trust.member_chat import CONFIRM as CONFIRM
from bot.trust.member_chat import CONSENT as CONSENT
from bot.trust.member_chat import INTERVIEW as INTERVIEW
from bot.trust.member_chat import KINDS as KINDS
from bot.trust.member_chat import WITHDRAW as WITHDRAW

log = logging.getLogger(__name__)

OPEN_STATES = (INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED)  # a member mid-interview
START = "iv"  # the start payload of an invitation link: iv<token>
UNOPENED = "invite:"  # member_ref of an interview whose link has not been opened yet
YES = frozenset({"yes", "y", "ok", "okay", "confirm", "confirmed", "sí", "si", "confirmo", "vale"})
LINK_HELP = (
    "Send me the link of a post you would like the curators to see, or /start. Send /optout if "
    "you would rather your posts were never shared (/optin undoes it)."
)

# What the chat says beyond the series templates, in the member's language (English otherwise).
_SAY: dict[str, dict[str, str]] = {
    "en": {
        "done": (
            "Thank you, {name}! That was the last question. The curators will prepare your text "
            "and send it here for you to confirm before anything is published."
        ),
        "preparing": "Thank you! The curators are preparing your text; it comes here for you to confirm.",
        "changes": "Thank you: the curators will look at your changes and send you the new text to confirm.",
        "queued": "Your mini-interview is confirmed and waiting for its slot. Send /withdraw to withdraw it.",
        "published": "Your mini-interview is published. Send /withdraw to withdraw it and delete its posts.",
        "not_shown": "The text to confirm is on its way: read it first, then reply yes.",
        "changed": "The text changed since you saw it: the curators will send you the new one.",
        "nothing": "You have no mini-interview waiting for your confirmation.",
        "no_interview": "You have no mini-interview with us to withdraw.",
        "bad_link": (
            "That invitation link is not valid (any more). Ask the curator who invited you for a new one."
        ),
    },
    "es": {
        "done": (
            "¡Gracias, {name}! Esa fue la última pregunta. Las curadoras prepararán tu texto y te "
            "lo enviarán aquí para que lo confirmes antes de publicar nada."
        ),
        "preparing": "¡Gracias! Las curadoras están preparando tu texto; te llegará aquí para confirmarlo.",
        "changes": "Gracias: las curadoras revisarán tus cambios y te enviarán el texto nuevo a confirmar.",
        "queued": "Tu mini-entrevista está confirmada y espera su fecha. Envía /withdraw para retirarla.",
        "published": "Tu mini-entrevista está publicada. Envía /withdraw para retirarla y borrarla.",
        "not_shown": "El texto para confirmar está en camino: léelo primero y luego responde sí.",
        "changed": "El texto cambió desde que lo viste: las curadoras te enviarán el nuevo.",
        "nothing": "No tienes ninguna mini-entrevista esperando tu confirmación.",
        "no_interview": "No tienes ninguna mini-entrevista con nosotras para retirar.",
        "bad_link": "Ese enlace de invitación no es válido. Pide uno nuevo a la curadora que te invitó.",
    },
}


def digest(text: str | None) -> str:
    """A short fingerprint of the text a member was shown (kept with the message that showed it)."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:32]


def is_yes(text: str) -> bool:
    said = unicodedata.normalize("NFKC", text).casefold().strip(" \t\n.!¡")
    return said in YES


class Reply(NamedTuple):
    outcome: str
    text: str | None


class InterviewChat:
    def __init__(self, book: InterviewBook, platform: Platform, *, language: str = "en") -> None:
        self.book = book
        self.platform = platform
        self.language = language  # for members without an interview (yet)

    def _say(self, key: str, language: str | None = None, **values: str) -> str:
        texts = _SAY.get(language or self.language, _SAY["en"])
        return texts[key].format(**values)

    # -- curators -------------------------------------------------------------------------------

    def invite(
        self, name: str, *, handle: str, language: str, invited_by: str, now: datetime
    ) -> tuple[Interview, str]:
        """A new interview and the start payload of its link (``iv`` and a token nobody guesses)."""
        token = secrets.token_urlsafe(9)  # 12 characters of A-Z a-z 0-9 _ -
        interview = self.book.invite(
            name,
            language=language,
            invited_by=invited_by,
            now=now,
            handle=handle,
            platform=self.platform.value,
            member_ref=UNOPENED + token,
        )
        return interview, START + token

    def send_consent_request(self, interview_id: int, text: str, now: datetime) -> bool:
        """Queue ``text`` (the approved text, asking for consent) to the member in their private
        chat; the trust service delivers it. False when the member cannot be reached there."""
        interview = self.book.get(interview_id)
        ref = interview.member_ref
        if interview.platform != self.platform.value or not ref or ref.startswith(UNOPENED):
            return False
        store = self.book.store
        with store.engine.begin() as conn:
            account = conn.execute(
                select(m.Account.id).where(
                    m.Account.community_id == store.community_id,
                    m.Account.platform == self.platform.value,
                    m.Account.platform_account_id == ref,
                )
            ).scalar_one_or_none()
            if account is None:  # never wrote to the bot: it cannot write to them
                return False
            owe_member(
                conn,
                store.community_id,
                account,
                ref=f"local:interview:{interview.id}:consent:{interview.version}",
                kind=CONSENT,
                outcome="consent_requested",
                text=text,
                now=now,
                platform=self.platform.value,
                argument=digest(interview.consent_text),
            )
        return True

    # -- the member ---------------------------------------------------------------------------------

    def handle(self, member_ref: str, kind: str, argument: str | None, now: datetime) -> Reply:
        """What the member's message does, and what we answer."""
        try:
            if kind == INTERVIEW:
                return self._open(member_ref, (argument or "").removeprefix(START), now)
            if kind == WITHDRAW:
                return self._withdraw(member_ref, now)
            interview = self.book.for_member(self.platform.value, member_ref)
            if kind == CONFIRM:
                if interview is None or interview.state != AWAITING_CONSENT:
                    return self._standing(interview) if interview else Reply("nothing", self._say("nothing"))
                return self._confirm(interview, now)
            if interview is None:
                return Reply("help", LINK_HELP)  # not an interview: what a private message always got
            return self._answer(interview, argument or "", now)
        except SeriesError as exc:  # a curator changed it at the same moment
            log.info("interview chat refused", extra={"kind": kind, "error": str(exc)})
            return Reply("refused", self._say("changed"))

    def _prompt(self, interview: Interview, question: Question) -> str:
        ids = [q.id for q in self.book.settings.questions]
        return f"{ids.index(question.id) + 1}/{len(ids)} {question.asked(interview.language)}"

    def _open(self, member_ref: str, token: str, now: datetime) -> Reply:
        found = [
            i
            for i in self.book.in_states((INVITED, ANSWERED, AWAITING_CONSENT))
            if token and i.platform == self.platform.value and i.member_ref == UNOPENED + token
        ]
        if not found:
            mine = self.book.for_member(self.platform.value, member_ref)
            if mine is not None and mine.state == INVITED:  # the link tapped again: where we were
                question = self.book.next_question(mine.id)
                if question is not None:
                    return Reply("interview_resumed", self._prompt(mine, question))
            return Reply("bad_invite", self._say("bad_link"))
        interview = self.book.bind(
            found[0].id, platform=self.platform.value, member_ref=member_ref, was=UNOPENED + token
        )
        invite = self.book.message(interview.id, "interview_invite")
        question = self.book.next_question(interview.id)
        if question is None:
            return Reply("interview_opened", invite)
        return Reply("interview_opened", f"{invite}\n\n{self._prompt(interview, question)}")

    def _answer(self, interview: Interview, text: str, now: datetime) -> Reply:
        lang = interview.language
        if interview.state == INVITED:
            question = self.book.next_question(interview.id)
            if question is None:
                return Reply("answered", self._say("preparing", lang))
            answered = self.book.record_answer(interview.id, question.id, text, now)
            if answered.next_question is None:
                return Reply("answered", self._say("done", lang, name=interview.name))
            return Reply("answer", self._prompt(answered.interview, answered.next_question))
        if interview.state == AWAITING_CONSENT:
            if is_yes(text):
                return self._confirm(interview, now)
            self.book.decline(interview.id, f"the member asked: {text.strip()}", now)
            return Reply("changes_asked", self._say("changes", lang))
        return self._standing(interview)

    def _standing(self, interview: Interview) -> Reply:
        lang = interview.language
        if interview.state in (QUEUED, SCHEDULED):
            return Reply("queued", self._say("queued", lang))
        if interview.state == PUBLISHED:
            return Reply("published", self._say("published", lang))
        return Reply("preparing", self._say("preparing", lang))

    def _confirm(self, interview: Interview, now: datetime) -> Reply:
        shown = self._last_shown(interview.id)
        lang = interview.language
        if shown is None or shown[0] != "sent":
            return Reply("consent_not_shown", self._say("not_shown", lang))
        if shown[1] != digest(interview.consent_text):
            return Reply("consent_stale", self._say("changed", lang))
        self.book.confirm(interview.id, now, via=self.platform.value, text=interview.consent_text)
        return Reply("confirmed", self.book.message(interview.id, "interview_confirmed"))

    def _last_shown(self, interview_id: int) -> tuple[str, str | None] | None:
        """How the latest text to confirm fared (its delivery, its fingerprint)."""
        r = m.MemberRequest
        store = self.book.store
        with store.engine.connect() as conn:
            row = conn.execute(
                select(r.reply_state, r.argument)
                .where(
                    r.community_id == store.community_id,
                    r.platform == self.platform.value,
                    r.kind == CONSENT,
                    r.request_ref.like(f"local:interview:{interview_id}:consent:%"),
                )
                .order_by(r.id.desc())
                .limit(1)
            ).one_or_none()
        return (str(row.reply_state), row.argument) if row is not None else None

    def _withdraw(self, member_ref: str, now: datetime) -> Reply:
        mine = [
            i
            for i in self.book.in_states((INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED, PUBLISHED))
            if i.platform == self.platform.value and i.member_ref == member_ref
        ]
        if not mine:
            return Reply("nothing", self._say("no_interview"))
        interview = max(mine, key=lambda i: i.id)
        self.book.withdraw(interview.id, by="member", now=now)
        return Reply("withdrawn", self.book.message(interview.id, "interview_withdrawn"))


class InterviewChats:
    """The mini-interview chats on every platform, as the consent registry hands them on (its
    :class:`bot.trust.member_chat.MemberChat`)."""

    def __init__(self, book: InterviewBook, *, language: str = "en") -> None:
        self.book = book
        self.language = language

    def in_conversation(self, conn: Connection, platform: Platform, member_ref: str) -> bool:
        iv = m.Interview
        found = conn.execute(
            select(iv.id)
            .where(
                iv.community_id == self.book.store.community_id,
                iv.platform == platform.value,
                iv.member_ref == member_ref,
                iv.state.in_(OPEN_STATES),
            )
            .limit(1)
        ).scalar_one_or_none()
        return found is not None

    def handle(
        self, platform: Platform, member_ref: str, kind: str, argument: str | None, now: datetime
    ) -> tuple[str, str | None]:
        chat = InterviewChat(self.book, platform, language=self.language)
        return chat.handle(member_ref, kind, argument, now)
