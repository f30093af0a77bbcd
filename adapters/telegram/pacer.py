"""Keeps the bot within Telegram's flood limits, on the injected clock, one chat at a time.

A python-telegram-bot rate limiter. Messages sent into a chat (send, copy, forward) are paced
per chat with a sliding window — in any minute at most ``group_per_minute`` in a group or
channel, in any second at most ``private_per_second`` in a private chat — and all requests that
name a chat share the bot-wide window. A window, unlike a token bucket, never lets a full burst
follow a full minute, so the bot stays under the limit however Telegram counts.

A ``RetryAfter`` pauses only the chat it came from (the whole bot when no chat was named). Each
call says how long it may wait through ``rate_limit_args`` (its *patience*, in seconds): the
console waits as long as it takes (None), the amplifier waits hardly at all and gets
``RateLimited`` back, so a flood on Telegram never holds up another platform's boosts.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.clock import Clock
from bot.errors import RateLimited

log = logging.getLogger(__name__)

# Methods that put a message into a chat: these count against the chat's own limit.
SENDING = frozenset(
    {
        "sendMessage",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendMediaGroup",
        "sendPoll",
    }
)

Key = int | str | None  # a chat, or None for the whole bot


class _Window:
    """At most ``limit`` events in any ``period`` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.times: collections.deque[float] = collections.deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.period - now

    def take(self, now: float) -> None:
        self.times.append(now)


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on every read of the public int attribute; the timedelta behind it is quiet.
    period = getattr(exc, "_retry_after", None)
    return period.total_seconds() if period is not None else 1.0


class Pacer(BaseRateLimiter[float]):
    def __init__(
        self,
        clock: Clock,
        *,
        group_per_minute: int = 18,
        private_per_second: float = 1.0,
        overall_per_second: int = 25,
        max_retries: int = 3,
    ) -> None:
        self.clock = clock
        self.group_per_minute = group_per_minute
        self.private_period = 1.0 / private_per_second
        self.max_retries = max_retries
        self._overall = _Window(overall_per_second, 1.0)
        self._windows: dict[Key, _Window] = {}
        self._locks: dict[tuple[Key, bool], asyncio.Lock] = {}
        self._paused: dict[Key, float] = {}
        self.retry_afters = 0  # RetryAfter answers seen: the test of pacing is that this stays 0
        self.on_retry_after: Callable[[Key, float], None] | None = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _window(self, chat: Key) -> _Window:
        window = self._windows.get(chat)
        if window is None:
            private = isinstance(chat, int) and chat > 0
            window = _Window(1, self.private_period) if private else _Window(self.group_per_minute, 60.0)
            self._windows[chat] = window
        return window

    def _wait(self, chat: Key, sending: bool, now: float) -> float:
        wait = max(self._paused.get(None, 0.0), self._paused.get(chat, 0.0)) - now
        if chat is not None:
            wait = max(wait, self._overall.wait(now))
            if sending:
                wait = max(wait, self._window(chat).wait(now))
        return max(wait, 0.0)

    async def _admit(self, chat: Key, sending: bool, patience: float | None) -> None:
        # First come, first served among the sends to one chat; an edit or an answer never
        # queues behind a card that waits for the chat's window.
        lock = self._locks.setdefault((chat, sending), asyncio.Lock())
        async with lock:
            while True:
                now = self._now()
                wait = self._wait(chat, sending, now)
                if wait <= 0:
                    if chat is not None:
                        self._overall.take(now)
                        if sending:
                            self._window(chat).take(now)
                    return
                if patience is not None and wait > patience:
                    raise RateLimited(wait, "Telegram flood limit")
                await self.clock.sleep(wait)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: float | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = _chat_key(data.get("chat_id"))
        sending = endpoint in SENDING
        retries = 0
        while True:
            await self._admit(chat, sending, rate_limit_args)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                self.retry_afters += 1
                self._paused[chat] = max(self._paused.get(chat, 0.0), self._now() + wait)
                log.warning(
                    "Telegram asked us to slow down",
                    extra={"platform": "telegram", "method": endpoint, "retry_after_s": wait},
                )
                if self.on_retry_after is not None:
                    self.on_retry_after(chat, wait)
                retries += 1
                patience = rate_limit_args
                if retries > self.max_retries or (patience is not None and wait > patience):
                    raise


def _chat_key(chat_id: Any) -> Key:
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    try:
        return int(text)
    except ValueError:
        return text.lower()  # a @channelname
