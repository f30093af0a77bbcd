"""Conference mode and scheduled chats inside the running bot: one service that publishes the
conferences' daily highlights and meet-ups and the chats' announcements, questions and recaps
when they are due, collects the chats' answers, and says which tags the watch must follow.

A tag is followed while it matters: a conference's for its window, a chat's from its first
announcement until its answers stop counting. While followed it is also one of the account's own
tags, so the highlights and the questions keep it live (it is the tag members answer with)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.chats.model import ANSWERS_AFTER, LEADS, RECAP, ChatView, view_of
from bot.chats.runner import ChatRunner
from bot.clock import Clock, sleep_or_stop
from bot.conference.daily import DailyHighlights
from bot.conference.meetups import Meetups
from bot.conference.model import conferences, open_at
from bot.domain import Platform
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.series.publisher import PublishOutcome
from bot.store import models as m
from bot.store.store import Store

log = logging.getLogger(__name__)
LONGEST = timedelta(hours=3)  # a chat's last question comes within three hours of its start


@dataclass
class GatheringCycle:
    published: list[PublishOutcome] = field(default_factory=list)  # highlights, chat slots
    answers: int = 0  # chat answers newly collected
    tags: tuple[str, ...] = ()  # the conference and chat tags followed after this cycle


def active_chats(store: Store, now: datetime) -> list[ChatView]:
    """The chats whose tag matters at ``now``: from the first announcement until answers stop
    counting after the last question."""
    c = m.Chat
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(m.table(c)).where(
                c.community_id == store.community_id,
                c.removed_at.is_(None),
                c.starts_at <= now + max(LEADS.values()),
                c.starts_at >= now - LONGEST - ANSWERS_AFTER,
            )
        ).all()
    out = []
    for row in rows:
        chat = view_of(row)
        times = chat.slot_times()
        if min(times.values()) <= now <= times[RECAP]:
            out.append(chat)
    return out


class Gatherings:
    """Runs ``highlights`` and ``chats`` on time and keeps the followed tags current."""

    def __init__(
        self,
        store: Store,
        highlights: DailyHighlights,
        chats: ChatRunner,
        adapters: Mapping[Platform, PlatformAdapter],
        clock: Clock,
        *,
        poll_seconds: float,
        meetups: Meetups | None = None,
    ) -> None:
        self.store = store
        self.highlights = highlights
        self.chats = chats
        self.adapters = adapters
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.meetups = meetups
        self.tags: tuple[str, ...] = ()  # conference and chat tags to watch now (normalised)
        self._own = {p: a.own_tags for p, a in adapters.items()}  # the account's tags without them

    def current_tags(self, now: datetime) -> tuple[str, ...]:
        with self.store.engine.connect() as conn:
            confs = open_at(conferences(conn, self.store.community_id), now)
        chats = active_chats(self.store, now)
        return tuple(dict.fromkeys([*(c.tag for c in confs), *(c.tag for c in chats)]))

    def follow(self, tags: tuple[str, ...]) -> None:
        if tags != self.tags:
            log.info("following gathering tags", extra={"tags": " ".join(tags) or "-"})
        self.tags = tags
        for platform, adapter in self.adapters.items():
            adapter.own_tags = self._own[platform] | frozenset(tags)

    async def refresh(self) -> tuple[str, ...]:
        """Read which tags are active now and follow them (no database work on the event loop)."""
        self.follow(await run_sync(self.current_tags, self.clock.now()))
        return self.tags

    async def run_once(self) -> GatheringCycle:
        """One pass: follow the active tags, publish what is due, collect the chats' answers."""
        cycle = GatheringCycle(tags=await self.refresh())
        cycle.published.extend(await self.highlights.run_due(self.clock.now()))
        cycle.published.extend(await self.chats.run_due())
        if self.meetups is not None:
            cycle.published.extend(await self.meetups.run_due(self.clock.now()))
        now = self.clock.now()
        for chat in await run_sync(active_chats, self.store, now):
            if chat.starts_at <= now:
                cycle.answers += await run_sync(self.chats.collect_answers, chat, now)
        return cycle

    def seconds_to_next(self) -> float:
        """How long to sleep: until the next chat slot or highlights thread is due, so a question
        goes out on its second, but never longer than ``poll_seconds`` (answers, new tags)."""
        now = self.clock.now()
        nexts = [self.chats.next_due(now), self.highlights.next_due(now)]
        if self.meetups is not None:
            nexts.append(self.meetups.next_due(now))
        due = [t for t in nexts if t is not None]
        if not due:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (min(due) - now).total_seconds()))

    async def service(self, _app: object, stop: asyncio.Event) -> None:
        """A pass when the next slot is due, at least every ``poll_seconds``, until ``stop``; a
        failing pass is logged and retried."""
        while not stop.is_set():
            try:
                cycle = await self.run_once()
                for outcome in cycle.published:
                    log.info(
                        "gathering slot",
                        extra={
                            "series": outcome.series,
                            "platform": outcome.platform.value,
                            "state": outcome.state,
                            "url": outcome.url,
                        },
                    )
            except Exception:  # one bad pass must not end conference mode for good
                log.exception("gatherings cycle failed")
            try:
                wait = await run_sync(self.seconds_to_next)
            except Exception:  # the store is away: look again after the usual pause
                log.exception("gatherings could not read their next slot")
                wait = self.poll_seconds
            await sleep_or_stop(self.clock, wait, stop)
