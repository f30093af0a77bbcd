"""The one error tree of Coalesce. Adapters translate library errors into these at their edge.

CoalesceError
├── ConfigError            a config key is missing, unknown or of the wrong shape
├── UsageError             a command typed wrong (an unknown curator, a time it cannot read)
├── QueueError             a curator action that the queue refuses (wrong state, own post…)
├── SeriesError            an opportunity, interview or file the series refuse (bad url, no consent…)
├── DirectoryError         a member the directory cannot find, or cannot tell apart
└── PlatformError          anything a platform call can end in
    ├── RateLimited        slow down; ``retry_after`` seconds from now
    ├── Unauthorized       credentials are wrong or expired
    ├── NotFound           the post or account is gone
    ├── Rejected           the platform refused the request as such (4xx); retrying won't help
    ├── Transient          timeouts, 5xx, dropped connections; retry with backoff
    └── MalformedPayload   the platform answered something we cannot parse
"""

from __future__ import annotations


class CoalesceError(Exception):
    """Root of every error Coalesce raises on purpose."""


class ConfigError(CoalesceError):
    """A config problem, named by its key path (``platforms.mastodon.access_token``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class UsageError(CoalesceError):
    """What a person typed cannot be taken as it is (exit code 2); the message says what to type."""


class QueueError(CoalesceError):
    """A curator action the queue cannot take, with a reason a curator can read."""


class SeriesError(CoalesceError):
    """An input or action the series refuse, saying which entry or field and why."""


class DirectoryError(CoalesceError):
    """A member the directory cannot find or tell apart, with what to try instead."""


class PlatformError(CoalesceError):
    """A platform call failed. ``retryable`` says whether the same call may succeed later."""

    retryable = False


class RateLimited(PlatformError):
    retryable = True

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:.0f}s)")
        self.retry_after = max(0.0, retry_after)


class Unauthorized(PlatformError):
    pass


class NotFound(PlatformError):
    pass


class Rejected(PlatformError):
    pass


class Transient(PlatformError):
    retryable = True


class MalformedPayload(PlatformError):
    # A garbled answer is most often a proxy or a connection cut short: the same call may well
    # succeed, and amplifying or undoing again is safe (adapters make it idempotent or say not).
    retryable = True
