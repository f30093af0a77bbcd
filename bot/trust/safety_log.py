"""One line in the audit of the curators' safety steps (``safety_events``), written in the same
transaction as the step itself, so the log and the state it explains never disagree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from bot.store import models as m


def note(
    conn: Connection,
    community_id: int,
    kind: str,
    action: str,
    by: str,
    now: datetime,
    *,
    account_id: int | None = None,
    subject: str = "",
    detail: str | None = None,
) -> None:
    conn.execute(
        m.table(m.SafetyEvent)
        .insert()
        .values(
            community_id=community_id,
            kind=kind,
            action=action,
            by=by,
            account_id=account_id,
            subject=subject,
            detail=detail,
            at=now,
        )
    )
