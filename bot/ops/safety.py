"""The curators' safety operations: the freeze switch, the runtime blocklist, one member's freeze
and the consent changes a curator records for a member (an opt-out sent by email or in person)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.errors import QueueError
from bot.ops import messages
from bot.ops.curators import unknown_curator
from bot.ops.result import Outcome, Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store
from bot.trust.consent import ConsentRegistry
from bot.trust.safety import KINDS, Blocklist, Freezer, find_member, normalize
from bot.trust.veto import set_frozen

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwitchChange:
    frozen: bool  # the switch as it now stands
    changed: bool  # False: it stood that way already


@dataclass(frozen=True)
class BlockChange:
    kind: str
    value: str  # as stored and matched (lower-case, no leading @…)
    changed: bool  # False: it was blocked already (add) or not blocked (remove)
    withdrawn: int = 0  # waiting candidates the block took out of the queue


@dataclass(frozen=True)
class BlockRow:
    kind: str
    value: str
    source: str  # "runtime" (a curator, here or in the chat) or "config" (the file)
    added_by: str | None = None
    added_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MemberChange:
    accounts: tuple[str, ...]  # "platform handle" of each linked account
    undoing: int = 0  # amplifications being taken back
    withdrawn: int = 0  # waiting candidates taken out of the queue
    called_off: int = 0  # take-backs cancelled (unfreeze before they ran)


@dataclass(frozen=True)
class MemberStanding:
    consent: str | None
    frozen: bool
    blocked: bool
    accounts: tuple[dict[str, Any], ...]
    amplifications: dict[str, int]


# -- the freeze switch ------------------------------------------------------------------------------


def set_amplification(
    store: Store, settings: Settings, curator: str, now: datetime, *, frozen: bool
) -> Result[SwitchChange]:
    """Freeze (``frozen=True``) or restart all amplification, on every platform and worker."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    changed = set_frozen(store, curator, now, frozen=frozen)
    log.warning(
        "amplification frozen" if frozen else "amplification unfrozen",
        extra={"community": settings.community.slug, "by": curator, "changed": changed},
    )
    return done(messages.switched(frozen, changed), SwitchChange(frozen, changed))


def freeze(store: Store, settings: Settings, curator: str, now: datetime) -> Result[SwitchChange]:
    return set_amplification(store, settings, curator, now, frozen=True)


def unfreeze(store: Store, settings: Settings, curator: str, now: datetime) -> Result[SwitchChange]:
    return set_amplification(store, settings, curator, now, frozen=False)


# -- the runtime blocklist --------------------------------------------------------------------------


def _normalized(kind: str, value: str) -> Result[Any] | str:
    try:
        text = normalize(kind, value)
    except QueueError as exc:
        return usage(str(exc))
    return text


def block(
    store: Store,
    settings: Settings,
    kind: str,
    value: str,
    curator: str,
    now: datetime,
    *,
    reason: str | None = None,
) -> Result[BlockChange]:
    """Keep an account, a server, a DID or a keyword out of the queue; what waits of theirs leaves it."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    text = _normalized(kind, value)
    if isinstance(text, Result):
        return text
    try:
        new, withdrawn = Blocklist(store, settings).add(kind, text, curator, now, reason)
    except QueueError as exc:  # a pattern where a server name belongs
        return usage(str(exc))
    lines = [messages.blocked(kind, text, new)]
    if withdrawn:
        lines.append(messages.withdrawn(withdrawn))
    return done("\n".join(lines), BlockChange(kind, text, new, withdrawn))


def unblock(
    store: Store, settings: Settings, kind: str, value: str, curator: str, now: datetime
) -> Result[BlockChange]:
    """Lift a runtime block (a block in the config file stays until the file changes): refused when
    there is none."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    text = _normalized(kind, value)
    if isinstance(text, Result):
        return text
    if not Blocklist(store, settings).remove(kind, text, curator, now):
        return Result(Outcome.REFUSED, messages.not_blocked(kind, text), BlockChange(kind, text, False))
    return done(messages.unblocked(kind, text), BlockChange(kind, text, True))


