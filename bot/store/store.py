"""The store: one SQLAlchemy engine, the community's rows, and bulk ingest of watched posts.

SQLite by default (a file, no set-up), PostgreSQL by URL. Ingest writes a whole batch in one
transaction with set-based statements; the cursor moves in that same transaction, so a crash
can only ever replay posts (which the unique constraints then ignore), never skip them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, aliased

from bot.domain import Author, CandidateState, Platform, Post
from bot.store import edits
from bot.store import models as m
from bot.store.engine import dialect_insert as dialect_insert  # importers find these here too
from bot.store.engine import engine_for as engine_for
from bot.store.engine import make_engine as make_engine
from bot.store.rows import author_of as author_of
from bot.store.rows import to_domain as to_domain
from bot.store.rows import withheld_text as withheld_text

if TYPE_CHECKING:
    pass

CHUNK = 500  # rows per IN (...) list; well under every backend's parameter limit


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(slots=True)
class Item:
    """A post on its way in, with what the pure filters already decided about it."""

    post: Post
    reason: str = "hashtag"  # why it may be a candidate: hashtag | nomination | opportunity
    skip: str | None = None  # a filter's verdict; None means "candidate, unless the store objects"
    nominated_by: str | None = None
    kind: str = "post"
    nominated_by_stranger: bool = False  # the nominating account never took part (a card flag)
    # For an edit of a stored post (``bot.store.edits``): the opt-out marker it now carries, if any, and
    # whether it lost the community hashtag.
    edit_optout: str | None = None
    edit_untagged: bool = False


@dataclass(slots=True)
class IngestResult:
    stored: int = 0
    candidates: list[int] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    edited: list[int] = field(default_factory=list)  # candidates an edit of their post changed

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class Store:
    """All database access for one community."""

    def __init__(self, engine: Engine, community_id: int) -> None:
        self.engine = engine
        self.community_id = community_id

    @classmethod
    def open(cls, engine: Engine, slug: str, name: str, now: datetime) -> Store:
        """The store for community ``slug``, creating its row on first use."""
        with engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, m.table(m.Community))
                .values(slug=slug, name=name, created_at=now)
                .on_conflict_do_nothing(index_elements=["slug"])
            )
            cid = conn.execute(select(m.Community.id).where(m.Community.slug == slug)).scalar_one()
        return cls(engine, cid)

    # -- cursors -----------------------------------------------------------------------------

    def cursors(self, platform: Platform) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.Cursor.source, m.Cursor.value).where(
                    m.Cursor.community_id == self.community_id, m.Cursor.platform == platform.value
                )
            )
            return {str(k): v for k, v in rows}

    def _save_cursor(
        self, conn: Connection, platform: Platform, source: str, value: str | None, now: datetime
    ) -> None:
        values = {
            "community_id": self.community_id,
            "platform": platform.value,
            "source": source,
            "value": value,
            "updated_at": now,
        }
        stmt = dialect_insert(conn, m.table(m.Cursor)).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["community_id", "platform", "source"],
                set_={"value": value, "updated_at": now},
            )
        )

    # -- ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        platform: Platform,
        items: Iterable[Item],
        now: datetime,
        *,
        source: str | None = None,
        cursor: str | None = None,
        consent_mode: str = "opt-out",
    ) -> IngestResult:
        """Store a batch: accounts, posts, new candidates and the cursor, in one transaction."""
        result = IngestResult()
        unique: dict[str, Item] = {}
        for item in items:
            prior = unique.get(item.post.post_id)
            newer = prior is not None and (item.post.edited_at or prior.post.created_at) > (
                prior.post.edited_at or prior.post.created_at
            )  # a message and its edit in one batch: the edit is what the author means now
            if prior is None or (prior.skip and not item.skip) or newer:
                if prior is not None:
                    result.skip("duplicate")
                unique[item.post.post_id] = item
            else:
                result.skip("duplicate")
        batch = list(unique.values())
        with self.engine.begin() as conn:
            stored_edits = edits.known(
                conn, self.community_id, platform, [i.post.post_id for i in batch if i.post.edited_at]
            )
            # An edit of a message we never stored and that lacks the tag is chatter: not stored.
            batch = [
                i
                for i in batch
                if not (i.post.edited_at and i.post.post_id not in stored_edits and i.skip == "no_hashtag")
            ]
            authors = [a for i in batch for a in i.post.authors()]
            accounts = self._upsert_accounts(conn, platform, authors, now)
            for item in batch:
                acc = accounts[item.post.author.account_id]
                quoted = item.post.quoted_author
                them = accounts[quoted.account_id] if quoted is not None else None
                if item.skip is None:
                    if acc["blocked"]:
                        item.skip = "blocked"
                    elif acc["consent"] == "out":
                        item.skip = "opted_out"
                    elif consent_mode == "opt-in" and acc["consent"] != "in":
                        item.skip = "not_opted_in"
                    elif them is not None and (them["blocked"] or them["consent"] == "out"):
                        item.skip = "quoted_opted_out"  # a quote amplifies the post it carries
            new_ids = self._insert_posts(conn, platform, batch, accounts, now)
            result.stored = len(new_ids)
            rows = []
            for item in batch:
                post_pk = new_ids.get(item.post.post_id)
                if post_pk is None and item.post.post_id in stored_edits:
                    changed = edits.apply(conn, self.community_id, item, stored_edits[item.post.post_id], now)
                    if changed is not None:
                        result.edited.append(changed)
                    continue
                if post_pk is None:
                    if item.reason != "nomination":
                        result.skip("duplicate")
                    continue
                if item.skip:
                    result.skip(item.skip)
                    continue
                rows.append(self._candidate_row(post_pk, item, now))
            rows.extend(self._nominations_of_known_posts(conn, platform, batch, new_ids, now))
            if rows:
                inserted = conn.execute(
                    dialect_insert(conn, m.table(m.Candidate))
                    .on_conflict_do_nothing(index_elements=["post_id"])
                    .returning(m.Candidate.id),
                    rows,
                )
                result.candidates = [r[0] for r in inserted]
            if source is not None:
                self._save_cursor(conn, platform, source, cursor, now)
        return result

    def _candidate_row(self, post_pk: int, item: Item, now: datetime) -> dict[str, Any]:
        return {
            "community_id": self.community_id,
            "post_id": post_pk,
            "kind": item.kind,
            "reason": item.reason,
            "nominated_by": item.nominated_by,
            "nominated_by_stranger": item.nominated_by_stranger,
            "state": CandidateState.PENDING.value,
            "approvals": 0,
            "version": 0,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
        }

    def _nominations_of_known_posts(
        self, conn: Connection, platform: Platform, batch: list[Item], new_ids: dict[str, int], now: datetime
    ) -> list[dict[str, Any]]:
        """A nomination of a post we already stored (perhaps skipped as a reply) queues it."""
        wanted = [
            i for i in batch if i.reason == "nomination" and not i.skip and i.post.post_id not in new_ids
        ]
        if not wanted:
            return []
        found: dict[str, tuple[int, str | None]] = {}
        for part in chunks([i.post.post_id for i in wanted]):
            q = select(m.Post.platform_post_id, m.Post.id, m.Post.skip_reason).where(
                m.Post.community_id == self.community_id,
                m.Post.platform == platform.value,
                m.Post.platform_post_id.in_(part),
            )
            found.update({pid: (pk, skip) for pid, pk, skip in conn.execute(q)})
        rows = []
        for item in wanted:
            pk, skip = found.get(item.post.post_id, (None, None))
            if pk is not None and skip not in (
                "blocked",
                "opted_out",
                "boost",
                "not_opted_in",
                "quoted_opted_out",
            ):
                rows.append(self._candidate_row(pk, item, now))
        return rows

    def _upsert_accounts(
        self, conn: Connection, platform: Platform, authors: list[Author], now: datetime
    ) -> dict[str, dict[str, Any]]:
        """Rows for every author of the batch, created or refreshed; keyed by platform account id."""
        latest: dict[str, Author] = {a.account_id: a for a in authors}
        keys = list(latest)
        known: dict[str, dict[str, Any]] = {}
        table = m.table(m.Account)
        cols = (
            table.c.id,
            table.c.platform_account_id,
            table.c.consent,
            table.c.blocked,
            table.c.handle,
            table.c.withheld,
            table.c.is_bot,
        )
        for part in chunks(keys):
            q = select(*cols).where(
                table.c.community_id == self.community_id,
                table.c.platform == platform.value,
                table.c.platform_account_id.in_(part),
            )
            known.update({r.platform_account_id: dict(r._mapping) for r in conn.execute(q)})
        missing = [latest[k] for k in keys if k not in known]
        if missing:
            rows = [self._account_row(platform, a, now) for a in missing]
            conn.execute(
                dialect_insert(conn, table).on_conflict_do_nothing(
                    index_elements=["community_id", "platform", "platform_account_id"]
                ),
                rows,
            )
            for part in chunks([a.account_id for a in missing]):
                q = select(*cols).where(
                    table.c.community_id == self.community_id,
                    table.c.platform == platform.value,
                    table.c.platform_account_id.in_(part),
                )
                known.update({r.platform_account_id: dict(r._mapping) for r in conn.execute(q)})
        changed = [
            {
                "pk": known[k]["id"],
                "handle": latest[k].handle,
                "display_name": latest[k].display_name,
                "withheld": withheld_text(latest[k]),
            }
            for k in keys
            if k in known
            and (known[k]["handle"], known[k]["withheld"]) != (latest[k].handle, withheld_text(latest[k]))
        ]
        if changed:
            conn.execute(
                update(table)
                .where(table.c.id == _bind("pk"))
                .values(
                    handle=_bind("handle"), display_name=_bind("display_name"), withheld=_bind("withheld")
                ),
                changed,
            )
        # An account the platform now calls a bot (or no longer does): the card flags what it is now.
        turned = [
            {"pk": known[k]["id"], "is_bot": latest[k].is_bot}
            for k in keys
            if k in known and bool(known[k]["is_bot"]) != latest[k].is_bot
        ]
        if turned:
            conn.execute(
                update(table).where(table.c.id == _bind("pk")).values(is_bot=_bind("is_bot")), turned
            )
        seen = [known[k]["id"] for k in keys]
        for part in chunks(seen):
            conn.execute(update(table).where(table.c.id.in_(part)).values(last_seen=now))
        return known

    def _account_row(self, platform: Platform, a: Author, now: datetime) -> dict[str, Any]:
        return {
            "community_id": self.community_id,
            "platform": platform.value,
            "platform_account_id": a.account_id,
            "handle": a.handle,
            "display_name": a.display_name,
            "url": a.url,
            "is_bot": a.is_bot,
            "is_group": a.is_group,
            "account_created_at": a.created_at,
            "first_seen": now,
            "last_seen": now,
            "consent": None,
            "consent_source": None,
            "blocked": False,
            "withheld": withheld_text(a),
        }

    def _insert_posts(
        self,
        conn: Connection,
        platform: Platform,
        batch: list[Item],
        accounts: dict[str, dict[str, Any]],
        now: datetime,
    ) -> dict[str, int]:
        if not batch:
            return {}
        rows = []
        for item in batch:
            p = item.post
            rows.append(
                {
                    "community_id": self.community_id,
                    "platform": platform.value,
                    "platform_post_id": p.post_id,
                    "account_id": accounts[p.author.account_id]["id"],
                    "url": p.url,
                    "text": p.text,
                    "hashtags": " ".join(sorted(p.hashtags)),
                    "created_at": p.created_at,
                    "seen_at": now,
                    "is_reply": p.is_reply,
                    "is_boost": p.is_boost,
                    "reply_to": p.reply_to,
                    "language": p.language,
                    "content_warning": p.content_warning,
                    "ref": p.ref,
                    "automated": p.automated[:255] if p.automated else None,
                    "edited_at": p.edited_at,
                    "skip_reason": item.skip,
                    "deleted": False,
                    "quote_of": p.quote_of,
                    "quoted_account_id": (
                        accounts[p.quoted_author.account_id]["id"] if p.quoted_author is not None else None
                    ),
                }
            )
        table = m.table(m.Post)
        stmt = (
            dialect_insert(conn, table)
            .on_conflict_do_nothing(index_elements=["community_id", "platform", "platform_post_id"])
            .returning(table.c.platform_post_id, table.c.id)
        )
        return {str(k): int(v) for k, v in conn.execute(stmt, rows)}

    # -- reading posts back ------------------------------------------------------------------

    def post_of_candidate(self, candidate_id: int) -> Post:
        """Rebuild the domain Post of a candidate (what an adapter needs to amplify it)."""
        quoted = aliased(m.Account)
        with Session(self.engine) as session:
            post, account, quoted_account = session.execute(
                select(m.Post, m.Account, quoted)
                .join(m.Candidate, m.Candidate.post_id == m.Post.id)
                .join(m.Account, m.Account.id == m.Post.account_id)
                .outerjoin(quoted, quoted.id == m.Post.quoted_account_id)
                .where(m.Candidate.id == candidate_id, m.Candidate.community_id == self.community_id)
            ).one()
            return to_domain(post, account, quoted_account)

    def set_withheld(self, platform: Platform, author: Author) -> None:
        """Keep the platform signals of an account as its profile shows them now (the card
        reads them from here)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(m.Account)
                .where(
                    m.Account.community_id == self.community_id,
                    m.Account.platform == platform.value,
                    m.Account.platform_account_id == author.account_id,
                    m.Account.withheld != withheld_text(author),
                )
                .values(withheld=withheld_text(author))
            )

    def taken_part(self, platform: Platform, account_ids: Iterable[str], tags: Iterable[str]) -> set[str]:
        """Which of ``account_ids`` have taken part in the community: posted with one of its
        ``tags`` (as we stored it), opted in, or linked their accounts."""
        wanted = sorted(set(account_ids))
        tags = frozenset(tags)
        found: set[str] = set()
        a, p = m.Account, m.Post
        with self.engine.connect() as conn:
            for part in chunks(wanted):
                known = conn.execute(
                    select(a.id, a.platform_account_id, a.consent, a.person_id).where(
                        a.community_id == self.community_id,
                        a.platform == platform.value,
                        a.platform_account_id.in_(part),
                    )
                ).all()
                found.update(r.platform_account_id for r in known if r.consent == "in" or r.person_id)
                rest = {r.id: r.platform_account_id for r in known if r.platform_account_id not in found}
                if not rest:
                    continue
                rows = conn.execute(
                    select(p.account_id, p.hashtags).where(
                        p.community_id == self.community_id, p.account_id.in_(list(rest))
                    )
                )
                found.update(rest[pk] for pk, hashtags in rows if tags & frozenset(hashtags.split()))
        return found

    def set_account_flags(
        self, platform: Platform, account_id: str, *, consent: str | None = None, source: str | None = None
    ) -> None:
        """Record a member's consent as learnt from a profile marker or a command."""
        with self.engine.begin() as conn:
            conn.execute(
                update(m.Account)
                .where(
                    and_(
                        m.Account.community_id == self.community_id,
                        m.Account.platform == platform.value,
                        m.Account.platform_account_id == account_id,
                    )
                )
                .values(consent=consent, consent_source=source)
            )


def _bind(name: str) -> Any:
    return bindparam(name)
