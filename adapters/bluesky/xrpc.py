"""The edge between the atproto SDK and Coalesce: its errors as ours, and the write budget.

Bluesky limits writes in points (a create costs 3, an update 2, a delete 1; 5,000 an hour and
35,000 a day per account) and says where a caller stands in ``ratelimit-*`` headers on every
answer. We read those headers from every response, keep our own hourly count of points well
under the limit, and turn "too much" into RateLimited before the server has to.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    LoginRequiredError,
    ModelError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_core.exceptions import AtProtocolError

from bot.clock import Clock
from bot.errors import (
    MalformedPayload,
    NotFound,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
)

log = logging.getLogger(__name__)

CREATE_POINTS, UPDATE_POINTS, DELETE_POINTS = 3, 2, 1
WRITE_NSIDS = frozenset(
    {
        "com.atproto.repo.createRecord",
        "com.atproto.repo.putRecord",
        "com.atproto.repo.deleteRecord",
        "com.atproto.repo.applyWrites",
    }
)
# Error names that mean "this session is over" (as opposed to "these credentials are wrong").
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})
GONE_ERRORS = frozenset({"RecordNotFound", "NotFound", "PostNotFound", "RepoNotFound"})
DEFAULT_WAIT_S = 60.0


def error_name(exc: BaseException) -> str | None:
    """The XRPC error name (``ExpiredToken``, ``RecordNotFound``…) of an SDK request error."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        if isinstance(content, XrpcError):
            return str(content.error)
        if isinstance(content, Mapping) and isinstance(content.get("error"), str):
            return str(content["error"])
    return None


def _message(exc: RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        text = f"{content.error}: {content.message}" if content.message else str(content.error)
    else:
        text = str(exc.response.status_code) if exc.response is not None else type(exc).__name__
    return text[:200]


def is_session_error(exc: BaseException) -> bool:
    """The stored session (access or refresh token) is no longer accepted: log in again."""
    if isinstance(exc, LoginRequiredError):
        return True
    if isinstance(exc, UnauthorizedError | BadRequestError):
        return error_name(exc) in SESSION_ERRORS
    return False


def translate(exc: BaseException, now: datetime) -> PlatformError:
    """An SDK exception as one of ours. Messages carry the XRPC error, never a token."""
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, RateLimitExceededError):
        wait = exc.retry_after
        if wait is None and exc.reset_at is not None:
            wait = (exc.reset_at - now).total_seconds()
        return RateLimited(max(1.0, wait if wait is not None else DEFAULT_WAIT_S), "Bluesky rate limit")
    if isinstance(exc, InvokeTimeoutError | NetworkError):
        status = exc.response.status_code if exc.response is not None else None
        return Transient(f"Bluesky unavailable ({status or type(exc).__name__})")
    if isinstance(exc, LoginRequiredError):
        return Unauthorized("Bluesky: not logged in")
    if isinstance(exc, RequestErrorBase):
        name = error_name(exc)
        status = exc.response.status_code if exc.response is not None else 0
        if name in GONE_ERRORS or status == 404:
            return NotFound(f"Bluesky: {_message(exc)}")
        if isinstance(exc, UnauthorizedError) or name in SESSION_ERRORS:
            return Unauthorized(f"Bluesky refused the session or credentials ({_message(exc)})")
        if status >= 500 or status == 0:
            return Transient(f"Bluesky unavailable ({_message(exc)})")
        return Rejected(f"Bluesky refused the request ({_message(exc)})")
    if isinstance(exc, ModelError):
        return MalformedPayload(f"Bluesky answered something we cannot read ({type(exc).__name__})")
    if isinstance(exc, AtProtocolError):
        return Transient(f"Bluesky: {type(exc).__name__}")
    return Transient(f"Bluesky: {type(exc).__name__}")


@dataclass
class Window:
    remaining: int
    reset_at: float  # unix seconds
    limit: int | None = None


class RateBudget:
    """What the server last said about our budget, per route (writes share one).

    ``observe`` is an httpx response hook; it runs for every answer, errors included.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, Window] = {}

    @staticmethod
    def key(path: str) -> str:
        nsid = path.rstrip("/").rpartition("/")[2]
        return "write" if nsid in WRITE_NSIDS else nsid

    async def observe(self, response: Any) -> None:
        headers = response.headers
        remaining, reset = headers.get("ratelimit-remaining"), headers.get("ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            window = Window(int(remaining), float(reset), _int_or_none(headers.get("ratelimit-limit")))
        except ValueError:
            return
        with self._lock:
            self._windows[self.key(response.request.url.path)] = window

    def window(self, key: str) -> Window | None:
        with self._lock:
            return self._windows.get(key)

    def check(self, key: str, points: int, now: datetime) -> None:
        """Raise RateLimited when the last answer said ``points`` more would be refused."""
        window = self.window(key)
        if window is None:
            return
        wait = window.reset_at - now.timestamp()
        if wait > 0 and window.remaining < points:
            raise RateLimited(wait, f"Bluesky budget for {key} spent until the window resets")


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class WritePacer:
    """Our own hourly count of write points, so the bot stays well under Bluesky's limit."""

    def __init__(self, clock: Clock, points_per_hour: int) -> None:
        self.clock = clock
        self.points_per_hour = points_per_hour
        self._spent: deque[tuple[datetime, int]] = deque()

    def used(self) -> int:
        horizon = self.clock.now() - timedelta(hours=1)
        while self._spent and self._spent[0][0] <= horizon:
            self._spent.popleft()
        return sum(p for _, p in self._spent)

    def reserve(self, points: int) -> None:
        """Count ``points`` as spent now, or raise RateLimited until enough of the hour has passed."""
        used = self.used()
        if used + points > self.points_per_hour:
            need = used + points - self.points_per_hour
            freed = 0
            for when, spent in self._spent:
                freed += spent
                if freed >= need:
                    wait = (when + timedelta(hours=1) - self.clock.now()).total_seconds()
                    raise RateLimited(max(1.0, wait), "Bluesky write pacing")
            raise RateLimited(3600.0, "Bluesky write pacing")
        self._spent.append((self.clock.now(), points))
