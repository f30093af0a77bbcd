"""The curators' console: a card for every new candidate from any platform, decided with a tap.

Platform-free. This module is the service (its run loop, and taps and commands turned into the
operations of bot/ops); what a card says is in `bot.console.cards`, sending and refreshing cards in
`bot.console.delivery`, the commands in `bot.console.commands`. A front end on one platform
(adapters/telegram/console.py) renders cards in its markup and turns taps and commands into events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.clock import Clock
from bot.config import Curator, Settings
from bot.console.cards import compose_card, duration, failure_note, resurfaced_note, when
from bot.console.commands import COMMANDS, HELP, SIGN_IN, ConsoleCommands
from bot.console.delivery import CardDelivery
from bot.curation.queue import Queue
from bot.domain import CandidateState
from bot.durable import run_sync
from bot.ops import conferences as conf_ops
from bot.ops import messages
from bot.ops import queue as q_ops
from bot.ports import Command, ConsoleFront, Tap
from bot.richtext import Doc, Span
from bot.store.alerts import AlertOutbox
from bot.store.store import Store

__all__ = [
    "COMMANDS",
    "HELP",
    "SIGN_IN",
    "Console",
    "compose_card",
    "duration",
    "failure_note",
    "resurfaced_note",
    "when",
]

log = logging.getLogger(__name__)


class Console:
    """Runs as one of the app's services: sends and refreshes cards, handles taps and commands."""

    def __init__(
        self,
        front: ConsoleFront,
        store: Store,
        queue: Queue,
        settings: Settings,
        clock: Clock,
        on_approved: Callable[[], None] = lambda: None,
    ) -> None:
        self.front = front
        self.store = store
        self.queue = queue
        self.settings = settings
        self.clock = clock
        self.on_approved = on_approved
        self.timings = front.timings
        self.delivery = CardDelivery(front, store, queue, settings, clock)
        self.commands = ConsoleCommands(front, store, queue, settings, clock)
        self._poked = asyncio.Event()
        self.idle = asyncio.Event()  # set while the sync loop waits for its next pass
        self._tasks: set[asyncio.Task[None]] = set()
        self._ctx = {"community": settings.community.slug, "platform": front.platform.value}

    # -- running ---------------------------------------------------------------------------------

    def poke(self) -> None:
        """New candidates may be waiting: look now rather than at the next sync."""
        self._poked.set()

    async def run(self, app: object = None, stop: asyncio.Event | None = None) -> None:
        """The service: taps and commands as they come, and a sync pass whenever poked or due."""
        await run_sync(self.delivery.forget_unfinished_sends)
        await run_sync(AlertOutbox(self.store).forget_unfinished)
        events = asyncio.create_task(self.serve_events(), name="console-events")
        try:
            await self._sync_forever()
        finally:
            events.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(events, *self._tasks, return_exceptions=True)

    async def run_once(self) -> None:
        """One pass for ``run --once``: send the cards that are due, refresh the changed ones."""
        await run_sync(self.delivery.forget_unfinished_sends)
        while await self.sync():
            pass

    async def finish_events(self) -> None:
        """Wait for the taps and commands being applied (``run --once`` ends with them)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_events(self) -> None:
        """Taps and commands as they come, each applied in a task of its own."""
        while True:
            event = await self.front.next_event()
            task = asyncio.create_task(self.handle(event), name="console-event")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sync_forever(self) -> None:
        while True:
            self._poked.clear()
            more = False
            try:
                more = await self.sync()
            except Exception:  # a broken pass must not end the console; the next one retries
                log.exception("console sync failed", extra=self._ctx)
            if more:
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(self.timings.sync_every.total_seconds()))
            poked = asyncio.ensure_future(self._poked.wait())
            if not self._poked.is_set():
                self.idle.set()
            try:
                await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.idle.clear()
                sleeper.cancel()
                poked.cancel()

    async def handle(self, event: Tap | Command) -> None:
        """One tap or command; whatever goes wrong with it, the person who sent it is answered
        (and the error logged) and the console goes on with the next."""
        ok = False
        try:
            if isinstance(event, Tap):
                await self.on_tap(event)
            else:
                await self.on_command(event)
            ok = True
        except Exception as exc:
            log.exception("console event failed", extra=self._ctx)
            reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
            if isinstance(event, Tap) and hasattr(self.front, "settled"):
                # A front that reads a failed tap again retries it, and that attempt answers the
                # curator (a tap is answered once); the spinner stops by itself meanwhile.
                return
            try:
                if isinstance(event, Tap):
                    await self.front.answer(event, f"That did not work: {reason}", alert=True)
                else:
                    await self.front.reply(
                        event, Doc.of((Span("⚠️ That did not work: "), Span(reason, untrusted=True)))
                    )
            except Exception:  # the platform refused the answer too: the log has both
                log.exception("could not answer a console event", extra=self._ctx)
        finally:
            self._settle(event, ok=ok)

    def _settle(self, event: Tap | Command, *, ok: bool) -> None:
        """A front that confirms events to its platform only once applied (Telegram's update
        stream) learns the outcome here, first word counting; a failed one is read again."""
        settled = getattr(self.front, "settled", None)
        if settled is not None:
            settled(event, ok)

    # -- cards (bot.console.delivery) ----------------------------------------------------------------

    async def sync(self) -> bool:
        """Expire, send new cards, refresh changed ones, nudge; True if more cards wait to go."""
        return await self.delivery.sync()

    async def send_new(self, now: datetime) -> bool:
        return await self.delivery.send_new(now)

    # -- who may act -----------------------------------------------------------------------------

    def curator_for(self, user: str) -> Curator | None:
        for curator in self.settings.curators:
            if curator.identities().get(self.front.platform) == user:
                return curator
        return None

    async def _champion(self, user: str) -> str | None:
        return await run_sync(conf_ops.champion_on, self.store, self.front.platform, user)

    # -- taps --------------------------------------------------------------------------------------

    async def on_tap(self, tap: Tap) -> None:
        curator = self.curator_for(tap.user)
        # A conference champion in the group may tap too; the queue holds her to her role.
        name = curator.name if curator is not None else await self._champion(tap.user)
        if name is None:
            log.info("tap by someone who is not a curator", extra={**self._ctx, "user": tap.user})
            await self.front.answer(tap, messages.NOT_A_CURATOR_TAP, alert=True)
            return
        now = self.clock.now()
        result = await run_sync(
            q_ops.decide,
            self.queue,
            tap.verb,
            tap.candidate_id,
            name,
            now,
            snooze_for=self.delivery.snooze,
        )
        if not result.ok or result.data is None:
            await self.front.answer(tap, result.message, alert=True)
            await self.delivery.refresh(tap.candidate_id)  # a stale card shows what really happened
            return
        view = result.data
        log.info(
            "decided from the console",
            extra={**self._ctx, "candidate": view.id, "action": tap.verb, "curator": name},
        )
        await self.front.answer(tap, result.message, alert=False)
        if view.state == CandidateState.APPROVED:
            self.on_approved()
        await self.delivery.refresh(tap.candidate_id)

    # -- commands (bot.console.commands) -----------------------------------------------------------

    async def on_command(self, command: Command) -> None:
        if command.name == "help":
            await self.front.reply(command, HELP)
            return
        curator = self.curator_for(command.user)
        if curator is None:
            await self.front.reply(command, Doc.of(messages.NOT_A_CURATOR))
            return
        now = self.clock.now()
        doc = await run_sync(self.commands.answer, command, curator.name, now)
        await self.front.reply(command, doc)
