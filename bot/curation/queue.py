"""The curation queue: what curators see and decide. Every change is a compare-and-set on the
candidate's version inside one transaction with its audit row, so two curators tapping at once
can never produce two approvals of one state, and every decision leaves a trace."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from bot.conference.model import ConferenceView, conference_of, conferences
from bot.conference.roles import CHAMPION, as_champion, champion_scope, is_champion, refused
from bot.config import Settings
from bot.curation.history import AmplificationView, DecisionView, History, histories
from bot.domain import OPEN_STATES, CandidateState, Platform
from bot.errors import QueueError
from bot.store import models as m
from bot.store.store import Store
from bot.trust.discovery import ProfileRule, objection

_SELF_ACTIONS = ("approve",)
# What still needs a curator or the amplifier.
OPEN_WORK = (CandidateState.PENDING, CandidateState.SNOOZED, CandidateState.APPROVED, CandidateState.FAILED)


@dataclass(frozen=True)
class CandidateView:
    id: int
    state: str
    platform: str
    author_handle: str
    author_name: str
    url: str
    text: str
    reason: str
    nominated_by: str | None
    posted_at: datetime
    queued_at: datetime
    approvals: int
    approvals_required: int
    attempts: int
    last_error: str | None
    snoozed_until: datetime | None
    next_attempt_at: datetime | None
    is_reply: bool
    content_warning: str | None
    decisions: tuple[DecisionView, ...] = field(default=())
    amplifications: tuple[AmplificationView, ...] = field(default=())
    hashtags: str = ""  # space-separated, normalised
    author_created_at: datetime | None = None  # when the author's account was opened, if known
    stranger_replies: int | None = None  # replies from accounts that don't follow the author, if known
    quoted_handle: str | None = None  # a quote post: whose post it carries
    nominated_by_stranger: bool = False  # the nominating account had never taken part
    consent_note: str | None = None  # why the profile rule holds it back until the member opts in
    author_is_bot: bool = False  # the platform says the author is a bot or automated account
    automated: str | None = None  # what made the post automated though its author is not a bot
    conference: str | None = None  # "Name (#tag)" when the post is one of a conference's: its badge

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, tuple):
                out[key] = [
                    {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.__dict__.items()}
                    for item in value
                ]
            else:
                out[key] = value
        return out


class _Conflict(Exception):
    """Someone else changed the candidate between our read and our write: read again."""


class _OutOfScope(QueueError):  # a champion's decision outside her role (another post, out of window)
    pass


class Queue:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.required = settings.curation.approvals_required
        self.rule = ProfileRule.of(settings)
        self._quoted = aliased(m.Account)

    # -- reading -----------------------------------------------------------------------------

    def _select(self) -> Any:
        """Rows of (candidate, post, author's account, quoted author's account or None)."""
        return (
            select(m.Candidate, m.Post, m.Account, self._quoted)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .join(m.Account, m.Account.id == m.Post.account_id)
            .outerjoin(self._quoted, self._quoted.id == m.Post.quoted_account_id)
            .where(m.Candidate.community_id == self.store.community_id)
        )

    def _consent_note(self, *accounts: tuple[m.Account | None, str]) -> str | None:
        """Why the profile rule holds this candidate back, as its card says (None: it does not)."""
        for account, whose in accounts:
            if account is None or not account.withheld:
                continue
            found = objection(
                self.rule,
                bio="",
                withheld=account.withheld.split(),
                opted_in=account.consent == "in",
                whose=whose,
            )
            if found is not None:
                return found.reason
        return None

    def _view(
        self,
        c: m.Candidate,
        p: m.Post,
        a: m.Account,
        q: m.Account | None = None,
        conn: Connection | None = None,
        confs: Sequence[ConferenceView] = (),
        history: History | None = None,
    ) -> CandidateView:
        """``conn``: read the candidate's decisions and amplifications there (``history``: given)."""
        if history is None and conn is not None:
            history = histories(conn, [c.id])[c.id]
        decisions, amps = history or ((), ())
        return CandidateView(
            id=c.id,
            state=c.state,
            platform=p.platform,
            author_handle=a.handle,
            author_name=a.display_name,
            url=p.url,
            text=p.text,
            reason=c.reason,
            nominated_by=c.nominated_by,
            posted_at=p.created_at,
            queued_at=c.created_at,
            approvals=c.approvals,
            approvals_required=self.required,
            attempts=c.attempts,
            last_error=c.last_error,
            snoozed_until=c.snoozed_until,
            next_attempt_at=c.next_attempt_at,
            is_reply=p.is_reply,
            content_warning=p.content_warning,
            decisions=decisions,
            amplifications=amps,
            hashtags=p.hashtags,
            author_created_at=a.account_created_at,
            stranger_replies=p.stranger_replies,
            quoted_handle=q.handle if q is not None else None,
            nominated_by_stranger=c.nominated_by_stranger,
            consent_note=self._consent_note((a, "the author"), (q, "the quoted author")),
            author_is_bot=a.is_bot,
            automated=p.automated,
            conference=_badge(confs, p),
        )

    def list(
        self,
        state: str | None = None,
        limit: int = 50,
        *,
        everything: bool = False,
        platform: str | None = None,
        history: bool = False,
        conn: Connection | None = None,
    ) -> list[CandidateView]:
        """Oldest first, the order members posted. Without a state, the open work (at a million rows
        history would bury the few items a curator came for); ``everything`` lists all states.
        ``history``: each with its decisions and amplifications, as its card shows them; ``conn``:
        read there (in its transaction) rather than on a connection of its own."""
        q = self._select()
        if platform:
            q = q.where(m.Post.platform == Platform(platform).value)
        states = [CandidateState(state).value] if state else [s.value for s in OPEN_WORK]
        if everything and not state:
            states = []
        if states:
            # Through the (community, state) index: SQLite's statistics cannot tell that open
            # work is rare, so with the state beside the joins it walked every candidate in id
            # order — a quarter of a second at a million once the open work is all recent.
            q = q.where(
                m.Candidate.id.in_(
                    select(m.Candidate.id).where(
                        m.Candidate.community_id == self.store.community_id, m.Candidate.state.in_(states)
                    )
                )
            )
        q = q.order_by(m.Candidate.id).limit(limit)
        from sqlalchemy.orm import Session

        with Session(conn or self.store.engine) as session:
            conn = session.connection()
            confs = conferences(conn, self.store.community_id)
            rows = session.execute(q).all()
            past = histories(conn, [c.id for c, *_ in rows]) if history else {}
            return [self._view(c, p, a, qa, confs=confs, history=past.get(c.id)) for c, p, a, qa in rows]

    def counts(
        self, states: tuple[CandidateState, ...] = OPEN_WORK, conn: Connection | None = None
    ) -> dict[str, int]:
        """How many candidates are in each of ``states`` (by default the open work: counting
        every amplified candidate of years past would be the slowest part of ``queue list``)."""
        with contextlib.nullcontext(conn) if conn else self.store.engine.connect() as conn:
            rows = conn.execute(
                select(m.Candidate.state, func.count())
                .where(
                    m.Candidate.community_id == self.store.community_id,
                    m.Candidate.state.in_([s.value for s in states]),
                )
                .group_by(m.Candidate.state)
            )
            return {str(k): int(v) for k, v in rows}

    def show(self, candidate_id: int) -> CandidateView:
        from sqlalchemy.orm import Session

        with Session(self.store.engine) as session:
            row = session.execute(self._select().where(m.Candidate.id == candidate_id)).one_or_none()
            if row is None:
                raise QueueError(f"no candidate #{candidate_id} in this community")
            c, p, a, q = row
            conn = session.connection()
            return self._view(c, p, a, q, conn=conn, confs=conferences(conn, self.store.community_id))

    # -- deciding ----------------------------------------------------------------------------

    def is_champion(self, name: str) -> bool:
        with self.store.engine.connect() as conn:
            return is_champion(conn, self.store.community_id, name)

    def _actor(self, name: str) -> str:
        """Who signs a decision: a curator or the system by name, anyone else as a conference
        champion (whose scope the decision itself checks)."""
        if name == "system" or any(c.name == name for c in self.settings.curators):
            return name
        with self.store.engine.connect() as conn:
            if not is_champion(conn, self.store.community_id, name):
                self.settings.curator(name)  # raises, naming the known curators
        return as_champion(name)

    def approve(
        self, candidate_id: int, curator: str, now: datetime, reason: str | None = None
    ) -> CandidateView:
        curator = self._actor(curator)

        def change(c: Any, conn: Connection) -> dict[str, Any]:
            # Approvals given before the author last edited the post were of another text.
            edited = (
                select(func.coalesce(func.max(m.Decision.id), 0))
                .where(m.Decision.candidate_id == c.id, m.Decision.action == "edit")
                .scalar_subquery()
            )
            already = conn.execute(
                select(func.count()).where(
                    m.Decision.candidate_id == c.id,
                    m.Decision.curator == curator,
                    m.Decision.action == "approve",
                    m.Decision.id > edited,
                )
            ).scalar_one()
            if already:
                raise QueueError(f"#{c.id} already has your approval; it needs another curator")
            approvals = c.approvals + 1
            if approvals >= self.required:
                return {"approvals": approvals, "state": CandidateState.APPROVED.value, "decided_at": now}
            return {"approvals": approvals, "state": CandidateState.PENDING.value, "snoozed_until": None}

        return self._decide(candidate_id, curator, "approve", reason, now, change)

    def reject(
        self, candidate_id: int, curator: str, now: datetime, reason: str | None = None
    ) -> CandidateView:
        curator = self._actor(curator)
        return self._decide(
            candidate_id,
            curator,
            "reject",
            reason,
            now,
            lambda c, conn: {"state": CandidateState.REJECTED.value, "decided_at": now},
        )

    def snooze(self, candidate_id: int, curator: str, until: datetime, now: datetime) -> CandidateView:
        if until <= now:
            raise QueueError("snooze until a time in the future")
        return self._decide(
            candidate_id,
            curator,
            "snooze",
            f"until {until.isoformat(timespec='minutes')}",
            now,
            lambda c, conn: {"state": CandidateState.SNOOZED.value, "snoozed_until": until},
        )

    def retry(self, candidate_id: int, curator: str, now: datetime) -> CandidateView:
        """Send a failed candidate back to the amplifier."""
        return self._decide(
            candidate_id,
            curator,
            "retry",
            None,
            now,
            lambda c, conn: {
                "state": CandidateState.APPROVED.value,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            },
            allowed=(CandidateState.FAILED,),
        )

    def approve_again(self, candidate_id: int, curator: str, now: datetime) -> CandidateView:
        """A candidate whose amplification was taken back (its member frozen, opted out or blocked)
        is approved again by one curator: it goes back to the amplifier, whose last look still
        checks consent, blocks and freezes before anything goes out."""
        curator = self._actor(curator)
        return self._decide(
            candidate_id,
            curator,
            "approve",
            "approved again after it was taken back",
            now,
            lambda c, conn: {
                "state": CandidateState.APPROVED.value,
                "decided_at": now,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            },
            allowed=(CandidateState.WITHDRAWN,),
        )

    def taken_back(self, candidate_id: int) -> str | None:
        """For a withdrawn candidate whose amplification was taken back, the reason the take-back
        recorded (its last decision, an "undo" by the system); None otherwise."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(m.Candidate.state, m.Decision.curator, m.Decision.action, m.Decision.reason)
                .join(m.Decision, m.Decision.candidate_id == m.Candidate.id)
                .where(m.Candidate.id == candidate_id, m.Candidate.community_id == self.store.community_id)
                .order_by(m.Decision.id.desc())
                .limit(1)
            ).one_or_none()
        if row is None or row.state != CandidateState.WITHDRAWN.value:
            return None
        if (row.curator, row.action) != ("system", "undo"):
            return None
        return str(row.reason or "")

    def expire(self, candidate_id: int, now: datetime, reason: str | None = None) -> CandidateView:
        """Nobody decided in time: the candidate leaves the queue, recorded as done by "system"."""
        return self._decide(
            candidate_id,
            "system",
            "expire",
            reason,
            now,
            lambda c, conn: {
                "state": CandidateState.EXPIRED.value,
                "decided_at": now,
                "snoozed_until": None,
            },
        )

    def wake_snoozed(self, now: datetime) -> int:
        """Snoozed candidates whose time has come are pending again."""
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(m.Candidate)
                .where(
                    m.Candidate.community_id == self.store.community_id,
                    m.Candidate.state == CandidateState.SNOOZED.value,
                    m.Candidate.snoozed_until <= now,
                )
                .values(
                    state=CandidateState.PENDING.value,
                    snoozed_until=None,
                    version=m.Candidate.version + 1,
                    updated_at=now,
                )
            )
            return int(res.rowcount or 0)

    def _decide(
        self,
        candidate_id: int,
        curator: str,
        action: str,
        reason: str | None,
        now: datetime,
        change: Any,
        allowed: tuple[CandidateState, ...] = OPEN_STATES,
    ) -> CandidateView:
        if curator != "system" and not curator.startswith(CHAMPION):
            self.settings.curator(curator)  # raises with the list of known curators
        for _ in range(20):
            try:
                return self._decide_once(candidate_id, curator, action, reason, now, change, allowed)
            except _Conflict:
                continue
            except _OutOfScope as exc:  # the decision rolled back; the attempt stays in the audit log
                with self.store.engine.begin() as conn:
                    refused(conn, self.store.community_id, candidate_id, curator, f"{action}: {exc}", now)
                raise QueueError(str(exc)) from None
        raise QueueError(f"#{candidate_id} is changing too fast; try again")

    def _decide_once(
        self,
        candidate_id: int,
        curator: str,
        action: str,
        reason: str | None,
        now: datetime,
        change: Any,
        allowed: tuple[CandidateState, ...],
    ) -> CandidateView:
        from sqlalchemy.orm import Session

        with Session(self.store.engine) as session, session.begin():
            conn = session.connection()
            row = session.execute(self._select().where(m.Candidate.id == candidate_id)).one_or_none()
            if row is None:
                raise QueueError(f"no candidate #{candidate_id} in this community")
            c, p, a, _ = row
            if c.state not in {s.value for s in allowed}:
                who = _last_decider(conn, c.id)
                raise QueueError(f"#{c.id} is already {c.state}{who}")
            if curator.startswith(CHAMPION):  # a scoped role: her conference's posts, in its window
                known = ", ".join(k.name for k in self.settings.curators) or "none configured"
                try:
                    tag = champion_scope(conn, self.store.community_id, curator, p, action, now, known)
                except QueueError as exc:
                    raise _OutOfScope(str(exc)) from None
                reason = f"conference #{tag}: {reason}" if reason else f"conference #{tag}"
            elif action in _SELF_ACTIONS and curator != "system":
                mine = self.settings.curator(curator).identities().get(Platform(p.platform))
                if mine and mine.lstrip("@").casefold() in {
                    a.platform_account_id.casefold(),
                    a.handle.lstrip("@").casefold(),
                }:
                    raise QueueError(f"#{c.id} is your own post: another curator must decide it")
            values = change(c, conn)
            version = c.version
            res = conn.execute(
                update(m.Candidate)
                .where(m.Candidate.id == c.id, m.Candidate.version == version)
                .values(version=version + 1, updated_at=now, **values)
            )
            if res.rowcount != 1:
                raise _Conflict
            conn.execute(
                m.table(m.Decision)
                .insert()
                .values(
                    community_id=self.store.community_id,
                    candidate_id=c.id,
                    curator=curator,
                    action=action,
                    reason=reason,
                    at=now,
                )
            )
            session.expire_all()
            c, p, a, q = session.execute(self._select().where(m.Candidate.id == candidate_id)).one()
            return self._view(c, p, a, q, conn=conn, confs=conferences(conn, self.store.community_id))


def _last_decider(conn: Connection, candidate_id: int) -> str:
    row = conn.execute(
        select(m.Decision.curator, m.Decision.action)
        .where(m.Decision.candidate_id == candidate_id)
        .order_by(m.Decision.id.desc())
        .limit(1)
    ).one_or_none()
    return f" ({row.action} by {row.curator})" if row else ""


def _badge(confs: Sequence[ConferenceView], post: m.Post) -> str | None:
    found = conference_of(confs, post.hashtags, post.created_at) if confs else None
    return f"{found.name} (#{found.tag})" if found else None
