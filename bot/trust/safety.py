"""Curators' safety tools: the runtime blocklist (merged with the config's by the pipeline) and
the per-member freeze, which stops amplifying one member and takes back their recent boosts.

What a curator types is matched literally, here in SQL as in the pipeline's filters: a ``%``, ``_``
or ``\\`` in a blocked domain or keyword is that character, never a wildcard (every LIKE built
from it is escaped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, false, func, or_, select, update
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.domain import Author, Platform, Post
from bot.errors import QueueError
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust import safety_log
from bot.trust.consent import ConsentRegistry

log = logging.getLogger(__name__)

KINDS = ("account", "domain", "did", "keyword")
# Characters people use as wildcards elsewhere; no server name has them, so a new domain block
# with one is a pattern we will not guess at, refused with a word instead of matching nothing
# (one stored before can still be removed: removing matches it literally).
_WILDCARDS = frozenset("*?%")


@dataclass(frozen=True)
class BlockEntry:
    kind: str
    value: str
    reason: str | None
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class RuntimeBlocks:
    accounts: tuple[str, ...] = ()  # handles and platform account ids (Bluesky DIDs among them)
    domains: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class BlockMatcher:
    """The config's blocklist plus the curators' runtime blocks, matched against an author, her
    server and a post's words: the pipeline filters with it, the veto looks again with it."""

    def __init__(self, settings: Settings) -> None:
        block = settings.blocklist
        self._config = (
            frozenset(a.lstrip("@").casefold() for a in block.accounts),
            frozenset(d.lstrip("@").casefold() for d in block.domains),
            tuple(k.casefold() for k in block.keywords),
        )
        self.accounts, self.domains, self.words = self._config

    def use_runtime_blocks(self, runtime: RuntimeBlocks) -> None:
        """The config's blocklist plus what curators blocked at runtime (``python -m bot block``)."""
        accounts, domains, words = self._config
        self.accounts = accounts | {a.lstrip("@").casefold() for a in runtime.accounts}
        self.domains = domains | {d.casefold() for d in runtime.domains}
        self.words = words + tuple(k for k in runtime.keywords if k not in words)

    def author_blocked(self, author: Author) -> bool:
        """The account or its server is blocked."""
        handle = author.handle.lstrip("@").casefold()
        if handle in self.accounts or author.account_id.casefold() in self.accounts:
            return True
        domain = handle.rpartition("@")[2] if "@" in handle else ""
        return bool(domain) and domain in self.domains

    def is_blocked(self, post: Post) -> bool:
        """The author, her server or a word of the post is blocked."""
        if self.author_blocked(post.author):
            return True
        text = post.text.casefold()
        return any(word in text for word in self.words)


def normalize(kind: str, value: str) -> str:
    """The form a block is stored and matched in; raises QueueError for what cannot be one."""
    if kind not in KINDS:
        raise QueueError(f"cannot block a {kind!r}: choose one of {', '.join(KINDS)}")
    text = " ".join(value.split())
    if kind == "did":
        if not text.startswith("did:") or " " in text:
            raise QueueError(f"{value!r} is not a DID (they look like did:plc:abc123…)")
        return text
    if kind == "domain":
        text = text.removeprefix("https://").removeprefix("http://").strip("/").lstrip("@").casefold()
        if not text or "." not in text or " " in text or "/" in text:
            raise QueueError(f"{value!r} is not a server name (like mastodon.example)")
        return text
    if kind == "account":
        text = text.lstrip("@").casefold()
        if not text or " " in text:
            raise QueueError(f"{value!r} is not an account (user@server, handle.bsky.social, @tguser)")
        return text
    if not text:
        raise QueueError("an empty keyword would block everything")
    return text.casefold()


