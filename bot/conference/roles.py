"""The conference champion's scoped role, checked inside the queue's decision transaction so
every face (CLI, Telegram, web) gets it: a champion may approve or reject the candidates of
her own conference, only while its window is open; the decision is audited as hers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.conference.model import conference_of, conferences
from bot.errors import QueueError
from bot.store import models as m

CHAMPION = "champion:"  # how a champion's decisions are signed in the audit log
CHAMPION_ACTIONS = frozenset({"approve", "reject"})
REFUSED = "refused"  # the audit's action for a decision a champion tried outside her role


def refused(
    conn: Connection, community_id: int, candidate_id: int, signed: str, why: str, at: datetime
) -> None:
    """Keep a champion's refused attempt in the audit log (its decision rolled back)."""
    conn.execute(
        m.table(m.Decision)
        .insert()
        .values(
            community_id=community_id,
            candidate_id=candidate_id,
            curator=signed,
            action=REFUSED,
            reason=why,
            at=at,
        )
    )


def as_champion(name: str) -> str:
    return f"{CHAMPION}{name.lstrip('@')}"


def _handle_is(handle: str) -> Any:
    folded = handle.lstrip("@").casefold()
    return func.lower(m.Account.handle).in_([folded, f"@{folded}"])


def out_of_role(action: str) -> str:
    return f"a conference champion may approve or reject, not {action}"


def is_champion(conn: Connection, community_id: int, name: str) -> bool:
    """Whether ``name`` is the handle of a champion of any conference (in force or not)."""
    ch = m.ConferenceChampion
    found = conn.execute(
        select(ch.id)
        .join(m.Account, m.Account.id == ch.account_id)
        .where(ch.community_id == community_id, ch.removed_at.is_(None), _handle_is(name))
        .limit(1)
    ).first()
    return found is not None


def champion_scope(
    conn: Connection,
    community_id: int,
    signed: str,
    post: m.Post,
    action: str,
    now: datetime,
    curators: str,
) -> str:
    """The tag of the conference under which ``signed`` ("champion:handle") may take ``action``
    on ``post`` now; raises QueueError saying why not. ``curators``: the known curators' names,
    for the message when the name is neither a curator nor a champion."""
    handle = signed.removeprefix(CHAMPION).casefold()
    ch, a = m.ConferenceChampion, m.Account
    rows = conn.execute(
        select(ch.conference_id, ch.account_id)
        .join(a, a.id == ch.account_id)
        .where(
            ch.community_id == community_id,
            ch.removed_at.is_(None),
            _handle_is(handle),
        )
    ).all()
    if not rows:
        raise QueueError(f"no curator or conference champion named {handle!r} (curators: {curators})")
    if action not in CHAMPION_ACTIONS:
        raise QueueError(out_of_role(action))
    mine = {conf_id for conf_id, _ in rows}
    if post.account_id in {account_id for _, account_id in rows}:
        raise QueueError("this is your own post: a curator or another champion must decide it")
    every = conferences(conn, community_id)
    names = ", ".join(f"#{c.tag}" for c in every if c.id in mine) or "none in force"
    conference = conference_of([c for c in every if c.id in mine], post.hashtags, post.created_at)
    if conference is None:
        raise QueueError(f"not a conference post of yours ({names}): a champion decides only those")
    if not conference.is_open(now):
        raise QueueError(
            f"#{conference.tag} ended on {conference.ends_on} ({conference.timezone}): "
            "the champion role ended with it"
        )
    return conference.tag
