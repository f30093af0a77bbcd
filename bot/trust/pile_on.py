"""Pile-ons: how many accounts that don't follow the author replied to the posts still waiting
for the curators, counted every ``trust.flags.pile_on_recheck_minutes`` and flagged on the cards."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Settings
from bot.domain import OPEN_STATES, Platform, Post
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, to_domain

log = logging.getLogger(__name__)

PILE_ON_DAYS = 3  # open candidates' posts this young have their replies counted
PILE_ON_BATCH = 10  # posts per platform per round (each costs a platform two requests or more)


class PileOnCounter:
    def __init__(
        self, store: Store, adapters: Mapping[Platform, PlatformAdapter], settings: Settings, clock: Clock
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings = settings
        self.clock = clock

    @property
    def cid(self) -> int:
        return self.store.community_id

    async def count_stranger_replies(self) -> tuple[int, int]:
        """Ask each platform how many accounts that don't follow the author replied to the posts
        of open candidates (pending or snoozed, posted in the last PILE_ON_DAYS), each post at
        most every ``trust.flags.pile_on_recheck_minutes``; store the counts. A card whose
        stranger_replies flag comes or goes gets its candidate's version bumped, so the console
        shows it again. Returns (posts counted, posts newly over the threshold)."""
        flags = self.settings.trust.flags
        if not flags.pile_on_recheck_minutes or not flags.stranger_replies:
            return 0, 0
        counted = flagged = 0
        for platform, adapter in self.adapters.items():
            now = self.clock.now()
            posts = await run_sync(self._claim_pile_on_checks, platform, now)
            if not posts:
                continue
            try:
                counts = await adapter.stranger_replies([p for _, p, _ in posts])
            except Exception as exc:  # nothing changes on a failed look: the next interval asks again
                log.warning(
                    "could not count replies from strangers",
                    extra={"platform": platform.value, "error": str(exc)[:300]},
                )
                continue
            if counts is None:
                continue  # this platform cannot tell; the claim keeps it from asking every round
            known = [(pk, counts[p.post_id], before) for pk, p, before in posts if p.post_id in counts]
            flagged += await run_sync(self._store_stranger_replies, known, now)
            counted += len(known)
        return counted, flagged

    def _claim_pile_on_checks(self, platform: Platform, now: datetime) -> list[tuple[int, Post, int | None]]:
        """The posts due a count on ``platform`` (never counted first, then the longest ago),
        each claimed by setting its ``replies_checked_at`` so two workers do not both ask.
        Returns (post pk, post, the count stored before)."""
        due = now - timedelta(minutes=self.settings.trust.flags.pile_on_recheck_minutes)
        p, c = m.Post, m.Candidate
        not_recent = or_(p.replies_checked_at.is_(None), p.replies_checked_at <= due)
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(p, m.Account)
                .join(m.Account, m.Account.id == p.account_id)
                .join(c, c.post_id == p.id)
                .where(
                    p.community_id == self.cid,
                    p.platform == platform.value,
                    p.deleted.is_(False),
                    p.created_at >= now - timedelta(days=PILE_ON_DAYS),
                    c.state.in_([s.value for s in OPEN_STATES]),
                    not_recent,
                )
                .order_by(p.replies_checked_at.is_not(None), p.replies_checked_at, p.id)
                .limit(PILE_ON_BATCH)
            ).all()
            found = [(post.id, to_domain(post, account), post.stranger_replies) for post, account in rows]
        claimed = []
        with self.store.engine.begin() as conn:
            for pk, post, before in found:
                res = conn.execute(update(p).where(p.id == pk, not_recent).values(replies_checked_at=now))
                if res.rowcount == 1:
                    claimed.append((pk, post, before))
        return claimed

    def _store_stranger_replies(self, counts: list[tuple[int, int, int | None]], now: datetime) -> int:
        """Store each post's count; bump the version of an open candidate whose card flag comes or
        goes with it. Returns how many posts newly reached the threshold."""
        threshold = self.settings.trust.flags.stranger_replies
        p, c = m.Post, m.Candidate
        reached = 0
        with self.store.engine.begin() as conn:
            for pk, count, before in counts:
                conn.execute(update(p).where(p.id == pk).values(stranger_replies=count))
                was = before is not None and before >= threshold
                if (count >= threshold) == was:
                    continue
                conn.execute(
                    update(c)
                    .where(c.post_id == pk, c.state.in_([s.value for s in OPEN_STATES]))
                    .values(version=c.version + 1, updated_at=now)
                )
                if not was:
                    reached += 1
                    log.info(
                        "many replies from accounts that don't follow the author",
                        extra={"community": self.settings.community.slug, "post": pk, "replies": count},
                    )
        return reached
