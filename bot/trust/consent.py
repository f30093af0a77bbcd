"""The consent registry: one place where a member's opt-out, opt-in and linked accounts are kept,
and what follows from them — waiting candidates withdrawn, earlier amplifications queued to be
taken back, a confirmation owed to the member, an audit row for every change. Database only; the
platform calls those lead to (undo, reply) are made by :mod:`bot.trust.service`.

A person is the set of accounts sharing ``accounts.person_id`` (an unlinked account is a person
on its own). Each account keeps its own word (``own_consent``); what holds for every account of
the person (``consent``) is derived from them all: "out" when any of them said out, else "in"
when any said in. So an opt-out on any account wins until *that same account* opts back in; an
opt-in from a linked account changes nothing for another account's opt-out.

Linking needs both accounts, each through a channel only it controls: a code is given in private
(never on a platform whose answers are public) to account A, entered from account B, and the
link is made only when A confirms in private. Public answers are the same whatever is linked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.domain import MemberRequest, Platform, hashtags_in, normalize_tag
from bot.store import models as m
from bot.store.member_messages import owe_member
from bot.store.store import Store, dialect_insert
from bot.trust import member_commands as cmd
from bot.trust.consent_enforcement import ConsentEnforcement
from bot.trust.consent_linking import AccountLinking
from bot.trust.member_chat import ANSWER, CONSENT, MemberChat
from bot.trust.member_chat import KINDS as CHAT_KINDS
from bot.trust.standing import IN as IN
from bot.trust.standing import OUT as OUT
from bot.trust.standing import WITHDRAWABLE as WITHDRAWABLE
from bot.trust.standing import named as _named
from bot.trust.standing import retrying as _retrying
from bot.trust.withdrawal import withdraw_interviews

log = logging.getLogger(__name__)

PROPAGATED = "linked account"  # consent_source of an account whose standing another account decided
LINK_ASK = "link_ask"  # what we send on our own: asking the code's owner to confirm a link
OWN_KINDS = (LINK_ASK, CONSENT)  # requests we queue ourselves: not a sender's budget

HELP_TEXT = (
    "I am the community's central account: curators share members' posts with the community "
    "hashtag. Send 'optout' (or 'baja') and your posts are never shared; 'optin' (or 'alta') to "
    "allow it again. To join your accounts on several platforms, send 'link' in a private "
    "message (a Mastodon direct message or a private chat with the Telegram bot)."
)
# Said after every public opt-in answer, whatever the member's links: the answer must not tell
# onlookers whether another account of hers is out.
PUBLIC_IN_CAVEAT = (
    " An opt-out you sent from another account, or #nobot in a profile, still holds until you "
    "change it there."
)


@dataclass(frozen=True)
class OptOutSummary:
    accounts: int  # how many linked accounts it covered
    withdrawn: int  # waiting candidates taken out of the queue
    undoing: int  # earlier amplifications queued to be taken back
    own_withdrawn: int = 0  # of those, the asking account's own (what a public answer may say)
    own_undoing: int = 0


@dataclass(frozen=True)
class Handled:
    """What became of one member request (None outcome: seen before, nothing done)."""

    request: MemberRequest
    outcome: str | None
    reply: str | None = None


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class ConsentRegistry(AccountLinking, ConsentEnforcement):
    """``chat`` carries the private conversations that are not ours (the mini-interview), given
    by the composition root; without it their messages get the help text, as any other would."""

    def __init__(self, store: Store, settings: Settings, *, chat: MemberChat | None = None) -> None:
        self.store = store
        self.settings = settings
        self.markers = frozenset(normalize_tag(t) for t in settings.curation.optout_markers)
        self.chat = chat

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

    # -- each account's own word, and what follows for the person ----------------------------------

    def set_own(
        self,
        conn: Connection,
        pk: int,
        value: str | None,
        source: str,
        now: datetime,
        *,
        asked_by: int | None = None,
        request_id: int | None = None,
    ) -> bool:
        """Record what account ``pk`` itself says ("out", "in") inside ``conn``'s transaction, with
        an audit row; then restate the person. Returns whether its own word changed."""
        pks = self._lock_person(conn, pk)
        self._adopt(conn, m.Account.id.in_(pks), now)
        a = m.Account
        before = conn.execute(select(a.own_consent).where(a.id == pk)).scalar_one()
        conn.execute(update(a).where(a.id == pk).values(own_consent=value, own_consent_source=source[:64]))
        self.audit(
            conn,
            pk,
            value or "cleared",
            source,
            now,
            asked_by=asked_by,
            request_id=request_id,
            detail=None if before == value else f"was {before or 'unsaid'}",
        )
        self._restate(conn, pks)
        return bool(before != value)

    def _lock_person(self, conn: Connection, pk: int) -> list[int]:
        """The person's accounts, their rows locked in id order (PostgreSQL; SQLite holds the whole
        database for the transaction already) so two changes to one person wait for each other."""
        pks = self.person_accounts(conn, pk)
        a = m.Account
        conn.execute(select(a.id).where(a.id.in_(pks)).order_by(a.id).with_for_update()).all()
        return pks

    def _restate(self, conn: Connection, pks: Sequence[int]) -> int:
        """Derive ``consent`` for each account of one person from their own words; returns how
        many rows changed. Nothing propagated is ever kept as an account's own word, so an opt-in
        by the account that opted out frees the whole person again."""
        return self._restate_rows(conn, conn.execute(self._standing_rows(m.Account.id.in_(pks))).all())

    @staticmethod
    def _standing_rows(which: ColumnElement[bool]) -> Any:
        a = m.Account
        return select(a.id, a.consent, a.consent_source, a.own_consent, a.own_consent_source).where(which)

    @staticmethod
    def _restate_rows(conn: Connection, rows: Sequence[Any]) -> int:
        a = m.Account
        owns = {r.own_consent for r in rows}
        person = OUT if OUT in owns else (IN if IN in owns else None)
        changed = 0
        for r in rows:
            if r.own_consent == person:
                want = (person, r.own_consent_source if person is not None else None)
            else:
                want = (person, PROPAGATED)
            if (r.consent, r.consent_source) != want:
                conn.execute(update(a).where(a.id == r.id).values(consent=want[0], consent_source=want[1]))
                changed += 1
        return changed

    def _adopt(self, conn: Connection, which: ColumnElement[bool], now: datetime) -> int:
        """An account whose ``consent`` was written directly (not by this registry: a profile
        marker seen at the last moment, an operator's SQL) takes that as its own word, so deriving
        the person's standing never loses it (fail closed). Audited as "adopted"."""
        a = m.Account
        stray = conn.execute(
            select(a.id, a.consent, a.consent_source).where(
                a.community_id == self.cid,
                which,
                a.consent.is_not(None),
                or_(a.consent_source.is_(None), a.consent_source != PROPAGATED),
                a.own_consent.is_distinct_from(a.consent),
            )
        ).all()
        for r in stray:
            conn.execute(
                update(a)
                .where(a.id == r.id)
                .values(own_consent=r.consent, own_consent_source=r.consent_source)
            )
            self.audit(conn, int(r.id), "adopted", r.consent_source or "unknown", now, detail=r.consent)
        return len(stray)

    def audit(
        self,
        conn: Connection,
        account_pk: int,
        action: str,
        by: str,
        now: datetime,
        *,
        asked_by: int | None = None,
        request_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """One append-only row of the consent audit."""
        conn.execute(
            m.table(m.ConsentEvent)
            .insert()
            .values(
                community_id=self.cid,
                account_id=account_pk,
                asked_by=asked_by,
                by=by[:255],
                action=action[:16],
                detail=detail,
                request_id=request_id,
                at=now,
            )
        )

    # -- member requests ---------------------------------------------------------------------------

    def record(self, platform: Platform, requests: Iterable[MemberRequest], now: datetime) -> list[Handled]:
        """Handle each request once, each in its own transaction with the reply it earns (sent
        later by the trust service). A request seen before (a replayed mention) does nothing; a
        sender over ``trust.requests_per_sender`` in the window is not answered (outcome
        "rate_limited", nothing stored) unless it is an opt-out that changes something."""
        return [_retrying(functools.partial(self._record_one, platform, req, now)) for req in requests]

    def _over_budget(self, conn: Connection, pk: int, req: MemberRequest, now: datetime) -> bool:
        """Whether the sender has had their answers for this window. One indexed count: the cost
        of a flood stays one query per message and at most the budget's rows per sender."""
        cfg = self.settings.trust
        r = m.MemberRequest
        recent = conn.execute(
            select(func.count()).where(
                r.account_id == pk,
                r.received_at > now - timedelta(minutes=cfg.requests_window_minutes),
                r.kind.not_in(OWN_KINDS),
            )
        ).scalar_one()
        if recent < cfg.requests_per_sender:
            return False
        chat = self.chat if req.kind in CHAT_KINDS else None
        if chat is not None and chat.in_conversation(conn, req.platform, req.author.account_id):
            return False  # a member a curator invited, answering her questions: not a stranger
        if req.kind == cmd.OPTOUT:  # an opt-out is never lost: one that changes something goes through
            own = conn.execute(select(m.Account.own_consent).where(m.Account.id == pk)).scalar_one()
            return bool(own == OUT)
        return True

    def _claim(
        self, conn: Connection, platform: Platform, req: MemberRequest, now: datetime
    ) -> tuple[int | None, int]:
        """The request's row, written once (None when it was seen before or the sender is over
        budget), and the member's account."""
        ref = req.reply_ref or f"local:{req.author.account_id}:{req.kind}:{now.isoformat()}"
        accounts = self.store._upsert_accounts(conn, platform, [req.author], now)
        pk = int(accounts[req.author.account_id]["id"])
        if self._over_budget(conn, pk, req, now):
            return None, pk
        # a private message's text is kept only where it belongs (an interview's answers)
        argument = None if req.kind == ANSWER else (req.argument or None) and req.argument[:64]
        request_id = conn.execute(
            dialect_insert(conn, m.table(m.MemberRequest))
            .values(
                community_id=self.cid,
                platform=platform.value,
                request_ref=ref[:512],
                kind=req.kind[:16],
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
        if self.chat is not None and req.kind in CHAT_KINDS:
            return self._record_chat(self.chat, platform, req, now)
        with self.store.engine.begin() as conn:
            request_id, pk = self._claim(conn, platform, req, now)
            if request_id is None:
                return Handled(req, None)
            if req.kind == cmd.OPTOUT:
                outcome, reply = self._member_opts_out(conn, pk, req, request_id, now)
            elif req.kind == cmd.OPTIN:
                outcome, reply = self._member_opts_in(conn, pk, req, request_id, now)
            elif req.kind == cmd.LINK and not req.argument:
                outcome, reply = self._issue_code(conn, pk, req, request_id, now)
            elif req.kind == cmd.LINK:
                outcome, reply = self._enter_code(conn, pk, req, request_id, now)
            elif req.kind in (cmd.LINK_YES, cmd.LINK_NO):
                outcome, reply = self._decide_link(conn, pk, req, request_id, now)
            else:  # help, or anything a front-end could not read: how to ask
                outcome, reply = "help", HELP_TEXT
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

    def _record_chat(
        self, chat: MemberChat, platform: Platform, req: MemberRequest, now: datetime
    ) -> Handled:
        """A message of a conversation we hand on (the mini-interview). It keeps its own record, so
        the request is claimed first (a replayed message is never a second answer), then handed on."""
        with self.store.engine.begin() as conn:
            request_id, _ = self._claim(conn, platform, req, now)
        if request_id is None:
            return Handled(req, None)
        outcome, reply = chat.handle(platform, req.author.account_id, req.kind, req.argument, now)
        with self.store.engine.begin() as conn:
            self._settle(conn, request_id, outcome, reply, now)
        self._log("interview chat", platform, req, outcome, request_id)
        return Handled(req, outcome, reply)

    def _member_opts_out(
        self, conn: Connection, pk: int, req: MemberRequest, request_id: int, now: datetime
    ) -> tuple[str, str]:
        summary = self.opt_out_in(
            conn, pk, f"{req.platform.value}:optout", "member", now, asked_by=pk, request_id=request_id
        )
        parts = ["Done: the community account will not share your posts any more"]
        # A public answer is the same whatever is linked: it counts only this account's posts.
        withdrawn, undoing = summary.own_withdrawn, summary.own_undoing
        if req.private:
            withdrawn, undoing = summary.withdrawn, summary.undoing
            if summary.accounts > 1:
                parts[0] += f" (on all {summary.accounts} of your linked accounts)"
        parts[0] += "."
        if withdrawn:
            parts.append(f"{_plural(withdrawn, 'waiting post')} taken out of the queue.")
        if undoing:
            parts.append(f"{_plural(undoing, 'earlier boost')} being taken back.")
        parts.append("Send 'optin' from this account any time to change your mind.")
        return "opted_out", " ".join(parts)

    def _member_opts_in(
        self, conn: Connection, pk: int, req: MemberRequest, request_id: int, now: datetime
    ) -> tuple[str, str]:
        self.set_own(conn, pk, IN, f"{req.platform.value}:optin", now, asked_by=pk, request_id=request_id)
        a = m.Account
        pks = self.person_accounts(conn, pk)
        still_out = conn.execute(
            select(a.handle, a.platform).where(a.id.in_(pks), a.own_consent == OUT)
        ).all()
        if self.settings.community.consent == "opt-in":
            reply = "Thank you: curators may now share your posts from the community account."
        else:
            reply = "Welcome back: curators may share your posts from the community account again."
        if req.private and still_out:
            names = ", ".join(_named(r.handle, r.platform) for r in still_out)
            reply = (
                "Noted for this account. Your linked account "
                f"{names} opted out, and that holds for all your accounts until it opts in itself."
            )
        elif not req.private:
            reply += PUBLIC_IN_CAVEAT
        if self.markers & hashtags_in(req.author.bio):
            reply += " Your profile still says #nobot (or similar), and that keeps you out: remove it first."
        reply += " Send 'optout' any time."
        return "opted_in", reply

    # -- opting out: the whole person, at once -----------------------------------------------------

    def opt_out_in(
        self,
        conn: Connection,
        pk: int,
        source: str,
        by: str,
        now: datetime,
        *,
        asked_by: int | None = None,
        request_id: int | None = None,
    ) -> OptOutSummary:
        """Account ``pk`` opts out inside ``conn``'s transaction: its own word, the person's
        standing, their queue and undos (this account's first, so an answer can count its own)."""
        self.set_own(conn, pk, OUT, source, now, asked_by=asked_by, request_id=request_id)
        pks = self.person_accounts(conn, pk)
        own_withdrawn = self.withdraw(conn, m.Post.account_id == pk, "the member opted out", now)
        own_undoing = self.schedule_undos(conn, m.Post.account_id == pk, "optout", by, now)
        posts = and_(m.Post.account_id.in_(pks), m.Post.account_id != pk)
        withdrawn = own_withdrawn + self.withdraw(conn, posts, "the member opted out", now)
        undoing = own_undoing + self.schedule_undos(conn, posts, "optout", by, now)
        # her interviews not yet published are withdrawn, each with a private note
        covered = set(pks)
        name = self.settings.community.name
        withdraw_interviews(conn, self.store.community_id, name, lambda _conn, pk: pk in covered, now)
        return OptOutSummary(len(pks), withdrawn, undoing, own_withdrawn, own_undoing)

    def opt_out(
        self, platform: Platform, account_id: str, source: str, by: str, now: datetime
    ) -> OptOutSummary:
        with self.store.engine.begin() as conn:
            pk = self.account_pk(conn, platform, account_id)
            if pk is None:
                return OptOutSummary(0, 0, 0)
            return self.opt_out_in(conn, pk, source, by, now)

    def mark_opted_out(
        self, platform: Platform, account_ids: Iterable[str], source: str, now: datetime
    ) -> int:
        """Accounts seen with an opt-out marker in their profile: their own word is "out" (audited);
        the sweep does the rest (waiting candidates, earlier boosts). Returns how many were not
        out yet."""
        a = m.Account
        changed = 0
        with self.store.engine.begin() as conn:
            pks = conn.execute(
                select(a.id).where(
                    a.community_id == self.cid,
                    a.platform == platform.value,
                    a.platform_account_id.in_(sorted(account_ids)),
                    a.own_consent.is_distinct_from(OUT),
                )
            ).scalars()
            for pk in list(pks):
                changed += self.set_own(conn, int(pk), OUT, source, now)
        return changed

    def _tell(self, conn: Connection, account_pk: int, ref: str, text: str, now: datetime) -> None:
        """A message of our own to a member, delivered by the trust service like an answer."""
        owe_member(
            conn, self.cid, account_pk, ref=ref, kind=LINK_ASK, outcome="link_asked", text=text, now=now
        )

    # -- reading -----------------------------------------------------------------------------------

    def consent_of(self, conn: Connection, account_pk: int) -> dict[str, Any]:
        """The person's standing: "out" if any linked account is out (by its own word or as
        recorded), else "in" if any is in."""
        a = m.Account
        pks = self.person_accounts(conn, account_pk)
        rows = conn.execute(
            select(a.consent, a.own_consent, a.frozen_at, a.blocked).where(a.id.in_(pks))
        ).all()
        said = {r.consent for r in rows} | {r.own_consent for r in rows}
        return {
            "consent": OUT if OUT in said else (IN if IN in said else None),
            "frozen": any(r.frozen_at is not None for r in rows),
            "blocked": any(r.blocked for r in rows),
            "accounts": len(pks),
        }
