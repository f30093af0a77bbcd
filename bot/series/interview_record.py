"""An interview's record: its states, the row as read, and what recording an answer gives back.
Part of bot.series.interviews, which names all of it too."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import RowMapping

from bot.series.settings import Question

if TYPE_CHECKING:
    pass

INVITED = "invited"
ANSWERED = "answered"
AWAITING_CONSENT = "awaiting_consent"
QUEUED = "queued"
SCHEDULED = "scheduled"
PUBLISHED = "published"
WITHDRAWN = "withdrawn"
STATES = (INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED, PUBLISHED, WITHDRAWN)


# -- the lifecycle in the store ------------------------------------------------------------------


@dataclass(frozen=True)
class Interview:
    id: int
    name: str
    handle: str
    platform: str | None
    member_ref: str | None
    language: str
    state: str
    answers: Mapping[str, str]
    text: str | None
    edited: bool
    consent_text: str | None
    invited_by: str
    invited_at: datetime
    approved_by: str | None
    confirmed_at: datetime | None
    confirmed_via: str | None
    series: str | None
    slot: datetime | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    note: str | None
    version: int

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["answers"] = dict(self.answers)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


def _view(row: RowMapping) -> Interview:
    return Interview(
        id=row["id"],
        name=row["name"],
        handle=row["handle"],
        platform=row["platform"],
        member_ref=row["member_ref"],
        language=row["language"],
        state=row["state"],
        answers=json.loads(row["answers"] or "{}"),
        text=row["text"],
        edited=row["edited"],
        consent_text=row["consent_text"],
        invited_by=row["invited_by"],
        invited_at=row["invited_at"],
        approved_by=row["approved_by"],
        confirmed_at=row["confirmed_at"],
        confirmed_via=row["confirmed_via"],
        series=row["series"],
        slot=row["slot"],
        published_at=row["published_at"],
        withdrawn_at=row["withdrawn_at"],
        note=row["note"],
        version=row["version"],
    )


@dataclass(frozen=True)
class Answered:
    interview: Interview
    next_question: Question | None  # None: every required question is answered