class Blocklist:
    def __init__(self, store: Store, settings: Settings, consent: ConsentRegistry | None = None) -> None:
        self.store = store
        self.settings = settings
        self.consent = consent or ConsentRegistry(store, settings)

    @property
    def cid(self) -> int:
        return self.store.community_id

    def entries(self) -> list[BlockEntry]:
        b = m.Block
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(b.kind, b.value, b.reason, b.added_by, b.added_at)
                .where(b.community_id == self.cid, b.removed_at.is_(None))
                .order_by(b.kind, b.value)
            )
            return [BlockEntry(*r) for r in rows]

    def runtime(self) -> RuntimeBlocks:
        """What the curators blocked at runtime, in the shape the pipeline's filters merge."""
        entries = self.entries()
        return RuntimeBlocks(
            accounts=tuple(e.value for e in entries if e.kind in ("account", "did")),
            domains=tuple(e.value for e in entries if e.kind == "domain"),
            keywords=tuple(e.value for e in entries if e.kind == "keyword"),
        )

    def add(
        self, kind: str, value: str, by: str, now: datetime, reason: str | None = None
    ) -> tuple[bool, int]:
        """Block ``value``; returns (whether it was new, how many waiting candidates left the queue)."""
        value = normalize(kind, value)
        if kind == "domain" and any(c in value for c in _WILDCARDS):
            raise QueueError(
                f"{value!r} is not a server name: patterns are not supported, block each server by name"
            )
        b = m.table(m.Block)
        with self.store.engine.begin() as conn:
            changed = (
                conn.execute(
                    dialect_insert(conn, b)
                    .values(
                        community_id=self.cid,
                        kind=kind,
                        value=value,
                        reason=reason,
                        added_by=by,
                        added_at=now,
                    )
                    .on_conflict_do_update(
                        index_elements=["community_id", "kind", "value"],
                        set_={
                            "removed_at": None,
                            "removed_by": None,
                            "added_by": by,
                            "added_at": now,
                            "reason": reason,
                        },
                        where=b.c.removed_at.is_not(None),
                    )
                    .returning(
                        b.c.id
                    )  # a row back: new or revived (rowcount is -1 with RETURNING on psycopg)
                ).scalar_one_or_none()
                is not None
            )
            if changed:
                subject = f"{kind}:{value}"
                safety_log.note(conn, self.cid, "block", "block", by, now, subject=subject, detail=reason)
            self._mark_accounts(conn, kind, value, True)
            withdrawn = self.consent.withdraw(
                conn, self._posts_matching(kind, value), f"blocked by {by}", now
            )
        log.warning(
            "block added" if changed else "block already in place",
            extra={"community": self.settings.community.slug, "kind": kind, "by": by, "withdrawn": withdrawn},
        )
        return bool(changed), withdrawn

    def remove(self, kind: str, value: str, by: str, now: datetime) -> bool:
        value = normalize(kind, value)
        b = m.Block
        with self.store.engine.begin() as conn:
            changed = conn.execute(
                update(b)
                .where(b.community_id == self.cid, b.kind == kind, b.value == value, b.removed_at.is_(None))
                .values(removed_at=now, removed_by=by)
            ).rowcount
            if changed:
                safety_log.note(conn, self.cid, "block", "unblock", by, now, subject=f"{kind}:{value}")
                self._mark_accounts(conn, kind, value, False)
                for other in conn.execute(
                    select(b.kind, b.value).where(b.community_id == self.cid, b.removed_at.is_(None))
                ):
                    self._mark_accounts(conn, other.kind, other.value, True)  # still blocked otherwise
        log.warning(
            "block removed" if changed else "no such block to remove",
            extra={"community": self.settings.community.slug, "kind": kind, "by": by},
        )
        return bool(changed)

    def _accounts_matching(self, kind: str, value: str) -> ColumnElement[bool]:
        a = m.Account
        handle = func.lower(func.ltrim(a.handle, "@"))
        if kind == "account":
            return or_(handle == value, func.lower(a.platform_account_id) == value)
        if kind == "did":
            return a.platform_account_id == value
        if kind == "domain":
            return handle.endswith(f"@{value}", autoescape=True)  # literally: % and _ are themselves
        return false()

    def _posts_matching(self, kind: str, value: str) -> ColumnElement[bool]:
        if kind == "keyword":
            return func.lower(m.Post.text).contains(value, autoescape=True)
        a = m.Account
        accounts = select(a.id).where(a.community_id == self.cid, self._accounts_matching(kind, value))
        return m.Post.account_id.in_(accounts)

    def _mark_accounts(self, conn: Connection, kind: str, value: str, blocked: bool) -> None:
        if kind == "keyword":
            return
        a = m.Account
        conn.execute(
            update(a)
            .where(a.community_id == self.cid, self._accounts_matching(kind, value))
            .values(blocked=blocked)
        )


# -- per-member freeze -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FreezeResult:
    accounts: list[str]  # "platform handle" of every account of the person
    undoing: int = 0
    called_off: int = 0  # take-backs the freeze queued that unfreezing cancelled before they ran


