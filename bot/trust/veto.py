"""The last look: one veto — consent, blocks, a member's freeze and the curators' /freeze — that
every way the central account speaks passes right before its platform call.

Who asks: the amplifier (boosts, reposts, channel copies, spotlights, and a member's
opportunity post joining the digest's list), the series runner and publisher (the digest's
opportunities from members, interviews, the numbers post), the reach refresh (the members
lists) and the trust service (replies to members — the consent answers themselves excepted).

A :class:`Verdict` either stops the work for good (``until`` None) or holds it until ``until``.
A member's standing is read through :meth:`ConsentRegistry.consent_of` (a person: every linked
account), so whatever the registry counts as consent counts here too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.domain import Author, Platform, Post
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store
from bot.trust import member_commands as cmd
from bot.trust import safety_log
from bot.trust.consent import ConsentRegistry
from bot.trust.discovery import OPTED_OUT, ProfileRule, objection
from bot.trust.safety import Blocklist, BlockMatcher
from bot.trust.withdrawal import OPTOUT_NOTE, interview_account, withdraw_interviews

log = logging.getLogger(__name__)

FROZEN = "frozen"  # the switch curators flip with /freeze
MEMBER_HOLD = timedelta(minutes=15)  # a frozen member's work is looked at again then
FREEZE_HOLD = timedelta(minutes=5)  # work held by /freeze is looked at again then

# Answers a member is owed whatever her standing: what she asked about her own consent.
# "link_ask" is the question to a code's owner whether to link (bot.trust.consent.LINK_ASK).
CONSENT_ANSWERS = frozenset({*cmd.ALL_KINDS, "link_ask", OPTOUT_NOTE})


@dataclass(frozen=True)
class Verdict:
    """Why something must not go out now: stopped for good, or held until ``until``."""

    reason: str
    until: datetime | None = None


def is_frozen(store: Store, conn: Connection | None = None) -> bool:
    """Whether the curators froze the community's account (``/freeze``): no amplification, no
    series. Read from the database, so every worker and the CLI see a freeze at once (``conn``:
    read there, in its transaction)."""
    with contextlib.nullcontext(conn) if conn else store.engine.connect() as conn:
        return bool(
            conn.execute(
                select(m.Switch.enabled).where(
                    m.Switch.community_id == store.community_id, m.Switch.name == FROZEN
                )
            ).scalar()
        )


@dataclass(frozen=True)
class FreezeSwitch:
    """The freeze switch as it stands: on or off, and who flipped it when."""

    frozen: bool
    changed_by: str | None = None
    changed_at: datetime | None = None


def freeze_switch(store: Store) -> FreezeSwitch:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(m.Switch.enabled, m.Switch.changed_by, m.Switch.changed_at).where(
                m.Switch.community_id == store.community_id, m.Switch.name == FROZEN
            )
        ).one_or_none()
    return FreezeSwitch(bool(row.enabled), row.changed_by, row.changed_at) if row else FreezeSwitch(False)


def set_frozen(store: Store, by: str, now: datetime, *, frozen: bool) -> bool:
    """Flip the freeze switch (``frozen=False``: restart); True when that changed anything."""
    s = m.Switch
    where = (s.community_id == store.community_id, s.name == FROZEN)
    values = {"enabled": frozen, "changed_by": by, "changed_at": now}
    for _ in range(2):  # two first flips at once: the second finds the row the first wrote
        try:
            with store.engine.begin() as conn:
                before = conn.execute(select(s.enabled).where(*where)).one_or_none()
                if before is None:
                    conn.execute(
                        m.table(s).insert().values(community_id=store.community_id, name=FROZEN, **values)
                    )
                else:
                    conn.execute(update(s).where(*where).values(**values))
                changed = bool(before and before.enabled) != frozen
                if changed:
                    action = "freeze" if frozen else "unfreeze"
                    safety_log.note(conn, store.community_id, "switch", action, by, now)
            return changed
        except IntegrityError:
            continue
    raise RuntimeError("the freeze switch could not be written")  # pragma: no cover


def profile_refusal(fresh: Author, rule: ProfileRule) -> str | None:
    """Why a member's profile, as just read, opts her out (an opt-out marker, ``bot.trust.discovery``'s
    rule), or None."""
    found = objection(rule, bio=fresh.bio, withheld=fresh.withheld)
    return found.reason if found is not None and found.kind == OPTED_OUT else None


def reads_profiles(adapter: PlatformAdapter) -> bool:
    """Whether the adapter can read an author's profile at all: for one that can, no profile is
    an unreadable one (never a yes); one that cannot is not asked."""
    return type(adapter).fetch_author is not PlatformAdapter.fetch_author


class LastLook:
    """The veto. Cheap reads from the database; call it right before the platform call."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        consent: ConsentRegistry | None = None,
        blocklist: Blocklist | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.consent = consent or ConsentRegistry(store, settings)
        self.blocklist = blocklist or Blocklist(store, settings, self.consent)
        self.blocks = BlockMatcher(settings)

    @property
    def cid(self) -> int:
        return self.store.community_id

    # -- the parts ------------------------------------------------------------------------------

    def freeze(self, now: datetime) -> Verdict | None:
        if is_frozen(self.store):
            return Verdict("the curators froze the account (/freeze)", until=now + FREEZE_HOLD)
        return None

    def standing(
        self, conn: Connection, account_pk: int, now: datetime, *, amplifying: bool = True
    ) -> Verdict | None:
        """The person's consent, block and freeze. ``amplifying``: whether the account would
        show her work to its audience (in an opt-in community that needs her yes)."""
        standing = self.consent.consent_of(conn, account_pk)
        if standing["consent"] == "out":
            return Verdict("the member opted out")
        if amplifying and self.settings.community.consent == "opt-in" and standing["consent"] != "in":
            return Verdict("the member has not opted in")
        if standing["blocked"]:
            return Verdict("the member is blocked")
        if standing["frozen"]:
            return Verdict("the curators froze this member", until=now + MEMBER_HOLD)
        return None

    def _runtime_blocks(self) -> BlockMatcher:
        self.blocks.use_runtime_blocks(self.blocklist.runtime())
        return self.blocks

    def author_blocked(self, author: Author, blocks: BlockMatcher | None = None) -> bool:
        """The account or its server is on the blocklist (the config's or the curators'). Pass
        ``blocks`` (from :meth:`_runtime_blocks`) when a connection is open: SQLite allows one
        writer, and every transaction here begins as one."""
        return (blocks or self._runtime_blocks()).author_blocked(author)

    # -- the paths ------------------------------------------------------------------------------

    def amplification(self, candidate_id: int, post: Post, now: datetime) -> Verdict | None:
        """A boost, repost, channel copy or spotlight of ``post`` (or its listing as an opportunity)."""
        frozen = self.freeze(now)
        if frozen is not None:
            return frozen
        return self.candidate(candidate_id, post, now)

    def candidate(self, candidate_id: int, post: Post, now: datetime) -> Verdict | None:
        """The member behind a candidate, the post itself and the blocklist; no global freeze."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(m.Post.account_id, m.Post.deleted, m.Post.quoted_account_id)
                .join(m.Candidate, m.Candidate.post_id == m.Post.id)
                .where(m.Candidate.id == candidate_id)
            ).one()
            verdict = self.standing(conn, int(row.account_id), now)
            quoted = (  # a quote amplifies the post it carries: its author's consent counts too
                self.consent.consent_of(conn, int(row.quoted_account_id))
                if row.quoted_account_id is not None
                else None
            )
        if verdict is not None and verdict.until is None:
            return verdict
        if quoted is not None and (quoted["consent"] == "out" or quoted["blocked"]):
            return Verdict("the author of the quoted post opted out or is blocked")
        if row.deleted:
            return Verdict("the author deleted the post")
        if self._runtime_blocks().is_blocked(post):
            return Verdict("the author, their server or a word in the post is blocked")
        return verdict

    def withheld_opportunities(self, opportunity_ids: Sequence[int], now: datetime) -> dict[int, str]:
        """Of the listed opportunities, those taken from a member's post that must not go out in
        a digest now (she opted out, is blocked or frozen, deleted the post), with the reason."""
        if not opportunity_ids:
            return {}
        o, c, p = m.Opportunity, m.Candidate, m.Post
        blocks = self._runtime_blocks()
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(o.id, p.account_id, p.deleted, m.Account.handle, m.Account.platform_account_id)
                .join(c, c.id == o.candidate_id)
                .join(p, p.id == c.post_id)
                .join(m.Account, m.Account.id == p.account_id)
                .where(o.community_id == self.cid, o.id.in_(list(opportunity_ids)))
            ).all()
            out: dict[int, str] = {}
            for row in rows:
                verdict = self.standing(conn, int(row.account_id), now)
                if verdict is not None:
                    out[int(row.id)] = verdict.reason
                elif row.deleted:
                    out[int(row.id)] = "the author deleted the post"
                elif self.author_blocked(Author(row.platform_account_id, row.handle), blocks):
                    out[int(row.id)] = "the member is blocked"
        return out

    def interview_account(
        self, conn: Connection, platform: str | None, member_ref: str | None, handle: str
    ) -> int | None:
        """The account an interview belongs to (:func:`bot.trust.withdrawal.interview_account`)."""
        return interview_account(conn, self.cid, platform, member_ref, handle)

    def interview(self, interview_id: int, now: datetime) -> Verdict | None:
        """An interview about to be published: the freeze, then its member's standing (the
        interview is her own yes: no separate opt-in is asked)."""
        frozen = self.freeze(now)
        if frozen is not None:
            return frozen
        i = m.Interview
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(i.platform, i.member_ref, i.handle).where(
                    i.id == interview_id, i.community_id == self.cid
                )
            ).one_or_none()
            if row is None:
                return Verdict(f"no interview #{interview_id}")
            pk = self.interview_account(conn, row.platform, row.member_ref, row.handle)
            return None if pk is None else self.standing(conn, pk, now, amplifying=False)

    def publication(self, series: str, slot: datetime, now: datetime) -> Verdict | None:
        """A part of a series post (digest, interview, the numbers) about to go out."""
        i = m.Interview
        with self.store.engine.connect() as conn:
            interview_id = conn.execute(
                select(i.id).where(i.community_id == self.cid, i.series == series, i.slot == slot)
            ).scalar()
        if interview_id is not None:
            return self.interview(int(interview_id), now)
        return self.freeze(now)

    def reply(self, kind: str, account_pk: int, now: datetime) -> Verdict | None:
        """A private answer to a member. Her consent answers always go; anything else waits out
        a freeze and never reaches someone who opted out or is blocked."""
        if kind in CONSENT_ANSWERS:
            return None
        frozen = self.freeze(now)
        if frozen is not None:
            return frozen
        with self.store.engine.connect() as conn:
            verdict = self.standing(conn, account_pk, now, amplifying=False)
            if verdict is not None:
                return verdict
            row = conn.execute(
                select(m.Account.platform_account_id, m.Account.handle).where(m.Account.id == account_pk)
            ).one()
        if self.author_blocked(Author(row.platform_account_id, row.handle)):
            return Verdict("the member is blocked")
        return None

    def may_answer(self, platform: Platform, account_id: str, now: datetime) -> bool:
        """Whether an adapter may answer this account on its own right now (a thank-you under a
        nomination, the bot's introduction): as :meth:`reply`, an account never seen may be."""
        with self.store.engine.connect() as conn:
            pk = conn.execute(
                select(m.Account.id).where(
                    m.Account.community_id == self.cid,
                    m.Account.platform == platform.value,
                    m.Account.platform_account_id == account_id,
                )
            ).scalar()
        if pk is None:
            return self.freeze(now) is None
        return self.reply("answer", int(pk), now) is None

    def listable(self, platform: Platform, members: Sequence[Author], now: datetime) -> list[Author]:
        """Of the members a list would show, those the veto lets through (a frozen member is
        left off until the freeze ends; a linked account that opted out anywhere is out)."""
        a = m.Account
        out = []
        blocks = self._runtime_blocks()
        with self.store.engine.connect() as conn:
            for member in members:
                pk = conn.execute(
                    select(a.id).where(
                        a.community_id == self.cid,
                        a.platform == platform.value,
                        a.platform_account_id == member.account_id,
                    )
                ).scalar()
                if pk is None or self.standing(conn, int(pk), now) is not None:
                    continue
                if not self.author_blocked(member, blocks):
                    out.append(member)
        return out

    # -- what opting out leads to beyond the queue -------------------------------------------------

    def sweep(self, now: datetime) -> int:
        """Interviews not yet published of members who opted out or are blocked are withdrawn,
        each with a private note to her (the safety net behind the consent registry's opt-out)."""

        def out_or_blocked(conn: Connection, pk: int) -> bool:
            standing = self.consent.consent_of(conn, pk)
            return standing["consent"] == "out" or bool(standing["blocked"])

        with self.store.engine.begin() as conn:
            return withdraw_interviews(conn, self.cid, self.settings.community.name, out_or_blocked, now)