def list_blocks(store: Store, settings: Settings) -> Result[tuple[BlockRow, ...]]:
    rows = [
        BlockRow(e.kind, e.value, "runtime", e.added_by, e.added_at, e.reason)
        for e in Blocklist(store, settings).entries()
    ]
    config = settings.blocklist
    for kind, values in (
        ("account", config.accounts),
        ("domain", config.domains),
        ("keyword", config.keywords),
    ):
        rows += [BlockRow(kind, v, "config") for v in values]
    return done(messages.NOTHING_BLOCKED if not rows else f"{len(rows)} blocked", tuple(rows))


# -- one member -------------------------------------------------------------------------------------


def freeze_member(
    store: Store, settings: Settings, member: str, curator: str, now: datetime
) -> Result[MemberChange]:
    """Stop amplifying one member (every linked account) and take back their last hours' boosts."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    try:
        result = Freezer(store, settings).freeze(member, curator, now)
    except QueueError as exc:  # nobody by that name, or several people
        return refused(str(exc))
    change = MemberChange(tuple(result.accounts), undoing=result.undoing)
    return done(
        messages.member_frozen(result.accounts, result.undoing, settings.trust.freeze_undo_hours), change
    )


def unfreeze_member(
    store: Store, settings: Settings, member: str, curator: str, now: datetime
) -> Result[MemberChange]:
    """Amplify a frozen member again; take-backs the freeze queued that have not run are called off."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    try:
        result = Freezer(store, settings).unfreeze(member, curator, now)
    except QueueError as exc:
        return refused(str(exc))
    change = MemberChange(tuple(result.accounts), called_off=result.called_off)
    return done(messages.member_unfrozen(result.accounts, result.called_off), change)


def opt_out_member(
    store: Store, settings: Settings, member: str, curator: str, now: datetime
) -> Result[MemberChange]:
    """A member asked by other means (an email, in person): record the opt-out as theirs, with the
    curator who took it down; what waits leaves the queue and what went out is taken back."""
    wrong = unknown_curator(settings, curator)
    if wrong is not None:
        return wrong
    registry = ConsentRegistry(store, settings)
    try:
        with store.engine.begin() as conn:
            pk = find_member(conn, store, member)[0]
            summary = registry.opt_out_in(conn, pk, f"curator:{curator}", curator, now)
            names = _names(conn, registry.person_accounts(conn, pk))
    except QueueError as exc:
        return refused(str(exc))
    change = MemberChange(names, undoing=summary.undoing, withdrawn=summary.withdrawn)
    return done(messages.opted_out(summary.accounts, summary.withdrawn, summary.undoing), change)


def member_standing(store: Store, settings: Settings, member: str) -> Result[MemberStanding]:
    """A member's consent, freeze and block, linked accounts, and what was amplified of theirs."""
    registry = ConsentRegistry(store, settings)
    account = m.Account
    try:
        with store.engine.connect() as conn:
            pk = find_member(conn, store, member)[0]
            standing = registry.consent_of(conn, pk)
            pks = registry.person_accounts(conn, pk)
            accounts = conn.execute(
                select(
                    account.platform,
                    account.handle,
                    account.consent,
                    account.consent_source,
                    account.frozen_by,
                ).where(account.id.in_(pks))
            ).all()
            amplified = conn.execute(
                select(m.Amplification.state, func.count())
                .join(m.Candidate, m.Candidate.id == m.Amplification.candidate_id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .where(m.Post.account_id.in_(pks))
                .group_by(m.Amplification.state)
            ).all()
    except QueueError as exc:
        return refused(str(exc))
    data = MemberStanding(
        consent=standing["consent"],
        frozen=bool(standing["frozen"]),
        blocked=bool(standing["blocked"]),
        accounts=tuple(dict(r._mapping) for r in accounts),
        amplifications={str(s): int(n) for s, n in amplified},
    )
    return done(messages.member_standing(data.consent, data.frozen, data.blocked), data)


def _names(conn: Any, pks: list[int]) -> tuple[str, ...]:
    a = m.Account
    return tuple(f"{p} {h}" for p, h in conn.execute(select(a.platform, a.handle).where(a.id.in_(pks))))


__all__ = [
    "KINDS",
    "BlockChange",
    "BlockRow",
    "MemberChange",
    "MemberStanding",
    "SwitchChange",
    "block",
    "freeze",
    "freeze_member",
    "list_blocks",
    "member_standing",
    "opt_out_member",
    "set_amplification",
    "unblock",
    "unfreeze",
    "unfreeze_member",
]
