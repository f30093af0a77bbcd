"""Edited posts: a post seen again with a newer ``edited_at`` updates its stored text and its
candidate, instead of being dropped as a duplicate (or queued a second time).

What an edit does to the candidate, in the store's ingest transaction:
- the post's text, hashtags and content warning become the edited ones, and the candidate's
  version moves on, so the console redraws its card;
- an edit that adds an opt-out marker (``#nobot``…) withdraws a candidate still waiting or
  approved; one that removes the community hashtag withdraws it too, unless a member nominated
  it (a nomination never needed the tag);
- otherwise the curators' approvals so far are of a text that no longer exists: they are reset
  and an approved candidate waits for a new decision (no approve-then-edit bait and switch);
- a candidate already amplified, or being amplified right now, keeps its state; the card says
  it was edited since, so curators can undo it by hand if need be.
Every edit leaves an audit row by "system" (action ``edit`` or ``withdraw``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from bot.domain import CandidateState, Platform
from bot.store import models as m

WAITING = (CandidateState.PENDING.value, CandidateState.SNOOZED.value)
DECIDED = (CandidateState.APPROVED.value, CandidateState.FAILED.value)


def known(conn: Connection, community_id: int, platform: Platform, post_ids: Sequence[str]) -> dict[str, Any]:
    """The stored rows (id, edited_at) of those of ``post_ids`` we already have."""
    if not post_ids:
        return {}
    rows = conn.execute(
        select(m.Post.platform_post_id, m.Post.id, m.Post.edited_at).where(
            m.Post.community_id == community_id,
            m.Post.platform == platform.value,
            m.Post.platform_post_id.in_(list(post_ids)),
        )
    )
    return {str(r.platform_post_id): r for r in rows}


def apply(conn: Connection, community_id: int, item: Any, row: Any, now: datetime) -> int | None:
    """Apply one edit (``item``: a ``bot.store.store.Item`` whose post has ``edited_at``) to the stored
    post ``row``; the id of the candidate it changed, if any. A replayed or older edit is ignored."""
    post = item.post
    if row.edited_at is not None and post.edited_at <= _aware(row.edited_at, post.edited_at):
        return None
    conn.execute(
        update(m.Post)
        .where(m.Post.id == row.id)
        .values(
            text=post.text,
            hashtags=" ".join(sorted(post.hashtags)),
            content_warning=post.content_warning,
            edited_at=post.edited_at,
        )
    )
    c = m.Candidate
    candidate = conn.execute(
        select(c.id, c.state, c.reason, c.lease_until).where(c.post_id == row.id)
    ).one_or_none()
    if candidate is None:
        return None
    leased = candidate.lease_until is not None and _aware(candidate.lease_until, now) > now
    values: dict[str, Any] = {"version": c.version + 1, "updated_at": now}
    action, reason = "edit", "the author edited the post"
    if candidate.state in WAITING + DECIDED and not leased:
        withdraw = item.edit_optout or (
            "the author removed the community hashtag"
            if item.edit_untagged and candidate.reason != "nomination"
            else None
        )
        if withdraw:
            action, reason = "withdraw", withdraw
            values.update(state=CandidateState.WITHDRAWN.value, decided_at=now, next_attempt_at=None)
        else:
            values["approvals"] = 0
            if candidate.state in DECIDED:
                reason = "the author edited the post after approval: it needs a new decision"
                values.update(state=CandidateState.PENDING.value, decided_at=None, next_attempt_at=None)
    else:
        reason = "the author edited the post after it was amplified"
        if item.edit_optout:
            reason += f" ({item.edit_optout})"
    where = [c.id == candidate.id, c.state == candidate.state]
    if "approvals" in values or "state" in values:  # never under a worker amplifying it now
        where.append(or_(c.lease_until.is_(None), c.lease_until < now))
    done = conn.execute(update(c).where(*where).values(**values))
    if done.rowcount != 1:
        return None
    conn.execute(
        m.table(m.Decision)
        .insert()
        .values(
            community_id=community_id,
            candidate_id=candidate.id,
            curator="system",
            action=action,
            reason=reason,
            at=now,
        )
    )
    return int(candidate.id)


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite hands back naive datetimes; compare them in the zone of ``like``."""
    return value.replace(tzinfo=like.tzinfo) if value.tzinfo is None and like.tzinfo is not None else value
