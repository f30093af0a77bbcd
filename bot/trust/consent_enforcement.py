"""What opting out (or a deleted post, a freeze, a block) leads to in the database: waiting
candidates withdrawn, earlier amplifications queued to be taken back, and the sweep that enforces
standing consent. A part of the consent registry (bot.trust.consent.ConsentRegistry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.domain import CandidateState
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust.standing import OUT, WITHDRAWABLE, log
from bot.trust.standing import retrying as _retrying


class ConsentEnforcement:
    if TYPE_CHECKING:  # what the registry (bot.trust.consent) gives the methods here
        store: Store
        settings: Settings

        @property
        def cid(self) -> int: ...
        def person_accounts(self, conn: Connection, account_pk: int) -> list[int]: ...
        def _restate(self, conn: Connection, pks: Sequence[int]) -> int: ...
        def _adopt(self, conn: Connection, which: ColumnElement[bool], now: datetime) -> int: ...

        @staticmethod
        def _standing_rows(which: ColumnElement[bool]) -> Any: ...
        @staticmethod
        def _restate_rows(conn: Connection, rows: Sequence[Any]) -> int: ...

    # -- what opting out (or a deleted post, a freeze, a block) leads to ---------------------------

    def withdraw(self, conn: Connection, posts: ColumnElement[bool], reason: str, now: datetime) -> int:
        """Waiting and approved candidates of the posts matching ``posts`` leave the queue, each
        with an audit row by "system". A candidate a worker is amplifying right now (leased) is
        left to that worker, whose last check before the call withdraws it."""
        c = m.Candidate
        free = or_(c.lease_until.is_(None), c.lease_until < now)
        ids = list(
            conn.execute(
                select(c.id)
                .join(m.Post, m.Post.id == c.post_id)
                .where(c.community_id == self.cid, c.state.in_(WITHDRAWABLE), free, posts)
            ).scalars()
        )
        if not ids:
            return 0
        done = list(
            conn.execute(
                update(c)
                .where(c.id.in_(ids), c.state.in_(WITHDRAWABLE), free)
                .values(
                    state=CandidateState.WITHDRAWN.value,
                    version=c.version + 1,
                    updated_at=now,
                    decided_at=now,
                    next_attempt_at=None,
                )
                .returning(c.id)
            ).scalars()
        )
        if done:
            conn.execute(
                m.table(m.Decision).insert(),
                [
                    {
                        "community_id": self.cid,
                        "candidate_id": cid,
                        "curator": "system",
                        "action": "withdraw",
                        "reason": reason,
                        "at": now,
                    }
                    for cid in done
                ],
            )
        return len(done)

    def schedule_undos(
        self,
        conn: Connection,
        posts: ColumnElement[bool],
        reason: str,
        by: str,
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> int:
        """Queue the taking back of every live amplification of the posts matching ``posts``
        (completed after ``since``, when given). Idempotent: an undo already queued stays as it is."""
        x = m.Amplification
        q = (
            select(x.id)
            .join(m.Candidate, m.Candidate.id == x.candidate_id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(x.community_id == self.cid, x.state == "done", posts)
        )
        if since is not None:
            q = q.where(x.completed_at >= since)
        return self.queue_undos(conn, list(conn.execute(q).scalars()), reason, by, now)

    def queue_undos(
        self, conn: Connection, amp_ids: Sequence[int], reason: str, by: str, now: datetime
    ) -> int:
        if not amp_ids:
            return 0
        u = m.table(m.Undo)
        fresh = {
            "reason": reason,
            "requested_by": by,
            "requested_at": now,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "error": None,
        }
        stmt = dialect_insert(conn, u)
        # An undo that finished earlier but whose amplification is live again (a worker finished
        # a call that was in flight when the member opted out) is queued again.
        stmt = stmt.on_conflict_do_update(
            index_elements=["amplification_id"], set_=fresh, where=u.c.state != "pending"
        )
        conn.execute(stmt, [{"community_id": self.cid, "amplification_id": a, **fresh} for a in amp_ids])
        return len(amp_ids)

    # -- the safety net --------------------------------------------------------------------------

    def enforce(self, now: datetime) -> dict[str, int]:
        return _retrying(lambda: self._enforce(now))

    def _enforce(self, now: datetime) -> dict[str, int]:
        """Make the database agree with itself, whatever order things happened in: a consent
        written directly becomes that account's own word; each account's standing is derived again
        from its person's own words (an opt-out covers every linked account, and one cleared by
        the account that gave it frees them); opted-out or blocked members have nothing waiting;
        nothing of an opted-out member stays amplified. Cheap when there is nothing to do."""
        a = m.Account
        with self.store.engine.begin() as conn:
            self._adopt(conn, a.id.is_not(None), now)
            restated = 0
            # unlinked accounts: their standing is their own word
            lone = conn.execute(
                select(a.id).where(
                    a.community_id == self.cid,
                    a.person_id.is_(None),
                    or_(
                        a.consent.is_distinct_from(a.own_consent),
                        and_(
                            a.own_consent.is_not(None),
                            a.consent_source.is_distinct_from(a.own_consent_source),
                        ),
                    ),
                )
            ).scalars()
            for pk in list(lone):
                restated += self._restate(conn, [int(pk)])
            # linked people: a few rows each, all read in one query
            people: dict[int, list[Any]] = {}
            linked = self._standing_rows(and_(a.community_id == self.cid, a.person_id.is_not(None)))
            for row in conn.execute(linked.add_columns(a.person_id)):
                people.setdefault(int(row.person_id), []).append(row)
            for rows in people.values():
                restated += self._restate_rows(conn, rows)
            unwelcome = select(a.id).where(a.community_id == self.cid, or_(a.consent == OUT, a.blocked))
            # a quote post carries the quoted member's post: her consent covers it too
            withdrawn = self.withdraw(
                conn,
                or_(m.Post.account_id.in_(unwelcome), m.Post.quoted_account_id.in_(unwelcome)),
                "the member opted out or is blocked",
                now,
            )
            opted_out = select(a.id).where(a.community_id == self.cid, a.consent == OUT)
            live = self._live_amplifications(
                conn, or_(m.Post.account_id.in_(opted_out), m.Post.quoted_account_id.in_(opted_out)), now
            )
            undoing = self.queue_undos(conn, live, "optout", "system", now)
        if restated or withdrawn or undoing:
            log.warning(
                "consent sweep corrected the record",
                extra={
                    "community": self.settings.community.slug,
                    "linked_opt_outs": restated,
                    "withdrawn": withdrawn,
                    "undos": undoing,
                },
            )
        return {"linked": restated, "withdrawn": withdrawn, "undos": undoing}

    def _live_amplifications(self, conn: Connection, posts: ColumnElement[bool], now: datetime) -> list[int]:
        """Amplifications still standing on a platform with no undo already under way (or given
        up on lately: the curators were alerted, and it is tried again after a long pause)."""
        x, u = m.Amplification, m.Undo
        return list(
            conn.execute(
                select(x.id)
                .join(m.Candidate, m.Candidate.id == x.candidate_id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .outerjoin(
                    u,
                    and_(
                        u.amplification_id == x.id,
                        or_(u.state == "pending", and_(u.state == "failed", u.next_attempt_at > now)),
                    ),
                )
                .where(x.community_id == self.cid, x.state == "done", u.id.is_(None), posts)
            ).scalars()
        )
