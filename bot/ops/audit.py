"""The audit log: every curator decision, consent change, block and freeze, champion named, and
opportunity and interview step, who and when — read from the append-only rows each step leaves,
filtered and paged, never changed.

Where each kind is recorded: decisions in ``decisions``; consent changes and link steps in
``consent_events``; blocks and freezes (the switch and one member) in ``safety_events``;
champions in ``conference_champions`` (named, removed); opportunities on their row (added,
removed); interviews on their row (invited, approved, confirmed, published, withdrawn); original
posts in ``original_decisions`` (write, edit, approve, reject, schedule, cancel, publish)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.errors import QueueError
from bot.ops.report import DAY_WORDS, moments
from bot.ops.result import Result, done, refused, usage
from bot.store import models as m
from bot.store.store import Store
from bot.trust.consent import ConsentRegistry
from bot.trust.safety import find_member

KINDS = ("decision", "consent", "block", "freeze", "champion", "opportunity", "interview", "original")
SUBJECT = 60  # an original post is named by its first words, at most this many characters
MAX_LIMIT = 500


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    kind: str  # one of KINDS
    action: str  # approve, reject, optout, freeze, unblock, named, added, withdrawn…
    actor: str  # a curator's name, "member", "curator:NAME", "system"…
    subject: str  # what it was about, in words: "#12 by maria@example.org", "account:spam.example"
    detail: str | None = None  # a reason or note, as written
    member: str | None = None  # "platform handle" of the member concerned, when one is
    ref: str = ""  # "candidate:12", "opportunity:3"… for a face to link to


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    offset: int
    limit: int
    more: bool  # entries beyond this page match too
    kinds: tuple[str, ...]
    actor: str | None
    member: str | None
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class _Filter:
    cid: int
    since: datetime | None
    until: datetime | None
    actor: str | None
    accounts: list[int] | None  # the member's accounts; None: anyone
    take: int  # rows each source gives at most (offset + limit + 1)

    def when(self, column: Any) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [column.is_not(None)]
        if self.since is not None:
            out.append(column >= self.since)
        if self.until is not None:
            out.append(column < self.until)
        return out

    def by(self, column: Any) -> list[ColumnElement[bool]]:
        if self.actor is None:
            return []
        name = self.actor.casefold()
        return [or_(func.lower(column) == name, func.lower(column) == f"curator:{name}")]

    def of(self, column: Any) -> list[ColumnElement[bool]]:
        return [] if self.accounts is None else [column.in_(self.accounts)]


def _member(platform: str | None, handle: str | None) -> str | None:
    return f"{platform} {handle}" if platform and handle else None


def _rows(conn: Connection, q: Select[*tuple[Any, ...]], at: Any, f: _Filter) -> Sequence[Any]:
    return conn.execute(q.order_by(at.desc()).limit(f.take)).all()


# -- one function per source: the newest ``f.take`` entries that pass the filter -------------------


def _decisions(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    d, c, p, a = m.Decision, m.Candidate, m.Post, m.Account
    q = (
        select(d.at, d.action, d.curator, d.reason, d.candidate_id, a.platform, a.handle)
        .join(c, c.id == d.candidate_id)
        .join(p, p.id == c.post_id)
        .join(a, a.id == p.account_id)
        .where(d.community_id == f.cid, *f.when(d.at), *f.by(d.curator), *f.of(p.account_id))
    )
    for r in _rows(conn, q, d.at, f):
        yield AuditEntry(
            r.at,
            "decision",
            r.action,
            r.curator,
            f"#{r.candidate_id} by {r.handle}",
            r.reason,
            _member(r.platform, r.handle),
            f"candidate:{r.candidate_id}",
        )


def _consent(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    e, a = m.ConsentEvent, m.Account
    q = (
        select(e.at, e.action, e.by, e.detail, e.account_id, a.platform, a.handle)
        .join(a, a.id == e.account_id)
        .where(e.community_id == f.cid, *f.when(e.at), *f.by(e.by), *f.of(e.account_id))
    )
    for r in _rows(conn, q, e.at, f):
        who = _member(r.platform, r.handle)
        yield AuditEntry(r.at, "consent", r.action, r.by, who or "", r.detail, who, f"account:{r.account_id}")


def _safety(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    s, a = m.SafetyEvent, m.Account
    q = (
        select(s.at, s.kind, s.action, s.by, s.subject, s.detail, s.account_id, a.platform, a.handle)
        .outerjoin(a, a.id == s.account_id)
        .where(s.community_id == f.cid, *f.when(s.at), *f.by(s.by), *f.of(s.account_id))
    )
    for r in _rows(conn, q, s.at, f):
        who = _member(r.platform, r.handle)
        if r.kind == "block":
            yield AuditEntry(r.at, "block", r.action, r.by, r.subject, r.detail, None, r.subject)
        elif r.kind == "member":
            ref = f"account:{r.account_id}"
            yield AuditEntry(r.at, "freeze", r.action, r.by, who or "", r.detail, who, ref)
        else:  # the switch: all amplification
            yield AuditEntry(r.at, "freeze", r.action, r.by, "all amplification", r.detail, None, "switch")


def _champions(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    ch, conf, a = m.ConferenceChampion, m.Conference, m.Account
    base = (
        select(ch.named_at, ch.named_by, ch.removed_at, ch.removed_by, ch.account_id, conf.name)
        .add_columns(a.platform, a.handle)
        .join(conf, conf.id == ch.conference_id)
        .join(a, a.id == ch.account_id)
        .where(ch.community_id == f.cid, *f.of(ch.account_id))
    )
    for action, at, by in (("named", ch.named_at, ch.named_by), ("removed", ch.removed_at, ch.removed_by)):
        for r in _rows(conn, base.where(*f.when(at), *f.by(by)), at, f):
            who = _member(r.platform, r.handle)
            when, actor = (r.named_at, r.named_by) if action == "named" else (r.removed_at, r.removed_by)
            yield AuditEntry(
                when, "champion", action, actor, f"{who} · {r.name}", None, who, f"account:{r.account_id}"
            )


def _opportunities(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    if f.accounts is not None:
        return
    o = m.Opportunity
    base = select(o.id, o.title, o.created_at, o.submitted_by, o.source, o.removed_at, o.removed_by)
    base = base.where(o.community_id == f.cid)
    steps = (("added", o.created_at, o.submitted_by), ("removed", o.removed_at, o.removed_by))
    for action, at, by in steps:
        for r in _rows(conn, base.where(*f.when(at), *f.by(by)), at, f):
            added = action == "added"
            when, actor = (r.created_at, r.submitted_by) if added else (r.removed_at, r.removed_by)
            detail = f"source: {r.source}" if action == "added" else None
            yield AuditEntry(
                when, "opportunity", action, actor, f"#{r.id} {r.title}", detail, None, f"opportunity:{r.id}"
            )


_INTERVIEW_STEPS: tuple[tuple[str, str, str | None], ...] = (
    ("invited", "invited_at", "invited_by"),
    ("approved", "approved_at", "approved_by"),
    ("confirmed", "confirmed_at", "confirmed_via"),
    ("published", "published_at", None),
    ("withdrawn", "withdrawn_at", "withdrawn_by"),
)


def _interviews(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    if f.accounts is not None:
        return
    i = m.Interview
    base = select(i).where(i.community_id == f.cid)
    for action, at_name, by_name in _INTERVIEW_STEPS:
        at = getattr(i, at_name)
        by = getattr(i, by_name) if by_name else None
        if by is None and f.actor is not None and f.actor.casefold() != "system":
            continue
        q = base.where(*f.when(at), *(f.by(by) if by is not None else []))
        for r in _rows(conn, q, at, f):
            actor = getattr(r, by_name) if by_name else "system"
            who = f"{r.platform} {r.handle}" if r.platform and r.handle else (r.handle or None)
            yield AuditEntry(
                getattr(r, at_name),
                "interview",
                action,
                actor or "member",
                f"#{r.id} {r.name}",
                r.note if action == "withdrawn" else None,
                who,
                f"interview:{r.id}",
            )


def _originals(conn: Connection, f: _Filter) -> Iterable[AuditEntry]:
    if f.accounts is not None:  # the central account's own posts are about no member
        return
    d, o = m.OriginalDecision, m.OriginalPost
    q = (
        select(d.at, d.action, d.curator, d.reason, d.original_id, o.text)
        .join(o, o.id == d.original_id)
        .where(d.community_id == f.cid, *f.when(d.at), *f.by(d.curator))
    )
    for r in _rows(conn, q, d.at, f):
        first = next((line.strip() for line in r.text.splitlines() if line.strip()), "")
        first = first if len(first) <= SUBJECT else first[: SUBJECT - 1] + "…"
        yield AuditEntry(
            r.at,
            "original",
            r.action,
            r.curator,
            f"#{r.original_id} {first}",
            r.reason,
            None,
            f"original:{r.original_id}",
        )


_SOURCES: dict[str, Callable[[Connection, _Filter], Iterable[AuditEntry]]] = {
    "decision": _decisions,
    "consent": _consent,
    "block": _safety,
    "freeze": _safety,
    "champion": _champions,
    "opportunity": _opportunities,
    "interview": _interviews,
    "original": _originals,
}


def _line(e: AuditEntry) -> str:
    detail = f" — {e.detail}" if e.detail else ""
    return f"{e.at:%Y-%m-%d %H:%M} UTC  {e.kind:11} {e.action:10} {e.actor:16} {e.subject}{detail}"


def log(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    kinds: Sequence[str] = (),
    actor: str | None = None,
    member: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Result[AuditPage]:
    """The audit entries that match, newest first: of the ``kinds`` given (all when none), by
    ``actor`` (a curator's name also finds "curator:NAME"), about ``member`` (a handle as
    `find_member` reads it: every linked account), between the date words ``since`` and
    ``until``; ``limit`` of them from ``offset``."""
    wrong = [k for k in kinds if k not in KINDS]
    if wrong:
        return usage(f"no audit kind {wrong[0]!r}: choose from {', '.join(KINDS)}")
    if not 1 <= limit <= MAX_LIMIT:
        return usage(f"--limit: give 1 to {MAX_LIMIT}")
    if offset < 0:
        return usage("the page cannot start before the first entry")
    try:
        start, end = moments(since, until, now)
    except ValueError as exc:
        return usage(f"{exc} ({DAY_WORDS})" if "try" not in str(exc) else str(exc))
    wanted = tuple(kinds) or KINDS
    # no NUL: PostgreSQL refuses it in text, and no name or handle holds one
    actor = (actor or "").replace("\x00", "").strip() or None
    member = (member or "").replace("\x00", "").strip() or None
    with store.engine.connect() as conn:
        accounts = None
        if member:
            try:
                pk = find_member(conn, store, member)[0]
            except QueueError as exc:
                return refused(str(exc))
            accounts = ConsentRegistry(store, settings).person_accounts(conn, pk)
        f = _Filter(store.community_id, start, end, actor, accounts, offset + limit + 1)
        found: list[AuditEntry] = []
        for source in dict.fromkeys(_SOURCES[k] for k in wanted):
            found += [e for e in source(conn, f) if e.kind in wanted]
    found.sort(key=lambda e: (e.at, e.kind, e.ref, e.action), reverse=True)
    page = found[offset : offset + limit]
    data = AuditPage(page, offset, limit, len(found) > offset + limit, wanted, actor, member, start, end)
    if not page:
        return done("No audit entries match." if not offset else "No more audit entries.", data)
    more = ["", f"more: --offset {offset + limit}"] if data.more else []
    return done("\n".join([*(_line(e) for e in page), *more]), data)


__all__ = ["KINDS", "AuditEntry", "AuditPage", "log"]