def find_member(conn: Connection, store: Store, ref: str) -> list[int]:
    """Accounts that ``ref`` names: ``user@server``, ``handle.bsky.social``, ``@tguser``, a
    platform account id, optionally prefixed ``platform:``. Raises QueueError when none or
    when several people match (say which platform then)."""
    a = m.Account
    platform, sep, rest = ref.partition(":")
    where = [a.community_id == store.community_id]
    if sep and platform in {p.value for p in Platform} and rest:
        where.append(a.platform == platform)
        ref = rest
    wanted = ref.strip().lstrip("@").casefold()
    if not wanted:
        raise QueueError("name a member: user@server, handle.bsky.social, @tguser or an account id")
    cols = (a.id, a.platform, a.handle, func.coalesce(a.person_id, a.id).label("person"))
    handle = func.lower(func.ltrim(a.handle, "@"))
    rows = conn.execute(
        select(*cols).where(*where, or_(handle == wanted, func.lower(a.platform_account_id) == wanted))
    ).all()
    if not rows and "@" not in wanted:  # "maria" for maria@server when she is the only one
        rows = conn.execute(
            select(*cols).where(*where, handle.startswith(f"{wanted}@", autoescape=True))
        ).all()
    if not rows:
        raise QueueError(f"no member {ref!r} has been seen by the bot yet")
    if len({r.person for r in rows}) > 1:
        where_seen = ", ".join(f"{r.platform}:{r.handle}" for r in rows)
        raise QueueError(f"{ref!r} matches several members ({where_seen}): say which, e.g. mastodon:{ref}")
    return [int(r.id) for r in rows]


class Freezer:
    def __init__(self, store: Store, settings: Settings, consent: ConsentRegistry | None = None) -> None:
        self.store = store
        self.settings = settings
        self.consent = consent or ConsentRegistry(store, settings)

    def freeze(self, ref: str, by: str, now: datetime) -> FreezeResult:
        """Stop amplifying the member ``ref`` names (all their linked accounts) and take back
        what was amplified of theirs in the last ``trust.freeze_undo_hours``."""
        a = m.Account
        with self.store.engine.begin() as conn:
            pks = self.consent.person_accounts(conn, find_member(conn, self.store, ref)[0])
            conn.execute(update(a).where(a.id.in_(pks)).values(frozen_at=now, frozen_by=by))
            safety_log.note(conn, self.store.community_id, "member", "freeze", by, now, account_id=pks[0])
            since = now - timedelta(hours=self.settings.trust.freeze_undo_hours)
            undoing = self.consent.schedule_undos(
                conn, m.Post.account_id.in_(pks), "frozen", by, now, since=since
            )
            names = [f"{p} {h}" for p, h in conn.execute(select(a.platform, a.handle).where(a.id.in_(pks)))]
        log.warning(
            "member frozen",
            extra={
                "community": self.settings.community.slug,
                "by": by,
                "accounts": len(pks),
                "undos": undoing,
            },
        )
        return FreezeResult(names, undoing)

    def unfreeze(self, ref: str, by: str, now: datetime) -> FreezeResult:
        a = m.Account
        with self.store.engine.begin() as conn:
            pks = self.consent.person_accounts(conn, find_member(conn, self.store, ref)[0])
            conn.execute(update(a).where(a.id.in_(pks)).values(frozen_at=None, frozen_by=None))
            safety_log.note(conn, self.store.community_id, "member", "unfreeze", by, now, account_id=pks[0])
            names = [f"{p} {h}" for p, h in conn.execute(select(a.platform, a.handle).where(a.id.in_(pks)))]
            called_off = self._call_off_undos(conn, pks, now)
        log.warning(
            "member unfrozen",
            extra={"community": self.settings.community.slug, "by": by, "called_off": called_off},
        )
        return FreezeResult(names, called_off=called_off)

    def _call_off_undos(self, conn: Connection, pks: list[int], now: datetime) -> int:
        """The freeze's take-backs no worker has started: the freeze was lifted before they ran,
        so the boosts stay. One a worker holds (its lease) goes on: it may be at the platform."""
        u, x = m.Undo, m.Amplification
        amps = (
            select(x.id)
            .join(m.Candidate, m.Candidate.id == x.candidate_id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(m.Post.account_id.in_(pks))
        )
        res = conn.execute(
            delete(u).where(
                u.community_id == self.store.community_id,
                u.reason == "frozen",
                u.state == "pending",
                u.attempts == 0,
                or_(u.lease_until.is_(None), u.lease_until < now),
                u.amplification_id.in_(amps),
            )
        )
        return int(res.rowcount or 0)
