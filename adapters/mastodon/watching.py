"""Watching Mastodon, mixed into the Mastodon adapter. Sources: ``hashtag`` (the tag timeline,
several tags at once with ``any[]``) and ``mentions`` (notifications in which a member replies
to a post mentioning the central account: a nomination of that post; or asks about her own
consent). Both page forward with ``min_id`` until caught up.

A mention that replies to one of the central account's own statuses, and is no member command,
is passed on as a post, tagged or not: a scheduled chat counts replies to its question as
answers (``bot.chats``), and the pipeline stores an untagged one without queueing it
(``no_hashtag``). Only public and unlisted replies are passed on: a followers-only or private
one was not written for a public recap. (Mastodon notifies a reply that keeps the client's
``@account`` prefix; one whose author deleted it reaches no notification and is not seen.)"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from mastodon import Mastodon

from adapters.mastodon.normalize import id_key, to_author, to_post
from adapters.mastodon.settings import MastodonSettings
from bot.clock import Clock
from bot.domain import Author, Batch, MemberRequest, Nomination, Platform, Post
from bot.errors import MalformedPayload, NotFound
from bot.trust import member_commands

log = logging.getLogger(__name__)
T = TypeVar("T")

HASHTAG = "hashtag"
SNOWFLAKE_SHIFT = 16  # Mastodon ids are milliseconds since the epoch << 16, plus a sequence
MENTIONS = "mentions"
BACKFILL_MAX_PAGES = 50
ANSWER_VISIBILITY = ("public", "unlisted")  # a reply to us that may be stored, counted and quoted

# What a broken entity can raise while being read; each costs only that item, never the page.
_ITEM_ERRORS = (MalformedPayload, TypeError, ValueError, AttributeError, KeyError)


class MastodonWatching:
    """Mixed into the Mastodon adapter; uses its client, settings, clock and error translation."""

    client: Mastodon
    settings: MastodonSettings
    clock: Clock
    backfill: timedelta
    domain: str
    me: Author | None
    path_tag: str | None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError  # provided by MastodonAdapter

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
            # what a person watching a first start sees: how much is read, and how far back of how far
            log.info(
                "mastodon backfill",
                extra={
                    "platform": "mastodon",
                    "pages": n + 1,
                    "of_at_most": BACKFILL_MAX_PAGES,
                    "posts": sum(len(p) for p in pages),
                    "back_to": str(oldest.get("created_at")),
                    "until": horizon.isoformat(),
                },
            )
            try:
                if to_post(oldest, self.domain).created_at < horizon:
                    break
            except MalformedPayload:
                pass
            where = {"max_id": _last_id(page) or str(oldest.get("id"))}
        read = sum(len(p) for p in pages)
        log.info("mastodon backfill read", extra={"platform": "mastodon", "pages": len(pages), "posts": read})
        cursor: str | None = None
        for page in reversed(pages):
            batch = self._batch(HASHTAG, page, cursor)
            cursor = batch.cursor
            yield batch

    def _batch(self, source: str, page: list[Any], cursor: str | None) -> Batch:
        batch = Batch(source=source, cursor=cursor)
        for status in page:
            raw_id = status_id(status)
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
                note_id = status_id(note)
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
                answer = self._reply_to_us(note)
                if answer is not None:  # ours is never nominated: a reply to it is a post
                    batch.posts.append(answer)
                    continue
                nomination = await self._nomination(note)
                if nomination is not None:
                    batch.nominations.append(nomination)
            batch.posts.reverse()  # oldest first, as they were posted
            cursor = batch.cursor
            yield batch

    def _reply_to_us(self, note: Mapping[str, Any]) -> Post | None:
        """The mention as a post when it is a public reply to one of the central account's
        statuses by someone else; None otherwise (a broken one is logged by the nomination path).
        The server sets ``in_reply_to_account_id`` from the parent it holds."""
        me = self.me.account_id if self.me is not None else None
        status = note.get("status")
        if me is None or not isinstance(status, Mapping):
            return None
        if status.get("visibility") not in ANSWER_VISIBILITY or status.get("reblog") is not None:
            return None
        parent_account = status.get("in_reply_to_account_id")
        if parent_account is None or str(parent_account) != me or status.get("in_reply_to_id") is None:
            return None
        try:
            post = to_post(status, self.domain)
        except _ITEM_ERRORS:
            return None
        return None if post.author.account_id == me else post

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


def status_id(entity: Any) -> str | None:
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
    return max((i for i in map(status_id, page) if i), key=id_key, default="0")


def _last_id(page: list[Any]) -> str | None:
    """The oldest id of a page: where the page before it ends."""
    return min((i for i in map(status_id, page) if i), key=id_key, default=None)
