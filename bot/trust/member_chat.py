"""A conversation in a member's private chat that the consent registry records but does not own
(the mini-interview, in :mod:`bot.series.interview_chat`): the request kinds it is made of, and
the small contract the composition root hands the registry so trust never imports the series.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Connection

from bot.domain import Platform

INTERVIEW, ANSWER, CONFIRM, WITHDRAW = "interview", "answer", "confirm", "withdraw"
KINDS = (INTERVIEW, ANSWER, CONFIRM, WITHDRAW)  # what a member sends
CONSENT = "consent"  # what we send on our own: the approved text, to confirm


class MemberChat(Protocol):
    """The other side of a private conversation. The registry claims each message once (a
    replayed message is never handled twice), then hands it here and delivers the reply."""

    def in_conversation(self, conn: Connection, platform: Platform, member_ref: str) -> bool:
        """Whether the member is mid-conversation: a member a curator invited, answering her
        questions, is not held to a stranger's request budget."""
        ...

    def handle(
        self, platform: Platform, member_ref: str, kind: str, argument: str | None, now: datetime
    ) -> tuple[str, str | None]:
        """The outcome of the member's message and the reply owed (None: no reply)."""
        ...
