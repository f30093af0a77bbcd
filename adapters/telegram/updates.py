"""The bot's update stream, part of the Telegram adapter (``adapter.py``).

Telegram hands every update of a bot to one ``getUpdates`` reader, so there is exactly one:
``watch``. It reads a page, lets the Application's handlers sort it (member posts and
nominations into the page's batch, taps and curator commands onto the console's queue),
waits until the console has applied the page's taps and commands, yields the batch, and only
asks for the next page — which confirms this one to Telegram — once the batch is stored. An
update whose application failed is not confirmed: it is read again and retried — by the next
run in cron mode, after a growing pause in ``run`` — and after ``APPLY_ATTEMPTS`` failures
(counted in the ``update-retries`` cursor, so across runs) logged and passed over, so one bad
update never stalls the stream. A crash or the end of a ``run --once`` therefore replays updates
instead of losing them. (PTB's own Updater confirms a
page as soon as it has fetched it, hence this loop.) Two ``getUpdates`` requests are at least
``poll_min_interval`` apart on the injected clock, however fast a server answers.

Pages are read as JSON and repaired (lone surrogates) before python-telegram-bot parses them,
update by update; an edited message comes back as the same post with its ``edited_at``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from adapters.telegram.base import TelegramBase, UpdatePage
from adapters.telegram.errors import call
from adapters.telegram.normalize import repair_text
from bot.domain import Batch
from bot.errors import MalformedPayload

log = logging.getLogger(__name__)

UPDATES = "updates"  # the one source: the bot's update stream
RETRIES = "update-retries"  # "id:attempts,…" of updates not yet applied, kept across runs (cron)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
PAGE = 100  # getUpdates' largest page
APPLY_PATIENCE = 30.0  # seconds a page waits for the console to apply its taps before reading on
APPLY_ATTEMPTS = 5  # an update whose application fails this often is logged and passed over


class TelegramUpdates(TelegramBase):
    """The one reader of the bot's updates: pages, their handlers, and what is confirmed."""

    async def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        await self.start()
        self._tags = frozenset(tags)
        cursor = cursors.get(UPDATES)
        # Telegram keeps what we have not confirmed; starting past our cursor confirms what we stored.
        offset = int(cursor) + 1 if cursor and cursor.lstrip("-").isdigit() else None
        for update_id, attempts in _read_retries(cursors.get(RETRIES)).items():
            self._attempts[update_id] = max(self._attempts.get(update_id, 0), attempts)
        while True:
            raw = await call(self._raw_updates(offset, int(self.settings.poll_timeout) if follow else 0))
            updates, last_id, broken = self._parse_updates(raw)
            failed: set[int] = set()
            if last_id is not None:
                page = await self._sort([u for u in updates if u.update_id not in self._applied])
                page.malformed += broken
                failed = await self._settle(page)
                # Confirm up to the first update not yet applied: it and what follows come again.
                upto = min(failed) - 1 if failed else last_id
                nominations = await self._resolve_links(page.links)
                await self._read_bios(page)
                if page.posts or page.nominations or nominations or page.requests or page.malformed:
                    yield Batch(
                        source=UPDATES,
                        cursor=str(upto),
                        posts=page.posts,
                        nominations=page.nominations + nominations,
                        malformed=page.malformed,
                        requests=page.requests,
                    )
                if failed or page.retried:  # how often each failed, for the next run to know
                    retries = ",".join(f"{u}:{self._attempts.get(u, 0)}" for u in sorted(failed))
                    yield Batch(source=RETRIES, cursor=retries or None)
                # Stored (the batch came back) or applied: not handled again if read again.
                self._applied.update(u.update_id for u in updates if u.update_id not in failed)
                offset = upto + 1
                self._applied = {i for i in self._applied if i >= offset}
                if failed and not follow:  # the next run reads it again; a cron run does not spin
                    return
                if failed:  # wait a little longer each time (the database may be back soon)
                    attempts = max((self._attempts.get(u, 0) for u in failed), default=0)
                    await self.clock.sleep(min(2.0**attempts, 60.0))
            if not follow and len(raw) < PAGE and not failed:
                if last_id is not None:  # confirm the last page now: the next run starts after it
                    await call(self._raw_updates(offset, 0, limit=1))
                return

    async def _settle(self, page: UpdatePage) -> set[int]:
        """Wait (a while) for the console to apply the page's taps and commands; the ids of the
        updates not applied, to be read again. One that keeps failing is given up on, logged."""
        if not page.handed:
            return set()
        await asyncio.wait(list(page.handed.values()), timeout=APPLY_PATIENCE)
        failed: set[int] = set()
        for update_id, future in page.handed.items():
            if future.done() and future.result():
                page.retried |= self._attempts.pop(update_id, None) is not None
                continue
            if not future.done():  # still under way: waited for again when read again
                failed.add(update_id)
                continue
            attempts = self._attempts.get(update_id, 0) + 1
            if attempts >= APPLY_ATTEMPTS:
                self._attempts.pop(update_id, None)
                page.retried = True
                log.error(
                    "a tap or command failed every time; passed over",
                    extra={"platform": "telegram", "update": update_id, "attempts": attempts},
                )
                continue
            self._attempts[update_id] = attempts
            failed.add(update_id)
        return failed

    async def _poll_gate(self) -> None:
        """At least ``poll_min_interval`` between two getUpdates, even when a server (or a proxy,
        or an error) answers at once: a fast answer must not become a busy loop."""
        interval = self.settings.poll_min_interval
        if self._last_poll is not None and interval > 0:
            wait = self._last_poll + interval - self.clock.now().timestamp()
            if wait > 0:
                await self.clock.sleep(wait)
        self._last_poll = self.clock.now().timestamp()

    async def _raw_updates(self, offset: int | None, wait: int, limit: int = PAGE) -> list[Any]:
        """One getUpdates page as Telegram sent it. python-telegram-bot's ``get_updates`` parses
        the page as a whole, so one update it cannot read would fail every read of that page and
        stall the stream; we read the JSON and parse update by update (:meth:`_parse_updates`)."""
        await self._poll_gate()
        data = {"offset": offset, "limit": limit, "timeout": wait, "allowed_updates": ALLOWED_UPDATES}
        result = await self.bot._post(  # the request get_updates makes, unparsed
            "getUpdates", data, read_timeout=self.settings.request_timeout + wait
        )
        if not isinstance(result, list):
            raise MalformedPayload(f"getUpdates answered a {type(result).__name__}, not a list")
        return [repair_text(item) for item in result]

    def _parse_updates(self, raw: Sequence[Any]) -> tuple[list[Update], int | None, int]:
        """The updates of a page that parse, the highest update_id seen (the next offset is past
        it, broken updates included) and how many were logged and skipped."""
        updates: list[Update] = []
        last_id: int | None = None
        broken = 0
        for item in raw:
            update_id = item.get("update_id") if isinstance(item, Mapping) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                last_id = update_id if last_id is None else max(last_id, update_id)
            try:
                update = _update_of(item, self.bot)
            except Exception as exc:  # any parse failure is this one update's
                broken += 1
                log.warning(
                    "skipped malformed update",
                    extra={"platform": "telegram", "update": update_id, "error": repr(exc)[:300]},
                )
                continue
            updates.append(update)
        return updates, last_id, broken

    async def _sort(self, updates: Sequence[Update]) -> UpdatePage:
        page = UpdatePage()
        self._page = page
        try:
            for update in updates:
                waiting = self.console.waiting(update.update_id) if self.console is not None else None
                if waiting is not None:  # read again while the console still applies it
                    page.handed[update.update_id] = waiting
                    continue
                try:
                    await self.application.process_update(update)
                    waiting = self.console.waiting(update.update_id) if self.console is not None else None
                    if waiting is not None:
                        page.handed[update.update_id] = waiting
                except Exception as exc:  # a handler's filter choked on this one update
                    page.malformed += 1
                    log.warning(
                        "skipped malformed update",
                        extra={"platform": "telegram", "update": update.update_id, "error": repr(exc)[:300]},
                    )
        finally:
            self._page = None
        return page

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        if self._page is not None:  # counted with the page's malformed items, not dropped unseen
            self._page.malformed += 1
        log.error(
            "a Telegram update could not be handled",
            extra={"platform": "telegram", "update": update_id, "error": repr(context.error)[:300]},
        )

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.console is not None:
            await self.console.on_callback(update, context)
        elif update.callback_query is not None:
            self._later(call(update.callback_query.answer("This bot has no console here.")))


def _read_retries(saved: str | None) -> dict[int, int]:
    """The ``RETRIES`` cursor, "id:attempts,…", as a dict; anything unreadable counts as none."""
    out: dict[int, int] = {}
    for part in (saved or "").split(","):
        update_id, _, attempts = part.partition(":")
        if update_id.isdigit() and attempts.isdigit():
            out[int(update_id)] = int(attempts)
    return out


def _update_of(item: Any, bot: Any) -> Update:
    if not isinstance(item, Mapping) or not isinstance(item.get("update_id"), int):
        raise MalformedPayload("the update has no update_id")
    return Update.de_json(dict(item), bot)
