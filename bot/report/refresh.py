"""Keeps the reach numbers fresh: who the central account is, engagement of recent posts, a
daily follower count, who follows the central account, and the members lists.

Each round asks every platform for at most ``report.refresh_batch`` posts and accounts. A
platform that says "slow down" is left alone until the next round; one that cannot answer a
question at all (the adapter returns None) is skipped with a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Platform
from bot.errors import PlatformError, RateLimited
from bot.ports import ListSync, PlatformAdapter
from bot.progress import Progress
from bot.report.store import ReachStore
from bot.store.store import Store
from bot.trust.veto import LastLook, is_frozen

log = logging.getLogger(__name__)


@dataclass
class PlatformRefresh:
    engagement: int = 0  # posts whose counts were stored
    followers: int | None = None
    follows_checked: int = 0
    list_sync: ListSync | None = None
    skipped: list[str] = field(default_factory=list)  # what the platform cannot tell
    error: str | None = None


class Refresher:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        dry_run: bool = False,
        last_look: LastLook | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.progress = progress or Progress.silent()
        self.reach = ReachStore(store)
        self.last_look = last_look or LastLook(store, settings)
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self.dry_run = dry_run  # read the numbers, but follow nobody and change no list

    def list_title(self) -> str:
        return self.settings.directory.list_title or f"{self.settings.community.name} members"

    async def run_once(self) -> dict[Platform, PlatformRefresh]:
        out = {}
        with self.progress.step("refreshing reach", total=len(self.adapters), unit="platforms") as done:
            for platform, adapter in self.adapters.items():
                out[platform] = await self._guarded(platform, adapter)
                done(1)
        return out

    async def _guarded(self, platform: Platform, adapter: PlatformAdapter) -> PlatformRefresh:
        """One platform's round; its failure is written down, and the others go on."""
        result = PlatformRefresh()
        try:
            await self._platform(platform, adapter, result)
        except RateLimited as exc:
            result.error = str(exc)
            log.warning(
                "reach refresh rate limited; the rest waits for the next round",
                extra={"platform": platform.value, "retry_in_s": round(exc.retry_after)},
            )
        except PlatformError as exc:
            result.error = str(exc)
            log.warning("reach refresh failed", extra={"platform": platform.value, "error": str(exc)})
        except Exception as exc:  # one platform's bad answer or a bug: the others go on
            result.error = f"{type(exc).__name__}: {exc}"
            log.exception("reach refresh failed unexpectedly", extra={"platform": platform.value})
        return result

    async def record_central(self) -> None:
        """Remember who the central account is on each platform (the report's central share)."""
        for platform, adapter in self.adapters.items():
            me = adapter.central_account()
            if me is not None:
                await asyncio.to_thread(self.reach.set_central, platform, me, self.clock.now())

    async def _platform(self, platform: Platform, adapter: PlatformAdapter, result: PlatformRefresh) -> None:
        now = self.clock.now()
        me = adapter.central_account()
        if me is not None:
            await asyncio.to_thread(self.reach.set_central, platform, me, now)

        followers = await adapter.follower_count()
        if followers is None:
            self._skip(platform, result, "follower count")
        else:
            result.followers = followers
            await asyncio.to_thread(self.reach.snapshot_followers, platform, followers, now)

        cfg = self.settings.report
        window = timedelta(days=cfg.engagement_window_days)
        posts = await asyncio.to_thread(self.reach.posts_to_refresh, platform, now, window, cfg.refresh_batch)
        if posts:
            counts = await adapter.engagement(posts)
            if counts is None:
                self._skip(platform, result, "engagement")
            else:
                result.engagement = await asyncio.to_thread(self.reach.save_engagement, platform, counts, now)
                gone = [p for p in posts if p.post_id not in counts]
                if gone:
                    await asyncio.to_thread(self.reach.touch_engagement, gone, now)

        recheck = timedelta(days=cfg.follows_recheck_days)
        ids = await asyncio.to_thread(self.reach.accounts_to_check, platform, now, recheck, cfg.refresh_batch)
        if ids:
            follows = await adapter.follows_central(ids)
            if follows is None:
                self._skip(platform, result, "who follows the central account")
            else:
                await asyncio.to_thread(self.reach.save_follows, platform, ids, follows, now)
                result.follows_checked = len(ids)

        if self.settings.directory.list_sync and not self.dry_run:
            members = await asyncio.to_thread(self.reach.consenting, platform)
            # the last look, right before the platform call: consent, blocks, freezes
            if await asyncio.to_thread(is_frozen, self.last_look.store):
                self._skip(platform, result, "members list (the curators froze the account)")
                return
            members = await asyncio.to_thread(self.last_look.listable, platform, members, self.clock.now())
            synced = await adapter.sync_member_list(self.list_title(), members)
            if synced is None:
                self._skip(platform, result, "members list")
            else:
                result.list_sync = synced
                log.info(
                    "members list in step",
                    extra={
                        "platform": platform.value,
                        "list": synced.list_ref,
                        "added": synced.added,
                        "removed": synced.removed,
                        "pending": len(synced.pending),
                    },
                )

    def _skip(self, platform: Platform, result: PlatformRefresh, what: str) -> None:
        result.skipped.append(what)
        log.info("not available on this platform; skipped", extra={"platform": platform.value, "what": what})


class ReachService:
    """A round at once, then one every ``minutes`` until stopped (``round_done`` is set after each)."""

    def __init__(self, refresher: Refresher, clock: Clock, minutes: float) -> None:
        self.refresher = refresher
        self.clock = clock
        self.minutes = minutes
        self.round_done = asyncio.Event()
        self.last: dict[Platform, PlatformRefresh] = {}

    async def run(self, stop: asyncio.Event) -> None:
        if self.minutes <= 0:
            await self.refresher.record_central()  # refreshing is off; the central share still counts
            self.round_done.set()
            return
        while not stop.is_set():
            self.last = await self.refresher.run_once()
            self.round_done.set()
            await self.clock.sleep(self.minutes * 60)

    async def serve(self, _app: object, stop: asyncio.Event) -> None:
        """As one of the app's services (``Coalesce.services``)."""
        await self.run(stop)
