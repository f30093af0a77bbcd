"""Deleted originals: every ``trust.recheck_minutes`` each platform is asked about the amplified
posts looked at longest ago; what their authors deleted leaves the queue, every place we
amplified it (undos queued) and the digest's list of opportunities."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Platform, Post
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, dialect_insert, to_domain
from bot.trust.consent import ConsentRegistry

log = logging.getLogger(__name__)


class DeletionRecheck:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        consent: ConsentRegistry,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self.consent = consent
        # Told the database id of each post found deleted, after its undos are queued (digests
        # drop it there). Called in a worker thread.
        self.on_post_gone: list[Callable[[int], None]] = []
        # The lists outside trust that may name a deleted post (the digest's opportunities) take
        # it off, each its own way; the composition root adds them (bot.app).
        self.leave_lists: list[Callable[[int, datetime], None]] = []
        self._next_recheck: datetime | None = None

    @property
    def cid(self) -> int:
        return self.store.community_id

    async def recheck(self) -> tuple[int, int]:
        """Every ``trust.recheck_minutes``: ask each platform about the amplified posts looked at
        longest ago (``trust.recheck_batch`` of them); take back what their authors deleted."""
        cfg = self.settings.trust
        now = self.clock.now()
        if not cfg.recheck_minutes or (self._next_recheck is not None and now < self._next_recheck):
            return 0, 0
        checked = gone_total = 0
        for platform, adapter in self.adapters.items():
            posts = await run_sync(self._amplified_recently, platform, now)
            if not posts:
                continue
            self._next_recheck = now + timedelta(minutes=cfg.recheck_minutes)
            try:
                gone = await adapter.posts_gone([p for _, p in posts])
            except Exception as exc:  # nothing is taken back on a failed look: next round asks again
                log.warning(
                    "could not re-check amplified posts",
                    extra={"platform": platform.value, "error": str(exc)},
                )
                continue
            gone_pks = [pk for pk, p in posts if gone is not None and p.post_id in gone]
            await run_sync(self._checked, [pk for pk, _ in posts], gone_pks, now)
            for pk in gone_pks:
                await run_sync(self.post_gone, pk, now)
            checked += len(posts)
            gone_total += len(gone_pks)
        return checked, gone_total

    def _amplified_recently(self, platform: Platform, now: datetime) -> list[tuple[int, Post]]:
        """Posts to look up again: amplified lately, or behind an opportunity still listed."""
        cfg = self.settings.trust
        x, c, p, chk = m.Amplification, m.Candidate, m.Post, m.PostCheck
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(p, m.Account)
                .join(m.Account, m.Account.id == p.account_id)
                .outerjoin(chk, chk.post_id == p.id)
                .where(
                    p.community_id == self.cid,
                    p.platform == platform.value,
                    p.deleted.is_(False),
                    or_(
                        p.id.in_(
                            select(c.post_id)
                            .join(x, x.candidate_id == c.id)
                            .where(
                                x.community_id == self.cid,
                                x.state == "done",
                                x.completed_at >= now - timedelta(days=cfg.recheck_days),
                            )
                        ),
                        # a member's post behind an opportunity on the digest's list
                        p.id.in_(
                            select(c.post_id)
                            .join(m.Opportunity, m.Opportunity.candidate_id == c.id)
                            .where(m.Opportunity.community_id == self.cid, m.Opportunity.removed_at.is_(None))
                        ),
                    ),
                )
                .order_by(chk.checked_at.is_not(None), chk.checked_at, p.id)
                .limit(cfg.recheck_batch)
            ).all()
            return [(post.id, to_domain(post, account)) for post, account in rows]

    def _checked(self, pks: list[int], gone: list[int], now: datetime) -> None:
        with self.store.engine.begin() as conn:
            stmt = dialect_insert(conn, m.table(m.PostCheck))
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["post_id"], set_={"checked_at": now}),
                [{"post_id": pk, "community_id": self.cid, "checked_at": now} for pk in pks],
            )
            if gone:
                conn.execute(
                    update(m.PostCheck)
                    .where(and_(m.PostCheck.post_id.in_(gone), m.PostCheck.gone_at.is_(None)))
                    .values(gone_at=now)
                )

    def post_gone(self, post_pk: int, now: datetime) -> None:
        """The author deleted the post: it leaves the queue and every place we amplified it."""
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Post).where(m.Post.id == post_pk).values(deleted=True))
            self.consent.withdraw(conn, m.Post.id == post_pk, "the author deleted the post", now)
            undos = self.consent.schedule_undos(conn, m.Post.id == post_pk, "deleted", "system", now)
        log.info(
            "amplified post deleted by its author",
            extra={"community": self.settings.community.slug, "post": post_pk, "undos": undos},
        )
        for leave in self.leave_lists:
            leave(post_pk, now)
        for hook in self.on_post_gone:
            hook(post_pk)
