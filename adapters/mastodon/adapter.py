"""The Mastodon adapter: Mastodon.py (synchronous) run in threads, errors translated at the edge.

Sources: ``hashtag`` (the tag timeline, several tags at once with ``any[]``) and
``mentions`` (notifications in which a member replies to a post mentioning the central
account: a nomination of that post). Both page forward with ``min_id`` until caught up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

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

from adapters.mastodon.normalize import id_key, to_author, to_post
from adapters.mastodon.reach import STATUSES_PER_REQUEST, MastodonReach
from adapters.mastodon.settings import MastodonSettings
from bot.clock import Clock, SystemClock
from bot.domain import Action, Author, Batch, MemberRequest, Nomination, Platform, Post, Receipt, TextLimits
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
from bot.trust import member_commands
from bot.trust.budget import Budget, Limit

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

HASHTAG = "hashtag"
SNOWFLAKE_SHIFT = 16  # Mastodon ids are milliseconds since the epoch << 16, plus a sequence
MENTIONS = "mentions"
BACKFILL_MAX_PAGES = 50
# docs.joinmastodon.org/api/rate-limits: per account, 300 requests in 5 minutes, and of those at
# most 30 deletions or unboosts in 30 minutes.
LIMITS = (Limit("requests", 300, 300.0), Limit("deletes", 30, 1800.0))
_DELETING = frozenset({"status_unreblog", "status_delete"})
# What a broken entity can raise while being read; each costs only that item, never the page.
_ITEM_ERRORS = (MalformedPayload, TypeError, ValueError, AttributeError, KeyError)


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


class MastodonAdapter(MastodonReach, PlatformAdapter):
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

    # -- watching ----------------------------------------------------------------------------

    def _page(self, tags: Sequence[str], **where: str) -> list[Any]:
        # Mastodon answers [] when the tag in the path was never used, whatever ``any[]`` says;
        # the path tag is the first one known to have posts.
        first, *rest = self._ordered(tags)
        params: dict[str, Any] = {
            "_pagination_method": "GET",
            "_pagination_endpoint": f"/api/v1/timelines/tag/{quote(first, safe='')}",
            "limit": self.settings.page_size,
            **where,
        }
        if rest:
            params["any[]"] = list(rest)
        if self.settings.local_only:
            params["local"] = "true"
        # Mastodon.py has no ``any[]`` on timeline_hashtag; its documented pagination-dict
        # form of fetch_previous sends the request as given and still parses the result.
        page: Any = self.client.fetch_previous(params)
        return list(page or [])

    def _ordered(self, tags: Sequence[str]) -> list[str]:
        path = self.path_tag
        if path is not None and path in tags:
            return [path, *(t for t in tags if t != path)]
        return list(tags)

    def _tag_page(self, tags: Sequence[str], **where: str) -> list[Any]:
        """One page, trying each tag as the path tag until one answers (then keeping it)."""
        if self.path_tag is not None:
            return self._page(tags, **where)
        for tag in tags:
            self.path_tag = tag
            page = self._page(tags, **where)
            if page:
                return page
        self.path_tag = None
        return []

    def _lookback_id(self, cursor: str) -> str:
        """A little before the cursor: remote posts that federate late get ids from their own
        (older) creation time, so we re-read a window and let the store drop what it has."""
        if not cursor.isdigit() or int(cursor) < 1 << 40:
            return cursor
        millis = (int(cursor) >> SNOWFLAKE_SHIFT) - int(self.settings.lookback_minutes * 60_000)
        return str(max(0, millis) << SNOWFLAKE_SHIFT)

    def _mentions_page(self, **where: str) -> list[Any]:
        return list(
            self.client.notifications(types=["mention"], limit=self.settings.page_size, **where) or []
        )

    async def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        if not tags:
            return
        positions = dict(cursors)
        while True:
            quiet = True
            async for batch in self._tag_batches(tags, positions.get(HASHTAG)):
                positions[HASHTAG] = batch.cursor
                quiet = False
                yield batch
            async for batch in self._mention_batches(positions.get(MENTIONS)):
                positions[MENTIONS] = batch.cursor
                quiet = False
                yield batch
            if not follow:
                return
            if quiet:  # nothing new, but the server answered: a heartbeat for `bot health`
                yield Batch(source=MENTIONS, cursor=positions.get(MENTIONS))
            await self.clock.sleep(self.settings.poll_seconds)

    async def _tag_batches(self, tags: Sequence[str], cursor: str | None) -> AsyncIterator[Batch]:
        if cursor is None:
            async for batch in self._backfill(tags):
                yield batch
            return  # the backfill read up to the newest post: caught up
        since = self._lookback_id(cursor)
        while True:
            page = await self._call(self._tag_page, tags, min_id=since)
            if not page:
                return
            batch = self._batch(HASHTAG, page, cursor)
            cursor = batch.cursor
            since = _first_id(page)
            yield batch

    async def _backfill(self, tags: Sequence[str]) -> AsyncIterator[Batch]:
        """First start: read back through the configured window, then hand it over oldest first,
        so the cursor only ever moves forward over posts that are already stored."""
        horizon = self.clock.now() - self.backfill
        pages: list[list[Any]] = []
        where: dict[str, str] = {}
        for n in range(BACKFILL_MAX_PAGES):
            page = await self._call(self._tag_page, tags, **where)
            if not page:
                break
            pages.append(page)
            oldest = page[-1]
            log.info(
                "mastodon backfill",
                extra={"platform": "mastodon", "pages": n + 1, "back_to": str(oldest.get("created_at"))},
            )
            try:
                if to_post(oldest, self.domain).created_at < horizon:
                    break
            except MalformedPayload:
                pass
            where = {"max_id": _last_id(page) or str(oldest.get("id"))}
        cursor: str | None = None
        for page in reversed(pages):
            batch = self._batch(HASHTAG, page, cursor)
            cursor = batch.cursor
            yield batch

    def _batch(self, source: str, page: list[Any], cursor: str | None) -> Batch:
        batch = Batch(source=source, cursor=cursor)
        for status in page:
            raw_id = _status_id(status)
            if raw_id is not None and (batch.cursor is None or id_key(raw_id) > id_key(batch.cursor)):
                batch.cursor = raw_id
            try:
                batch.posts.append(to_post(status, self.domain))
            except _ITEM_ERRORS as exc:
                batch.malformed += 1
                log.warning(
                    "skipped malformed status",
                    extra={"platform": "mastodon", "id": _shown_id(status), "error": _why(exc)},
                )
        batch.posts.reverse()  # oldest first, as they were posted
        return batch

    async def _mention_batches(self, cursor: str | None) -> AsyncIterator[Batch]:
        if cursor is None:
            # First start: nominations begin now; older mentions were before the bot's time. But
            # a member's opt-out (or opt-in, or link) counts whenever it was sent.
            page = await self._call(self._mentions_page)
            first = Batch(source=MENTIONS, cursor=_first_id(page) if page else "0")
            for note in page:
                request = self._member_request(note) if isinstance(note, Mapping) else None
                if request is not None:
                    first.requests.append(request)
            yield first
            return
        while True:
            page = await self._call(self._mentions_page, min_id=cursor)
            if not page:
                return
            batch = Batch(source=MENTIONS, cursor=cursor)
            for note in page:
                note_id = _status_id(note)
                if note_id is not None and (batch.cursor is None or id_key(note_id) > id_key(batch.cursor)):
                    batch.cursor = note_id
                if not isinstance(note, Mapping):
                    batch.malformed += 1
                    log.warning("skipped malformed notification", extra={"platform": "mastodon", "id": "?"})
                    continue
                request = self._member_request(note)
                if request is not None:
                    batch.requests.append(request)
                    continue
                nomination = await self._nomination(note)
                if nomination is not None:
                    batch.nominations.append(nomination)
            cursor = batch.cursor
            yield batch

    def _member_request(self, note: Mapping[str, Any]) -> MemberRequest | None:
        """A mention that says only ``optout``, ``optin`` or ``link [CODE]`` is the member asking
        about themselves, never a nomination (even when it replies to a post)."""
        try:
            mention = to_post(note.get("status"), self.domain)
            author = to_author(note.get("account"), self.domain)
        except _ITEM_ERRORS:
            return None  # the nomination path logs it
        parsed = member_commands.parse(mention.text)
        status = note.get("status")
        direct = isinstance(status, Mapping) and status.get("visibility") == "direct"
        if parsed is None and direct and mention.reply_to is None:
            parsed = member_commands.parse_private(mention.text)  # a private message: help if unclear
        if parsed is None or (self.me is not None and author.account_id == self.me.account_id):
            return None
        kind, argument = parsed
        # The answer is a direct status that mentions only the member: private, whatever she sent.
        return MemberRequest(
            kind, author, Platform.MASTODON, argument, reply_ref=mention.post_id, private=True
        )

    async def _nomination(self, note: Mapping[str, Any]) -> Nomination | None:
        """A mention in reply to a post nominates that post (unless it is ours)."""
        try:
            mention = to_post(note.get("status"), self.domain)
            nominator = to_author(note.get("account"), self.domain)
        except _ITEM_ERRORS as exc:
            log.warning(
                "skipped malformed notification",
                extra={"platform": "mastodon", "id": _shown_id(note), "error": _why(exc)},
            )
            return None
        if mention.reply_to is None:
            return None
        try:
            parent = to_post(await self._call(self.client.status, mention.reply_to), self.domain)
        except (NotFound, *_ITEM_ERRORS) as exc:
            log.info(
                "nominated post unavailable",
                extra={"platform": "mastodon", "id": mention.reply_to, "error": str(exc)},
            )
            return None
        if self.me is not None and parent.author.account_id == self.me.account_id:
            return None
        return Nomination(post=parent, nominated_by=nominator, note=mention.text)

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
                found = {_status_id(s) for s in await self._call(self.client.statuses, part)}
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


def _status_id(entity: Any) -> str | None:
    """An entity's id when it is one (Mastodon ids are digits); None for anything else, so a
    broken item can never become a cursor."""
    raw = entity.get("id") if isinstance(entity, Mapping) else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    return raw if isinstance(raw, str) and raw.isdigit() and len(raw) <= 30 else None


def _shown_id(entity: Any) -> str:
    raw = entity.get("id") if isinstance(entity, Mapping) else None
    text = str(raw)[:40] if raw is not None else "?"
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _why(exc: Exception) -> str:
    return str(exc)[:200] if isinstance(exc, MalformedPayload) else f"{type(exc).__name__} reading the entity"


def _first_id(page: list[Any]) -> str:
    """The newest id of a page (pages come newest first): where the next page starts."""
    return max((i for i in map(_status_id, page) if i), key=id_key, default="0")


def _last_id(page: list[Any]) -> str | None:
    """The oldest id of a page: where the page before it ends."""
    return min((i for i in map(_status_id, page) if i), key=id_key, default=None)


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
