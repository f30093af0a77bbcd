"""The consent registry: one place where a member's opt-out, opt-in and linked accounts are kept,
and what follows from them — waiting candidates withdrawn, earlier amplifications queued to be
taken back, a confirmation owed to the member. Database only; the platform calls those lead to
(undo, reply) are made by :mod:`bot.trust`.

A person is the set of accounts sharing ``accounts.person_id`` (an unlinked account is a person
on its own). An opt-out anywhere covers the whole person, and it wins over an opt-in.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from bot import member_commands as cmd
from bot import models as m
from bot.config import Settings
from bot.domain import CandidateState, MemberRequest, Platform, normalize_tag
from bot.series import interview_chat
from bot.series.interviews import InterviewBook
from bot.store import Store, _insert

log = logging.getLogger(__name__)

WITHDRAWABLE = (CandidateState.PENDING.value, CandidateState.SNOOZED.value, CandidateState.APPROVED.value)
BAD_CODES_PER_DAY = 5  # a code is 8 characters from 31: guessing needs far more tries than this


@dataclass(frozen=True)
class OptOutSummary:
    accounts: int  # how many linked accounts it covered
    withdrawn: int  # waiting candidates taken out of the queue
    undoing: int  # earlier amplifications queued to be taken back


@dataclass(frozen=True)
class Handled:
    """What became of one member request (None outcome: seen before, nothing done)."""

    request: MemberRequest
    outcome: str | None
    reply: str | None = None


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class ConsentRegistry:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.markers = frozenset(normalize_tag(t) for t in settings.curation.optout_markers)
        self.interviews = InterviewBook.of(store, settings)

    @property
    def cid(self) -> int:
        return self.store.community_id

    # -- people ----------------------------------------------------------------------------------

    def person_accounts(self, conn: Connection, account_pk: int) -> list[int]:
        """Every account of the person ``account_pk`` belongs to (itself when not linked)."""
        a = m.Account
        person = conn.execute(select(func.coalesce(a.person_id, a.id)).where(a.id == account_pk)).scalar_one()
        rows = conn.execute(
            select(a.id).where(a.community_id == self.cid, or_(a.id == person, a.person_id == person))
        )
        return sorted({int(r[0]) for r in rows} | {account_pk})

    def account_pk(self, conn: Connection, platform: Platform, account_id: str) -> int | None:
        a = m.Account
        return conn.execute(
            select(a.id).where(
                a.community_id == self.cid, a.platform == platform.value, a.platform_account_id == account_id
            )
        ).scalar_one_or_none()

    # -- member requests ---------------------------------------------------------------------------

    def record(self, platform: Platform, requests: Iterable[MemberRequest], now: datetime) -> list[Handled]:
        """Handle each request once, each in its own transaction with the reply it earns (sent
        later by the trust service). A request seen before (a replayed mention) does nothing."""
        return [self._record_one(platform, req, now) for req in requests]

    def _claim(
        self, conn: Connection, platform: Platform, req: MemberRequest, now: datetime
    ) -> tuple[int | None, int]:
        """The request's row, written once (None when it was seen before), and the member's account."""
        ref = req.reply_ref or f"local:{req.author.account_id}:{req.kind}:{now.isoformat()}"
        accounts = self.store._upsert_accounts(conn, platform, [req.author], now)
        pk = int(accounts[req.author.account_id]["id"])
        # a private message's text is kept only where it belongs (an interview's answers)
        argument = None if req.kind == interview_chat.ANSWER else (req.argument or None) and req.argument[:64]
        request_id = conn.execute(
            _insert(conn, m.table(m.MemberRequest))
            .values(
                community_id=self.cid,
                platform=platform.value,
                request_ref=ref[:512],
                kind=req.kind,
                argument=argument,
                account_id=pk,
                outcome="received",
                received_at=now,
                reply_state="none",
                reply_attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["community_id", "platform", "request_ref"])
            .returning(m.MemberRequest.id)
        ).scalar_one_or_none()
        return (None if request_id is None else int(request_id)), pk

    def _record_one(self, platform: Platform, req: MemberRequest, now: datetime) -> Handled:
        if req.kind in interview_chat.KINDS:
            return self._record_chat(platform, req, now)
        with self.store.engine.begin() as conn:
            request_id, pk = self._claim(conn, platform, req, now)
            if request_id is None:
                return Handled(req, None)
            if req.kind == cmd.OPTOUT:
                outcome, reply = self._member_opts_out(conn, pk, platform, now)
            elif req.kind == cmd.OPTIN:
                outcome, reply = self._member_opts_in(conn, pk, req, now)
            elif req.kind == cmd.LINK and not req.argument:
                outcome, reply = self._issue_code(conn, pk, now)
            elif req.kind == cmd.LINK:
                outcome, reply = self._redeem(conn, pk, cmd.normalize_code(req.argument or ""), now)
            else:
                outcome, reply = "unknown", None
            self._settle(conn, request_id, outcome, reply, now)
        self._log("member request", platform, req, outcome, request_id)
        return Handled(req, outcome, reply)

    @staticmethod
    def _settle(conn: Connection, request_id: int, outcome: str, reply: str | None, now: datetime) -> None:
        """The request's outcome, and its reply queued for the trust service to deliver."""
        r = m.MemberRequest
        conn.execute(
            update(r)
            .where(r.id == request_id)
            .values(
                outcome=outcome,
                reply_text=reply,
                reply_state="pending" if reply else "none",
                reply_next_at=now if reply else None,
            )
        )

    def _log(self, what: str, platform: Platform, req: MemberRequest, outcome: str, request_id: int) -> None:
        extra = {"community": self.settings.community.slug, "platform": platform.value, "kind": req.kind}
        log.info(what, extra={**extra, "outcome": outcome, "request": request_id})

    def _record_chat(self, platform: Platform, req: MemberRequest, now: datetime) -> Handled:
        """A message of the mini-interview chat. The interview keeps its own record, so the
        request is claimed first (a replayed message is never a second answer), then handed on."""
        with self.store.engine.begin() as conn:
            request_id, _ = self._claim(conn, platform, req, now)
        if request_id is None:
            return Handled(req, None)
        chat = interview_chat.InterviewChat(
            self.interviews, platform, language=self.settings.community.languages[0]
        )
        outcome, reply = chat.handle(req.author.account_id, req.kind, req.argument, now)
        with self.store.engine.begin() as conn:
            self._settle(conn, request_id, outcome, reply, now)
        self._log("interview chat", platform, req, outcome, request_id)
        return Handled(req, outcome, reply)

    def _member_opts_out(
        self, conn: Connection, pk: int, platform: Platform, now: datetime
    ) -> tuple[str, str]:
        summary = self.opt_out_in(conn, pk, f"{platform.value}:optout", "member", now)
        parts = ["Done: the community account will not share your posts any more"]
        if summary.accounts > 1:
            parts[0] += f" (on all {summary.accounts} of your linked accounts)"
        parts[0] += "."
        if summary.withdrawn:
            parts.append(f"{_plural(summary.withdrawn, 'waiting post')} taken out of the queue.")
        if summary.undoing:
            parts.append(f"{_plural(summary.undoing, 'earlier boost')} being taken back.")
        parts.append("Send 'optin' any time to change your mind.")
        return "opted_out", " ".join(parts)

    def _member_opts_in(
        self, conn: Connection, pk: int, req: MemberRequest, now: datetime
    ) -> tuple[str, str]:
        pks = self.person_accounts(conn, pk)
        a = m.Account
        conn.execute(
            update(a).where(a.id.in_(pks)).values(consent="in", consent_source=f"{req.platform.value}:optin")
        )
        if self.settings.community.consent == "opt-in":
            reply = "Thank you: curators may now share your posts from the community account."
        else:
            reply = "Welcome back: curators may share your posts from the community account again."
        from bot.pipeline import hashtags_in  # the pipeline hands requests here: import late

        if self.markers & hashtags_in(req.author.bio):
            reply += " Your profile still says #nobot (or similar), and that keeps you out: remove it first."
        reply += " Send 'optout' any time."
        return "opted_in", reply

    # -- opting out: the whole person, at once -----------------------------------------------------

    def opt_out_in(self, conn: Connection, pk: int, source: str, by: str, now: datetime) -> OptOutSummary:
        """Opt the person of account ``pk`` out inside ``conn``'s transaction: consent, queue, undos."""
        pks = self.person_accounts(conn, pk)
        a = m.Account
        conn.execute(update(a).where(a.id.in_(pks)).values(consent="out", consent_source=source[:64]))
        posts = m.Post.account_id.in_(pks)
        withdrawn = self.withdraw(conn, posts, "the member opted out", now)
        undoing = self.schedule_undos(conn, posts, "optout", by, now)
        from bot.veto import opt_out_cascade  # the veto reads consent from here: import late

        opt_out_cascade(conn, self, pks, now)  # her interviews not yet published, with a note
        return OptOutSummary(len(pks), withdrawn, undoing)

    def opt_out(
        self, platform: Platform, account_id: str, source: str, by: str, now: datetime
    ) -> OptOutSummary:
        with self.store.engine.begin() as conn:
            pk = self.account_pk(conn, platform, account_id)
            if pk is None:
                return OptOutSummary(0, 0, 0)
            return self.opt_out_in(conn, pk, source, by, now)

    def mark_opted_out(self, platform: Platform, account_ids: Iterable[str], source: str) -> int:
        """Accounts seen with an opt-out marker in their profile; the sweep does the rest (their
        linked accounts, waiting candidates, earlier boosts). Returns how many were not out yet."""
        a = m.Account
        with self.store.engine.begin() as conn:
            return int(
                conn.execute(
                    update(a)
                    .where(
                        a.community_id == self.cid,
                        a.platform == platform.value,
                        a.platform_account_id.in_(sorted(account_ids)),
                        or_(a.consent.is_(None), a.consent != "out"),
                    )
                    .values(consent="out", consent_source=source)
                ).rowcount
                or 0
            )

    # -- linking accounts ------------------------------------------------------------------------

    def _issue_code(self, conn: Connection, pk: int, now: datetime) -> tuple[str, str]:
        hours = self.settings.trust.link_code_hours
        for _ in range(10):
            code = "".join(secrets.choice(cmd.CODE_ALPHABET) for _ in range(8))
            made = conn.execute(
                _insert(conn, m.table(m.LinkCode))
                .values(
                    community_id=self.cid,
                    code=code,
                    account_id=pk,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                )
                .on_conflict_do_nothing(index_elements=["community_id", "code"])
                .returning(m.LinkCode.id)
            ).scalar_one_or_none()
            if made is not None:
                shown = cmd.format_code(code)
                return "code_issued", (
                    f"Your link code is {shown}. Within {hours:g} hours, send 'link {shown}' to the "
                    "community account from your other account: then an opt-out from either covers both."
                )
        raise RuntimeError("could not find a free link code")  # pragma: no cover - 31^8 codes

    def _redeem(self, conn: Connection, pk: int, code: str, now: datetime) -> tuple[str, str]:
        r = m.MemberRequest
        misses = conn.execute(
            select(func.count()).where(
                r.community_id == self.cid,
                r.account_id == pk,
                r.kind == cmd.LINK,
                r.outcome == "bad_code",
                r.received_at > now - timedelta(days=1),
            )
        ).scalar_one()
        if misses >= BAD_CODES_PER_DAY:
            return "too_many_codes", "Too many wrong codes today: please try again tomorrow."
        lc = m.LinkCode
        found = conn.execute(
            select(lc.id, lc.account_id).where(
                lc.community_id == self.cid, lc.code == code, lc.used_at.is_(None), lc.expires_at > now
            )
        ).one_or_none()
        if found is None:
            return "bad_code", "That code is unknown or has expired. Send 'link' to get a new one."
        other = int(found.account_id)
        if other == pk:
            return "same_account", "That code came from this account: send it from your other account."
        mine, theirs = self.person_accounts(conn, pk), self.person_accounts(conn, other)
        handle = conn.execute(select(m.Account.handle).where(m.Account.id == other)).scalar_one()
        conn.execute(update(lc).where(lc.id == found.id).values(used_at=now, used_by=pk))
        if other in mine:
            return "already_linked", f"This account and {handle} are already linked."
        group = sorted(set(mine) | set(theirs))
        a = m.Account
        conn.execute(update(a).where(a.id.in_(group)).values(person_id=group[0]))
        consents = {c for (c,) in conn.execute(select(a.consent).where(a.id.in_(group)))}
        reply = f"Linked: this account and {handle} are now one member; an opt-out from either covers both."
        if "out" in consents:
            self.opt_out_in(conn, pk, "linked account", "member", now)
            reply += " One of them had opted out, so both are out now: send 'optin' to change that."
        elif "in" in consents:
            conn.execute(
                update(a)
                .where(a.id.in_(group), a.consent.is_(None))
                .values(consent="in", consent_source="linked account")
            )
        return "linked", reply

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
        stmt = _insert(conn, u)
        # An undo that finished earlier but whose amplification is live again (a worker finished
        # a call that was in flight when the member opted out) is queued again.
        stmt = stmt.on_conflict_do_update(
            index_elements=["amplification_id"], set_=fresh, where=u.c.state != "pending"
        )
        conn.execute(stmt, [{"community_id": self.cid, "amplification_id": a, **fresh} for a in amp_ids])
        return len(amp_ids)

    # -- the safety net --------------------------------------------------------------------------

    def enforce(self, now: datetime) -> dict[str, int]:
        """Make the database agree with itself, whatever order things happened in: an opt-out
        covers every linked account; opted-out or blocked members have nothing waiting; nothing
        of an opted-out member stays amplified. Cheap when there is nothing to do."""
        a = m.Account
        with self.store.engine.begin() as conn:
            out_people = (
                select(a.person_id)
                .where(a.community_id == self.cid, a.person_id.is_not(None), a.consent == "out")
                .scalar_subquery()
            )
            spread = conn.execute(
                update(a)
                .where(
                    a.community_id == self.cid,
                    a.person_id.in_(out_people),
                    or_(a.consent.is_(None), a.consent != "out"),
                )
                .values(consent="out", consent_source="linked account")
            ).rowcount
            unwelcome = select(a.id).where(a.community_id == self.cid, or_(a.consent == "out", a.blocked))
            withdrawn = self.withdraw(
                conn, m.Post.account_id.in_(unwelcome), "the member opted out or is blocked", now
            )
            opted_out = select(a.id).where(a.community_id == self.cid, a.consent == "out")
            live = self._live_amplifications(conn, m.Post.account_id.in_(opted_out), now)
            undoing = self.queue_undos(conn, live, "optout", "system", now)
        if spread or withdrawn or undoing:
            log.warning(
                "consent sweep corrected the record",
                extra={
                    "community": self.settings.community.slug,
                    "linked_opt_outs": spread,
                    "withdrawn": withdrawn,
                    "undos": undoing,
                },
            )
        return {"linked": int(spread or 0), "withdrawn": withdrawn, "undos": undoing}

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

    # -- reading -----------------------------------------------------------------------------------

    def consent_of(self, conn: Connection, account_pk: int) -> dict[str, Any]:
        """The person's standing: "out" if any linked account is out, else "in" if any is in."""
        a = m.Account
        pks = self.person_accounts(conn, account_pk)
        rows = conn.execute(select(a.consent, a.frozen_at, a.blocked).where(a.id.in_(pks))).all()
        consents = {r.consent for r in rows}
        return {
            "consent": "out" if "out" in consents else ("in" if "in" in consents else None),
            "frozen": any(r.frozen_at is not None for r in rows),
            "blocked": any(r.blocked for r in rows),
            "accounts": len(pks),
        }
