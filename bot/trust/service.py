"""The trust service: the platform side of consent and safety, worked by every worker.

Each round: the consent sweep (:meth:`ConsentRegistry.enforce`), the undos that are due
(bot.trust.undo), the answers owed to members (bot.trust.replies), and — every
``trust.recheck_minutes`` — a look at recently amplified posts to find those their authors
deleted (bot.trust.recheck), and a count of the replies from strangers to the posts still
waiting for the curators (bot.trust.pile_on). It also gives the amplifier its last veto before
each amplification.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Platform, Post
from bot.durable import run_sync
from bot.errors import PlatformError
from bot.ports import PlatformAdapter
from bot.store.store import Store
from bot.trust.consent import ConsentRegistry
from bot.trust.pile_on import PileOnCounter
from bot.trust.recheck import DeletionRecheck
from bot.trust.replies import ReplyWorker
from bot.trust.safety import Blocklist
from bot.trust.undo import PER_ROUND, UndoWorker
from bot.trust.veto import LastLook, Verdict

log = logging.getLogger(__name__)


@dataclass
class TrustReport:
    enforced: dict[str, int] = field(default_factory=dict)
    undone: int = 0
    undo_failed: int = 0
    replies: int = 0
    checked: int = 0
    gone: int = 0
    replies_counted: int = 0  # posts whose replies from strangers were counted
    piling_on: int = 0  # of those, how many reached the card's flag threshold this round
    interviews_withdrawn: int = 0  # interviews of members who opted out or were blocked
    replies_vetoed: int = 0  # answers to members the veto stopped (not their consent answers)


class TrustService:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        worker: str,
        consent: ConsentRegistry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.consent = consent or ConsentRegistry(store, settings)
        self.blocklist = Blocklist(store, settings, self.consent)
        # the one veto every way the account speaks passes (see bot.trust.veto)
        self.last_look = LastLook(store, settings, self.consent, self.blocklist)
        rng = rng or random.Random()
        self.undos = UndoWorker(store, adapters, settings, clock, worker=worker, rng=rng)
        self.replies = ReplyWorker(store, adapters, settings, clock, self.last_look, rng=rng)
        self.deletions = DeletionRecheck(store, adapters, settings, clock, self.consent)
        self.pile_ons = PileOnCounter(store, adapters, settings, clock)
        # Told the database id of each post found deleted, after its undos are queued (digests
        # drop it there). Called in a worker thread.
        self.on_post_gone: list[Callable[[int], None]] = self.deletions.on_post_gone

    # -- the amplifier's last look -------------------------------------------------------------

    async def veto(self, candidate_id: int, post: Post) -> Verdict | None:
        return await run_sync(self.verdict, candidate_id, post, self.clock.now())

    def verdict(self, candidate_id: int, post: Post, now: datetime) -> Verdict | None:
        return self.last_look.amplification(candidate_id, post, now)

    # -- one round -------------------------------------------------------------------------------

    async def run_once(self) -> TrustReport:
        report = TrustReport()
        report.enforced = await run_sync(self.consent.enforce, self.clock.now())
        report.interviews_withdrawn = await run_sync(self.last_look.sweep, self.clock.now())
        report.checked, report.gone = await self.recheck()
        report.replies_counted, report.piling_on = await self.count_stranger_replies()
        report.undone, report.undo_failed = await self.undo_due()
        report.replies = await self.deliver_replies()
        return report

    async def serve(self, _app: object, stop: asyncio.Event) -> None:
        """The service ``run`` starts: a round every ``trust.cycle_seconds`` until stopped. A
        round that fails (the database restarting, say) is logged and the next one tries again."""
        while not stop.is_set():
            try:
                await self.run_once()
            except (PlatformError, SQLAlchemyError, OSError) as exc:
                log.warning("trust round failed; next round retries", extra={"error": str(exc)[:300]})
            except Exception:  # a bug: logged with its traceback, and the next round goes on
                log.exception("trust round failed unexpectedly; next round retries")
            await self.clock.sleep(self.settings.trust.cycle_seconds)

    # -- the jobs, each in a module of its own ---------------------------------------------------

    async def undo_due(self, limit: int = PER_ROUND) -> tuple[int, int]:
        return await self.undos.undo_due(limit)

    async def deliver_replies(self, limit: int = PER_ROUND) -> int:
        return await self.replies.deliver_replies(limit)

    async def recheck(self) -> tuple[int, int]:
        return await self.deletions.recheck()

    async def count_stranger_replies(self) -> tuple[int, int]:
        return await self.pile_ons.count_stranger_replies()

    def post_gone(self, post_pk: int, now: datetime) -> None:
        self.deletions.post_gone(post_pk, now)
