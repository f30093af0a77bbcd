"""The Mastodon adapter: Mastodon.py (synchronous) run in threads, errors translated at the edge.

The adapter class is composed of its parts: watching (``watching.py``: the tag timeline and
the mentions), the reach report (``reach.py``), and here the session, the budget and acting
(boosts, undos, series posts, direct messages).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from adapters.mastodon.normalize import to_author, to_post
from adapters.mastodon.reach import STATUSES_PER_REQUEST, MastodonReach
from adapters.mastodon.settings import MastodonSettings
from adapters.mastodon.watching import MastodonWatching, status_id
from bot.clock import Clock, SystemClock
from bot.domain import Action, Author, Platform, Post, Receipt, TextLimits
from bot.errors import (
    MalformedPayload,
    NotFound,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
)
from bot.inert import own_tags
from bot.ports import PlatformAdapter
from bot.trust.budget import Budget, Limit

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# docs.joinmastodon.org/api/rate-limits: per account, 300 requests in 5 minutes, and of those at
# most 30 deletions or unboosts in 30 minutes.
LIMITS = (Limit("requests", 300, 300.0), Limit("deletes", 30, 1800.0))
_DELETING = frozenset({"status_unreblog", "status_delete"})


def translate(exc: Exception, client: Mastodon) -> PlatformError:
    """Mastodon.py's exceptions as ours. Messages keep the status and reason, never credentials."""
    if isinstance(exc, MastodonRatelimitError):
        reset = getattr(client, "ratelimit_reset", None)
        wait = float(reset) - time.time() if reset else 60.0
        return RateLimited(max(1.0, wait), "Mastodon rate limit")
    if isinstance(exc, MastodonNotFoundError):
        return NotFound("Mastodon: not found")
    if isinstance(exc, MastodonUnauthorizedError):
        return Unauthorized("Mastodon: the access token was refused")
    if isinstance(exc, MastodonServerError | MastodonNetworkError):
        return Transient(f"Mastodon unavailable: {type(exc).__name__}")
    if isinstance(exc, MastodonAPIError):
        text = str(exc.args[0]) if exc.args else ""
        if text.startswith("Could not parse response as JSON"):
            return MalformedPayload("Mastodon answered something that is not JSON")
        status = exc.args[1] if len(exc.args) > 1 else "?"
        reason = exc.args[3] if len(exc.args) > 3 else text[:120]
        return Rejected(f"Mastodon refused the request ({status}): {reason}")
    if isinstance(exc, MastodonIllegalArgumentError):
        return Rejected(f"Mastodon: {exc}")
    return Transient(f"Mastodon: {type(exc).__name__}")


