"""Withdrawing a member's interviews not yet published: at once when she opts out (inside the
opt-out's transaction, called by the consent registry) and in the veto's sweep for anyone who
opted out or was blocked. Each withdrawn interview queues her a private note.

It reads no consent itself (its caller says whose interviews go), so the consent registry and
the veto both use it and neither imports the other for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.store import models as m
from bot.store.member_messages import owe_member

log = logging.getLogger(__name__)

# The note that tells a member her opt-out withdrew her interview: part of the consent answer.
OPTOUT_NOTE = "optout_note"


def interview_account(
    conn: Connection, cid: int, platform: str | None, member_ref: str | None, handle: str
) -> int | None:
    """The account an interview belongs to: the one that opened its link, else (an interview
    imported by a curator) the account with its handle on its platform; None if unknown."""
    a = m.Account
    # an interview a curator entered without a platform is matched by its handle anywhere
    mine = (a.community_id == cid, a.platform == platform if platform else a.id.is_not(None))
    if member_ref and not member_ref.startswith("invite:"):
        found = conn.execute(select(a.id).where(*mine, a.platform_account_id == member_ref)).scalar()
        if found is not None:
            return int(found)
    wanted = handle.strip().lstrip("@").casefold()
    if not wanted:
        return None
    found = conn.execute(
        select(a.id).where(*mine, func.lower(func.ltrim(a.handle, "@")) == wanted).order_by(a.id).limit(1)
    ).scalar()
    return int(found) if found is not None else None


_OPEN_INTERVIEW = ("invited", "answered", "awaiting_consent", "queued", "scheduled")


def withdraw_interviews(
    conn: Connection, cid: int, community: str, covers: Callable[[Connection, int], bool], now: datetime
) -> int:
    """Inside ``conn``'s transaction: withdraw the open interviews of the accounts ``covers``
    names (``covers(conn, account_pk)``), mark what of them was published for deletion, and
    queue a private note to each member (in the name of ``community``). Returns how many were
    withdrawn."""
    i, a = m.Interview, m.Account
    rows = conn.execute(
        select(i.id, i.platform, i.member_ref, i.handle, i.series, i.slot, i.version, i.language).where(
            i.community_id == cid, i.state.in_(_OPEN_INTERVIEW)
        )
    ).all()
    withdrawn = 0
    for row in rows:
        pk = interview_account(conn, cid, row.platform, row.member_ref, row.handle)
        if pk is None or not covers(conn, pk):
            continue
        done = conn.execute(
            update(i)
            .where(i.id == row.id, i.version == row.version, i.state.in_(_OPEN_INTERVIEW))
            .values(
                state="withdrawn",
                withdrawn_at=now,
                withdrawn_by="system: the member opted out",
                version=row.version + 1,
            )
        ).rowcount
        if not done:
            continue
        withdrawn += 1
        if row.series is not None and row.slot is not None:
            conn.execute(
                update(m.Publication)
                .where(
                    m.Publication.community_id == cid,
                    m.Publication.series == row.series,
                    m.Publication.slot == row.slot,
                    m.Publication.state.in_(("intent", "done", "failed")),
                )
                .values(state="withdrawing", lease_owner=None, lease_until=None)
            )
        blocked = conn.execute(select(a.blocked).where(a.id == pk)).scalar()
        if not blocked:
            _queue_note(conn, cid, community, int(row.id), str(row.language or "en"), pk, now)
        log.info("interview withdrawn: the member opted out", extra={"interview": row.id})
    return withdrawn


_NOTE = {
    "en": (
        "You opted out, so your mini-interview with {community} was withdrawn and will not be "
        "published. If you would still like it published, write to the curators."
    ),
    "es": (
        "Pediste no ser compartida, así que tu mini-entrevista con {community} fue retirada y no "
        "se publicará. Si aun así quieres que se publique, escribe a las curadoras."
    ),
}


def _queue_note(
    conn: Connection,
    cid: int,
    community: str,
    interview_id: int,
    language: str,
    account_pk: int,
    now: datetime,
) -> None:
    text = _NOTE.get(language, _NOTE["en"]).format(community=community)
    owe_member(
        conn,
        cid,
        account_pk,
        ref=f"local:interview:{interview_id}:optout",
        kind=OPTOUT_NOTE,
        outcome="interview_withdrawn",
        text=text,
        now=now,
    )
