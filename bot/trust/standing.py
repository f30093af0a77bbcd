"""The words of consent and the one retry its transactions need, shared by the consent
registry's parts (bot.trust.consent, consent_linking, consent_enforcement), and whether a member may
be named in the account's own words (conference highlights, chat recaps, reports)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from bot.domain import CandidateState

log = logging.getLogger("bot.trust.consent")

T = TypeVar("T")

OUT, IN = "out", "in"
WITHDRAWABLE = (CandidateState.PENDING.value, CandidateState.SNOOZED.value, CandidateState.APPROVED.value)

_RETRYABLE = {"40P01", "40001"}  # PostgreSQL: deadlock detected, serialization failure
ATTEMPTS = 5


def retrying(work: Callable[[], T]) -> T:
    """Run one transaction's ``work``, again when PostgreSQL aborted it to break a deadlock (two
    members' requests, or a request and the sweep, touching a linked person's accounts at once):
    the transaction was rolled back whole, so doing it again is safe."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return work()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE or attempt == ATTEMPTS:
                raise
            log.info("consent transaction retried after a deadlock", extra={"attempt": attempt})
    raise AssertionError("unreachable")  # pragma: no cover


def named(handle: str, platform: str) -> str:
    """An account named in a private answer without a leading '@': on Mastodon a direct message
    that mentions someone reaches them too."""
    return f"{handle.lstrip('@')} ({platform.capitalize()})"


def may_credit(consent: str | None, mode: str) -> bool:
    """Whether a member's post may be named in the account's own words."""
    if consent == "out":
        return False
    return consent == "in" if mode == "opt-in" else True