class MastodonAdapter(MastodonWatching, MastodonReach, PlatformAdapter):
    platform = Platform.MASTODON
    limits = TextLimits(max_length=500, counting="chars", link_length=23)
    amplify_is_idempotent = True  # a second reblog of the same status returns the first

    def __init__(
        self,
        client: Mastodon,
        settings: MastodonSettings,
        *,
        backfill: timedelta = timedelta(hours=72),
        clock: Clock | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.backfill = backfill
        self.clock = clock or SystemClock()
        self.budget = budget or Budget(LIMITS, self.clock, name="Mastodon")
        self.domain = urlsplit(settings.api_base_url).hostname or "localhost"
        self.me: Author | None = None
        self.path_tag: str | None = None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        costs = {"requests": 1}
        deleting = getattr(fn, "__name__", "") in _DELETING
        if deleting:
            costs["deletes"] = 1
        await self.budget.spend(costs)
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except MastodonError as exc:
            raise translate(exc, self.client) from exc
        except RecursionError as exc:  # a version probe (client_for names the version, so none is due)
            raise Transient("Mastodon unavailable: its version could not be read") from exc
        finally:
            # Mastodon's headers speak of the limit nearest to being reached: after an unboost or
            # a delete, that is the deletions' own.
            self._observe_limits("deletes" if deleting else "requests")

    def _observe_limits(self, unit: str) -> None:
        """What the server's rate-limit headers said is left, shared by every worker on the account."""
        reset = getattr(self.client, "ratelimit_reset", None)
        remaining = getattr(self.client, "ratelimit_remaining", None)
        limit = getattr(self.client, "ratelimit_limit", None)
        if isinstance(reset, int | float) and isinstance(remaining, int):
            self.budget.observe(
                unit,
                remaining=remaining,
                limit=limit if isinstance(limit, int) else None,
                reset_in=float(reset) - time.time(),
            )

    async def start(self) -> None:
        try:
            instance = await self._call(self.client.instance)
        except NotFound:  # a server older than 4.0 has only the v1 document
            instance = await self._call(self.client.instance_v1)
        domain = instance.get("domain") or instance.get("uri")
        if isinstance(domain, str) and domain:
            self.domain = urlsplit(domain).hostname or domain if "//" in domain else domain
        account = await self._call(self.client.account_verify_credentials)
        self.me = to_author(account, self.domain)
        log.info("mastodon connected", extra={"platform": "mastodon", "account": self.me.handle})

    # -- acting ------------------------------------------------------------------------------

    async def resolve(self, url_or_ref: str) -> Post:
        if url_or_ref.isdigit():
            return to_post(await self._call(self.client.status, url_or_ref), self.domain)
        found = await self._call(self.client.search_v2, url_or_ref, resolve=True, result_type="statuses")
        statuses = found.get("statuses") or []
        if not statuses:
            raise NotFound(f"Mastodon: no post at {url_or_ref}")
        return to_post(statuses[0], self.domain)

    async def amplify(self, post: Post, action: Action) -> Receipt:
        if action is not Action.BOOST:
            raise Rejected(f"Mastodon cannot {action.value} a post")
        try:
            current = await self._call(self.client.status, post.post_id)
        except NotFound:
            # Not known to our server under that id: a post from elsewhere, resolve it first.
            current = await self._call(self._resolve_raw, post.url)
        status_id = str(current["id"])
        if current.get("reblogged"):
            return Receipt(Platform.MASTODON, action, status_id, current.get("url"), already=True)
        await self._call(self.client.status_reblog, status_id)
        # Curators want to open the post that was boosted, not the boost's activity URI.
        return Receipt(Platform.MASTODON, action, status_id, current.get("url"))

    def _resolve_raw(self, url: str) -> Any:
        found = self.client.search_v2(url, resolve=True, result_type="statuses")
        statuses = found.get("statuses") or []
        if not statuses:
            raise MastodonNotFoundError("not found")
        return statuses[0]

    async def undo(self, receipt: Receipt) -> None:
        try:
            if receipt.action is Action.BOOST:
                await self._call(self.client.status_unreblog, receipt.ref)
            else:
                await self._call(self.client.status_delete, receipt.ref)
        except NotFound:
            return  # already gone: undoing is done

    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        text = self.inert(text)  # the last look: no mention, foreign hashtag or command goes out
        # The idempotency key makes a retried post (after a timeout) land once.
        key = hashlib.sha256(f"{reply_to.ref if reply_to else ''}\n{text}".encode()).hexdigest()[:32]
        status = await self._call(
            self.client.status_post,
            text,
            in_reply_to_id=reply_to.ref if reply_to else None,
            visibility="public",
            idempotency_key=key,
        )
        return Receipt(Platform.MASTODON, Action.PUBLISH, str(status["id"]), status.get("url"))

    async def fetch_author(self, author: Author) -> Author | None:
        try:
            return to_author(await self._call(self.client.account, author.account_id), self.domain)
        except NotFound:
            return None

    async def send_direct(self, author: Author, text: str, reply_to: str | None = None) -> Receipt | None:
        """A direct-visibility status mentioning the member, under their message when it still exists.

        Every account a direct status mentions is one of its recipients, so only the member's own
        handle is left live: the text after it is made inert, and a handle that is not one is
        refused rather than sent somewhere it might reach someone else."""
        # A member of our own server is written as Mastodon writes them, without the server: on
        # a server whose address carries a port, "@name@host:port" would not become a mention.
        handle = author.handle.lstrip("@").removesuffix("@" + self.domain)
        if not _ADDRESSABLE.fullmatch(handle):
            raise Rejected("Mastodon: the member's handle cannot be addressed in a direct message")
        body = f"@{handle} {self.inert(text)}"
        key = hashlib.sha256(f"direct\n{author.account_id}\n{reply_to}\n{text}".encode()).hexdigest()[:32]
        where = reply_to if reply_to and reply_to.isdigit() else None
        try:
            status = await self._call(
                self.client.status_post, body, in_reply_to_id=where, visibility="direct", idempotency_key=key
            )
        except NotFound:
            if where is None:
                raise
            status = await self._call(self.client.status_post, body, visibility="direct", idempotency_key=key)
        return Receipt(Platform.MASTODON, Action.PUBLISH, str(status["id"]), status.get("url"))

    async def posts_gone(self, posts: Sequence[Post]) -> set[str]:
        """Looked up 20 at a time; each one missing is confirmed on its own (a 404) before it
        counts as deleted, so a hiccup or an older server never takes back a live boost."""
        ids = list(dict.fromkeys(p.post_id for p in posts if p.post_id.isdigit()))
        missing: list[str] = []
        for i in range(0, len(ids), STATUSES_PER_REQUEST):
            part = ids[i : i + STATUSES_PER_REQUEST]
            try:
                found = {status_id(s) for s in await self._call(self.client.statuses, part)}
            except NotFound:  # a server without GET /api/v1/statuses (before 4.3): ask one by one
                found = set()
            missing += [pid for pid in part if pid not in found]
        gone = set()
        for pid in missing:
            try:
                await self._call(self.client.status, pid)
            except NotFound:
                gone.add(pid)
        return gone


# A handle Mastodon reads as exactly one mention: user, or user@domain (its MENTION_RE).
_ADDRESSABLE = re.compile(r"[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*(?:@[\w-]+(?:\.[\w-]+)+)?")


# The oldest Mastodon the adapter works with (it needs /api/v2/instance and /api/v2/search).
MINIMUM_VERSION = "4.0.0"


def client_for(settings: MastodonSettings) -> Mastodon:
    """The Mastodon.py client as the adapter needs it: rate limits raise instead of sleeping in
    a worker thread, and no version probing. Without a version given, Mastodon.py probes
    /api/v1/instance the first time instance() or search_v2() asks "at least 4.0?", and when that
    one request fails it asks itself again until the stack runs out (a RecursionError instead of
    an error we can translate); naming the version we need makes it never probe. (In the "none"
    mode Mastodon.py records that a version was given but not which, hence the three numbers.)"""
    client = Mastodon(
        api_base_url=settings.api_base_url,
        access_token=settings.access_token,
        ratelimit_method="throw",
        request_timeout=settings.request_timeout,
        mastodon_version=MINIMUM_VERSION,
        version_check_mode="none",
        user_agent="coalesce",
    )
    major, minor, patch = (int(part) for part in MINIMUM_VERSION.split("."))
    client.mastodon_major, client.mastodon_minor, client.mastodon_patch = major, minor, patch
    return client


def create(settings: MastodonSettings, app: Settings) -> MastodonAdapter:
    client = client_for(settings)
    adapter = MastodonAdapter(client, settings, backfill=timedelta(hours=app.curation.max_age_hours))
    adapter.budget.fraction = app.trust.budget_fraction
    adapter.own_tags = own_tags(app)
    return adapter
