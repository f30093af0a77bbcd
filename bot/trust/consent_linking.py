"""Linking a member's accounts, each through a channel only it controls: a code given in private
to account A, entered from account B, and the link made only when A confirms in private. A part
of the consent registry (bot.trust.consent.ConsentRegistry)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.domain import MemberRequest
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust import member_commands as cmd
from bot.trust.standing import OUT
from bot.trust.standing import named as _named

BAD_CODES_PER_DAY = 5  # a code is 8 characters from 31: guessing needs far more tries than this
BAD_CODE = "That code is unknown or has expired. Ask for a new one in private with 'link'."


class AccountLinking:
    if TYPE_CHECKING:  # what the registry (bot.trust.consent) gives the methods here
        store: Store
        settings: Settings

        @property
        def cid(self) -> int: ...
        def person_accounts(self, conn: Connection, account_pk: int) -> list[int]: ...
        def _restate(self, conn: Connection, pks: Sequence[int]) -> int: ...
        def _adopt(self, conn: Connection, which: ColumnElement[bool], now: datetime) -> int: ...

        def audit(self, *args: Any, **kwargs: Any) -> Any: ...
        def _lock_person(self, conn: Connection, pk: int) -> list[int]: ...
        def _tell(self, conn: Connection, account_pk: int, ref: str, text: str, now: datetime) -> None: ...
        def withdraw(
            self, conn: Connection, posts: ColumnElement[bool], reason: str, now: datetime
        ) -> int: ...
        def schedule_undos(self, *args: Any, **kwargs: Any) -> Any: ...

    # -- linking accounts ------------------------------------------------------------------------

    def _minutes(self) -> timedelta:
        return timedelta(minutes=self.settings.trust.link_code_minutes)

    def _issue_code(
        self, conn: Connection, pk: int, req: MemberRequest, request_id: int, now: datetime
    ) -> tuple[str, str]:
        """A code for account A, only where the answer is private: anyone may read a public one."""
        if not req.private:
            return "code_private_only", (
                "Link codes are only sent in private. Send 'link' to the community account in a "
                "Mastodon direct message or a private chat with the Telegram bot, then post the code "
                "you get from this account."
            )
        lc = m.LinkCode
        # One live code per account, and at most one link waiting for its 'link yes': asking
        # again replaces both, so 'link yes' can only ever mean the one account last named to her.
        conn.execute(
            update(lc)
            .where(lc.community_id == self.cid, lc.account_id == pk, lc.decision.is_(None))
            .values(decision="replaced", decided_at=now)
        )
        minutes = self.settings.trust.link_code_minutes
        for _ in range(10):
            code = "".join(secrets.choice(cmd.CODE_ALPHABET) for _ in range(8))
            made = conn.execute(
                dialect_insert(conn, m.table(lc))
                .values(
                    community_id=self.cid,
                    code=code,
                    account_id=pk,
                    created_at=now,
                    expires_at=now + self._minutes(),
                )
                .on_conflict_do_nothing(index_elements=["community_id", "code"])
                .returning(lc.id)
            ).scalar_one_or_none()
            if made is not None:
                self.audit(conn, pk, "code_issued", "member", now, asked_by=pk, request_id=request_id)
                shown = cmd.format_code(code)
                return "code_issued", (
                    f"Your link code is {shown}. Within {minutes:g} minutes, send 'link {shown}' to "
                    "the community account from your other account; you will then be asked here to "
                    "confirm. Keep the code to yourself: it works once."
                )
        raise RuntimeError("could not find a free link code")  # pragma: no cover - 31^8 codes

    def _enter_code(
        self, conn: Connection, pk: int, req: MemberRequest, request_id: int, now: datetime
    ) -> tuple[str, str]:
        """Account B enters A's code: the code is spent, and A is asked in private to confirm.
        Nothing is linked yet, and the answer (maybe public) names nobody."""
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
        lc, a = m.LinkCode, m.Account
        code = cmd.normalize_code(req.argument or "")
        found = conn.execute(
            select(lc.id, lc.account_id).where(
                lc.community_id == self.cid,
                lc.code == code,
                lc.used_at.is_(None),
                lc.decision.is_(None),
                lc.expires_at > now,
            )
        ).one_or_none()
        if found is None:
            return "bad_code", BAD_CODE
        owner = int(found.account_id)
        if owner == pk:
            return "same_account", "That code came from this account: send it from your other account."
        spent = conn.execute(
            update(lc)
            .where(lc.id == found.id, lc.used_at.is_(None))
            .values(used_at=now, used_by=pk, confirm_until=now + self._minutes())
        ).rowcount
        if spent != 1:  # another worker took it in the same instant
            return "bad_code", BAD_CODE
        self.audit(conn, owner, "link_asked", "member", now, asked_by=pk, request_id=request_id)
        if owner in self.person_accounts(conn, pk):
            conn.execute(update(lc).where(lc.id == found.id).values(decision="linked", decided_at=now))
            return "already_linked", "Nothing to do: these accounts are already linked."
        me = conn.execute(select(a.handle, a.platform).where(a.id == pk)).one()
        minutes = self.settings.trust.link_code_minutes
        self._tell(
            conn,
            owner,
            f"local:link:{found.id}",
            f"{_named(me.handle, me.platform)} entered your link code. If that is you, answer "
            f"'link yes' here within {minutes:g} minutes: the two accounts become one member, and an "
            "opt-out from either covers both. If it is not you, answer 'link no' and keep your "
            "codes to yourself.",
            now,
        )
        return "code_entered", (
            "Code received. To finish, confirm from the account that asked for it: it has been sent "
            "a private message. Nothing is linked until then."
        )

    def _decide_link(
        self, conn: Connection, pk: int, req: MemberRequest, request_id: int, now: datetime
    ) -> tuple[str, str]:
        """Account A answers 'link yes' or 'link no' about the latest code of hers someone entered."""
        lc, a = m.LinkCode, m.Account
        pending = conn.execute(
            select(lc.id, lc.used_by)
            .where(
                lc.community_id == self.cid,
                lc.account_id == pk,
                lc.used_at.is_not(None),
                lc.decision.is_(None),
                lc.confirm_until > now,
            )
            .order_by(lc.used_at.desc(), lc.id.desc())
            .limit(1)
        ).one_or_none()
        if pending is None:
            return "nothing_to_confirm", (
                "There is no link waiting for you to confirm (or it waited too long). Send 'link' in "
                "private for a new code."
            )
        other = int(pending.used_by)
        if req.kind == cmd.LINK_NO:
            conn.execute(update(lc).where(lc.id == pending.id).values(decision="refused", decided_at=now))
            self.audit(conn, pk, "link_refused", "member", now, asked_by=pk, request_id=request_id)
            return "link_refused", (
                "Refused: nothing was linked. Send 'link' for a new code when you want one."
            )
        conn.execute(update(lc).where(lc.id == pending.id).values(decision="linked", decided_at=now))
        group = sorted(set(self._lock_person(conn, pk)) | set(self._lock_person(conn, other)))
        self._adopt(conn, a.id.in_(group), now)
        conn.execute(update(a).where(a.id.in_(group)).values(person_id=group[0]))
        theirs = conn.execute(select(a.handle, a.platform).where(a.id == other)).one()
        for account in (pk, other):
            self.audit(
                conn,
                account,
                "linked",
                "member",
                now,
                asked_by=pk,
                request_id=request_id,
                detail=f"accounts {','.join(map(str, group))}",
            )
        self._restate(conn, group)
        reply = (
            f"Linked: this account and {_named(theirs.handle, theirs.platform)} are one member now; an "
            "opt-out from either covers both, and each account that opts out opts back in for itself."
        )
        outs = conn.execute(select(a.id).where(a.id.in_(group), a.own_consent == OUT)).scalars().all()
        if outs:
            posts = m.Post.account_id.in_(group)
            self.withdraw(conn, posts, "the member opted out", now)
            self.schedule_undos(conn, posts, "optout", "member", now)
            reply += " One of them had opted out, so neither is shared until that account opts in."
        return "linked", reply
