"""python-telegram-bot's exceptions as ours, at the adapter's edge; messages never carry the token."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TypeVar

from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from adapters.telegram.pacer import retry_after_seconds
from bot.errors import (
    MalformedPayload,
    NotFound,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
)

T = TypeVar("T")
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


def _said(exc: TelegramError) -> str:
    return _TOKEN.sub("bot***", exc.message)[:200]


def translate(exc: TelegramError) -> PlatformError:
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_after_seconds(exc), "Telegram flood control")
    if isinstance(exc, InvalidToken):
        return Unauthorized("Telegram: the bot token was refused")
    if isinstance(exc, Forbidden):
        return Rejected(f"Telegram refused: {_said(exc)}")
    if isinstance(exc, BadRequest):
        if "not found" in exc.message.lower():
            return NotFound(f"Telegram: {_said(exc)}")
        return Rejected(f"Telegram refused the request: {_said(exc)}")
    if isinstance(exc, TimedOut):
        return Transient("Telegram did not answer in time")
    if isinstance(exc, Conflict):
        return Transient("Telegram: another process is reading this bot's updates (one worker only)")
    if isinstance(exc, NetworkError):
        return Transient(f"Telegram unavailable: {_said(exc)}")
    if "invalid server response" in exc.message.lower():
        return MalformedPayload("Telegram answered something that is not JSON")
    return Transient(f"Telegram: {_said(exc)}")


async def call(request: Awaitable[T]) -> T:
    """Await one Bot API call, with its failure in our terms."""
    try:
        return await request
    except TelegramError as exc:
        raise translate(exc) from exc
