"""Messages of our own to members (a consent change confirmed, an interview step), queued on the
member requests' table, where the trust service delivers the answers owed to members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.store import models as m
from bot.store.engine import dialect_insert


def owe_member(
    conn: Connection,
    community_id: int,
    account_pk: int,
    *,
    ref: str,
    kind: str,
    outcome: str,
    text: str,
    now: datetime,
    platform: str | None = None,
    argument: str | None = None,
) -> None:
    """A message of our own to a member, queued where the trust service delivers the answers to
    members' requests (once: ``ref`` names it). ``platform``: the account's, read when not given."""
    if platform is None:
        platform = conn.execute(select(m.Account.platform).where(m.Account.id == account_pk)).scalar_one()
    conn.execute(
        dialect_insert(conn, m.table(m.MemberRequest))
        .values(
            community_id=community_id,
            platform=platform,
            request_ref=ref,
            kind=kind,
            argument=argument,
            account_id=account_pk,
            outcome=outcome,
            received_at=now,
            reply_text=text,
            reply_state="pending",
            reply_attempts=0,
            reply_next_at=now,
        )
        .on_conflict_do_nothing(index_elements=["community_id", "platform", "request_ref"])
    )
