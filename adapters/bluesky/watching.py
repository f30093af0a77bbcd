"""Watching Bluesky, part of the Bluesky adapter (``adapter.py``).

Watch modes (``platforms.bluesky.watch``), each with its own source and cursor:

* ``jetstream``: Jetstream v2, new ``app.bsky.feed.post`` records; cursor ``seq@microseconds``;
* ``firehose``: ``com.atproto.sync.subscribeRepos`` on a relay or a PDS; same cursor shape;
* ``search``: ``app.bsky.feed.searchPosts`` polling with ``since``; cursor: newest indexedAt.

On first start a stream first reads the configured window back with search (source
``backfill``) and then follows the stream from the moment it started. A reply that mentions
the central account nominates its parent post, in every mode. On a stream, a reply to one of
the central account's posts (its parent or its root is ours) is passed on as a post, tagged or
not: a scheduled chat counts replies to its question as answers (``bot.chats``), and the
pipeline stores an untagged one without queueing it (``no_hashtag``). Search finds such replies
only when they carry a watched tag or mention the account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from atproto_client import models

from adapters.bluesky.connection import (
    BlueskyConnection,
    iso,
    micros,
)
from adapters.bluesky.normalize import (
    AtUri,
    RecordFacts,
    bare_author,
    parse_when,
    post_from_facts,
    read_record,
    view_to_post,
)
from adapters.bluesky.prefilter import NewPost, Notice, Prefilter, StreamEvent, replies_to
from adapters.bluesky.streams import FirehoseStream, JetstreamStream, StreamBroken, firehose_tip
from bot.domain import Author, Batch, MemberRequest, Nomination, Platform, Post, normalize_tag
from bot.errors import MalformedPayload, NotFound, Rejected, Transient
from bot.trust import member_commands

log = logging.getLogger(__name__)

SEARCH, BACKFILL, JETSTREAM, FIREHOSE = "search", "backfill", "jetstream", "firehose"
CURSOR_FLUSH_S = 5.0  # a stream with nothing for us still saves its cursor this often
HEARTBEAT_S = 60.0  # and reports that it is alive this often, when nothing moved at all
SEARCH_MAX_PAGES = 20


@dataclass(frozen=True)
class Position:
    """Where a stream stopped: the last sequence number and the time of that event (µs)."""

    seq: int | None
    us: int | None

    @classmethod
    def parse(cls, value: str | None) -> Position | None:
        if not value:
            return None
        seq, _, us = value.partition("@")
        try:
            return cls(int(seq) if seq else None, int(us) if us else None)
        except ValueError:
            log.warning(
                "ignoring an unreadable stream cursor", extra={"platform": "bluesky", "cursor": value}
            )
            return None

    def __str__(self) -> str:
        return f"{'' if self.seq is None else self.seq}@{'' if self.us is None else self.us}"

    def since(self) -> datetime | None:
        return datetime.fromtimestamp(self.us / 1e6, UTC) if self.us is not None else None


class BlueskyWatching(BlueskyConnection):
    """The watch modes, member requests and nominations, over the connection."""

    # -- watching --------------------------------------------------------------------------------

    async def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        if not tags:
            return
        await self._ensure_session()
        wanted = frozenset(normalize_tag(t) for t in tags)
        mode = self.settings.watch
        if mode == SEARCH:
            async for batch in self._search_watch(wanted, cursors.get(SEARCH), follow):
                yield batch
        else:
            async for batch in self._stream_watch(mode, wanted, cursors.get(mode), follow):
                yield batch

    def _open(self, mode: str, prefilter: Prefilter, position: Position) -> JetstreamStream | FirehoseStream:
        if mode == JETSTREAM:
            resume = position.seq if position.seq is not None else position.us
            return JetstreamStream(
                self.settings.jetstream_url, prefilter, resume, compress=self.settings.jetstream_compress
            )
        return FirehoseStream(self.settings.firehose_url, prefilter, position.seq)

    async def _stream_watch(
        self, mode: str, tags: frozenset[str], stored: str | None, follow: bool
    ) -> AsyncIterator[Batch]:
        started = self.clock.now()
        position = Position.parse(stored)
        tip: int | None = None
        if mode == FIREHOSE and (position is None or position.seq is None):
            # A firehose resumes from a sequence number only. Learn where it is *before* search
            # fills the gap, so nothing falls between the two; and a quiet run --once then
            # still leaves a position the next run resumes the stream from.
            tip = await firehose_tip(
                self.settings.firehose_url,
                quiet_s=self.settings.caught_up_idle_seconds,
                open_timeout=self.settings.request_timeout,
            )
        if position is None:
            async for batch in self._fill_gap(tags, started - self.backfill, "first start"):
                yield batch
            position = Position(tip, micros(started))
        elif position.seq is None and mode == FIREHOSE:
            # A time is no firehose position: search covers the gap since then.
            async for batch in self._fill_gap(tags, position.since() or started - self.backfill, "resuming"):
                yield batch
            position = Position(tip, micros(started))
        prefilter = Prefilter(tags, [await self._me()])
        saved = stored
        last_flush = time.monotonic()
        quiet = self.settings.caught_up_idle_seconds if not follow else CURSOR_FLUSH_S
        while True:
            stream = self._open(mode, prefilter, position)
            await stream.start()
            try:
                while True:
                    items = await stream.take(self.settings.max_batch_events, quiet)
                    if not items:
                        # A quiet hashtag still says the stream is alive, now and then: health
                        # tells a quiet community from a dead connection by it.
                        if str(position) != saved or time.monotonic() - last_flush >= HEARTBEAT_S:
                            saved = str(position)
                            last_flush = time.monotonic()
                            yield Batch(source=mode, cursor=saved)
                        if not follow:
                            return
                        continue
                    batch, position, latest = await self._stream_batch(mode, items, tags, position)
                    caught_up = not follow and latest is not None and latest > started
                    due = time.monotonic() - last_flush >= CURSOR_FLUSH_S
                    found = batch.posts or batch.nominations or batch.requests or batch.malformed
                    if found or due or caught_up:
                        saved = batch.cursor
                        last_flush = time.monotonic()
                        yield batch
                    if caught_up:
                        return
            except StreamBroken as broken:
                position = self._after_break(mode, broken, position, started)
                if broken.name in ("CursorTooOld", "FutureCursor"):
                    since = position.since() or started - self.backfill
                    async for batch in self._fill_gap(tags, since, broken.name):
                        yield batch
                    if mode == FIREHOSE:
                        position = Position(None, micros(self.clock.now()))
            finally:
                await stream.close()

    def _after_break(
        self, mode: str, broken: StreamBroken, position: Position, started: datetime
    ) -> Position:
        """Where to pick the stream up after the server ended it."""
        extra = {"platform": "bluesky", "source": mode, "cursor": str(position), "error": str(broken)}
        if broken.name == "ConsumerTooSlow":
            log.warning("bluesky stream dropped us as too slow; resuming from the cursor", extra=extra)
            return position
        if broken.name == "CursorTooOld":
            # Resume by time (Jetstream clamps it to what it keeps); search covers the gap.
            log.error("bluesky stream no longer has our cursor; some posts may come late", extra=extra)
            return Position(None, position.us if position.us is not None else micros(started - self.backfill))
        if broken.name == "FutureCursor":
            log.error("bluesky stream is behind our cursor (a new relay?); restarting from now", extra=extra)
            return Position(None, position.us)
        raise Transient(f"Bluesky {mode} stream failed: {broken}")

    async def _stream_batch(
        self, mode: str, items: list[StreamEvent | Notice], tags: frozenset[str], position: Position
    ) -> tuple[Batch, Position, datetime | None]:
        batch = Batch(source=mode, cursor=str(position))
        found: list[tuple[NewPost, RecordFacts, bool, bool]] = []
        last: StreamEvent | None = None
        for item in items:
            if isinstance(item, Notice):
                log.warning(
                    "bluesky stream notice",
                    extra={
                        "platform": "bluesky",
                        "source": mode,
                        "notice": item.name,
                        "detail": item.message,
                    },
                )
                continue
            last = item
            batch.malformed += item.malformed
            for new in item.posts:
                if new.did == self.did:
                    continue  # our own posts (digests carry the hashtag) are never candidates
                try:
                    facts = read_record(new.record, fallback_time=item.time())
                except MalformedPayload as exc:
                    batch.malformed += 1
                    log.warning(
                        "skipped malformed post",
                        extra={"platform": "bluesky", "id": new.uri, "error": str(exc)},
                    )
                    continue
                # A post worth passing on: tagged, or a reply to one of ours (a chat's answer).
                answers = replies_to(self.did, facts.reply_parent, facts.reply_root)
                keep = answers or bool(facts.hashtags & tags)
                nominates = facts.reply_parent is not None and self.did in facts.mentions
                if keep or nominates or self._asks(facts):
                    found.append((new, facts, keep, nominates))
        latest = last.time() if last is not None else None
        if last is not None:
            position = Position(last.seq, micros(latest) if latest is not None else position.us)
            batch.cursor = str(position)
        if found:
            await self._fill(batch, found)
        return batch, position, latest

    async def _fill(self, batch: Batch, found: list[tuple[NewPost, RecordFacts, bool, bool]]) -> None:
        """Posts, nominations and members' requests of a batch, with their authors' profiles and
        nominated parents."""
        quoted = [AtUri.parse(facts.quote_of).repo for _, facts, *_ in found if facts.quote_of]
        authors = await self._authors([new.did for new, *_ in found] + quoted)
        nominations: list[tuple[Post, RecordFacts]] = []
        kept: list[Post] = []
        for new, facts, keep, nominates in found:
            author = authors.get(new.did)
            request = self._request(facts, author or bare_author(new.did), new.uri)
            if request is not None:
                batch.requests.append(request)
                continue
            post = post_from_facts(
                new.uri, new.cid, facts, author or bare_author(new.did), web_base=self.settings.web_url
            )
            if keep:
                kept.append(post)
            if nominates:
                nominations.append((post, facts))
        batch.posts.extend(await self._with_profiles(kept))  # read above: from the cache
        batch.nominations.extend(await self._nominated(nominations))

    def _asks(self, facts: RecordFacts) -> tuple[str, str | None] | None:
        """A post that mentions the central account and says only ``optout``, ``optin`` or
        ``link [CODE]`` (mentions aside) is the member asking about themselves."""
        if self.did is None or self.did not in facts.mentions:
            return None
        return member_commands.parse(facts.text)

    def _request(self, facts: RecordFacts, author: Author, uri: str) -> MemberRequest | None:
        """The member's request in a post (never a nomination, even when it is a reply)."""
        asked = self._asks(facts)
        if asked is None:
            return None
        kind, argument = asked
        return MemberRequest(kind, author, Platform.BLUESKY, argument, reply_ref=uri)

    async def _nominated(self, replies: list[tuple[Post, RecordFacts]]) -> list[Nomination]:
        if not replies:
            return []
        views = await self._views(facts.reply_parent for _, facts in replies if facts.reply_parent)
        parents: dict[str, Post] = {}
        for _, facts in replies:
            view = views.get(facts.reply_parent or "")
            if view is None:
                continue
            try:
                parents[facts.reply_parent or ""] = view_to_post(view, web_base=self.settings.web_url)
            except MalformedPayload:
                continue  # said below, once per reply
        read = {p.post_id: p for p in await self._with_profiles(list(parents.values()))}
        out = []
        for reply, facts in replies:
            view = views.get(facts.reply_parent or "")
            if view is None:
                log.info(
                    "nominated post unavailable", extra={"platform": "bluesky", "id": facts.reply_parent}
                )
                continue
            try:
                view_to_post(view, web_base=self.settings.web_url)
            except MalformedPayload as exc:
                log.warning(
                    "skipped malformed nominated post",
                    extra={"platform": "bluesky", "id": facts.reply_parent, "error": str(exc)},
                )
                continue
            parent = read.get(facts.reply_parent or "")
            if parent is None or parent.author.account_id == self.did:
                continue
            out.append(Nomination(post=parent, nominated_by=reply.author, note=reply.text))
        return out

    async def _fill_gap(self, tags: frozenset[str], since: datetime, why: str) -> AsyncIterator[Batch]:
        """Search for what a stream cannot give us (the window before a first start, a gap).
        Best effort: without a search service the stream still starts."""
        log.info("bluesky backfill by search", extra={"platform": "bluesky", "since": iso(since), "why": why})
        try:
            batch = await self._search_pass(tags, since, BACKFILL, None)
        except (Transient, NotFound, Rejected, MalformedPayload) as exc:
            log.warning("bluesky backfill by search failed; watching from now on", extra={"error": str(exc)})
            return
        found = {"posts": len(batch.posts), "requests": len(batch.requests), "malformed": batch.malformed}
        log.info("bluesky backfill read", extra={"platform": "bluesky", **found})
        yield batch

    async def _search_watch(
        self, tags: frozenset[str], stored: str | None, follow: bool
    ) -> AsyncIterator[Batch]:
        cursor: datetime | None = None
        if stored:
            try:
                cursor = parse_when(stored, "search cursor")
            except MalformedPayload:
                log.warning(
                    "ignoring an unreadable search cursor", extra={"platform": "bluesky", "cursor": stored}
                )
        lookback = timedelta(minutes=self.settings.search_lookback_minutes)
        while True:
            since = cursor - lookback if cursor is not None else self.clock.now() - self.backfill
            batch = await self._search_pass(tags, since, SEARCH, cursor)
            if batch.cursor:
                cursor = parse_when(batch.cursor, "search cursor")
            yield batch
            if not follow:
                return
            await self.clock.sleep(self.settings.poll_seconds)

    def _spellings_of(self, tag: str) -> list[str]:
        """How to ask search for ``tag`` (normalised): as the community configured it, and in
        lowercase. Bluesky's own search ignores case and honours ``tag``; the reference AppView
        matches the text as written and ignores ``tag``, so a post written ``#LatinasInMedicine``
        is only found by asking for exactly that."""
        configured = [s for s in self.spellings if normalize_tag(s) == tag]
        return list(dict.fromkeys([*configured, tag]))

    async def _search(self, since: datetime, *, told: bool = False, **query: Any) -> list[dict[str, Any]]:
        """Every post view for one query since ``since``, newest first, page by page (``told``: a
        log line per page, for a backfill someone waits on)."""
        views: list[dict[str, Any]] = []
        page: str | None = None
        for n in range(SEARCH_MAX_PAGES):
            params = models.AppBskyFeedSearchPosts.Params(
                sort="latest", since=iso(since), limit=self.settings.search_page_size, cursor=page, **query
            )
            out = await self._query("app.bsky.feed.searchPosts", params)
            posts = [v for v in out.get("posts") or [] if isinstance(v, dict)]
            views.extend(posts)
            if told and posts:
                back_to = str(posts[-1].get("indexedAt"))
                extra = {"q": query.get("q"), "pages": n + 1, "posts": len(views), "back_to": back_to}
                log.info("bluesky backfill", extra={"platform": "bluesky", **extra, "until": iso(since)})
            page = out.get("cursor") if isinstance(out.get("cursor"), str) else None
            if not posts or not page:
                break
        return views

    async def _search_pass(
        self, tags: frozenset[str], since: datetime, source: str, cursor: datetime | None
    ) -> Batch:
        views: dict[str, dict[str, Any]] = {}
        told = source == BACKFILL  # a first start: page by page in the log; a poll stays quiet
        for tag in sorted(tags):
            for spelling in self._spellings_of(tag):
                for view in await self._search(since, told=told, q=f"#{spelling}", tag=[tag]):
                    views.setdefault(str(view.get("uri")), view)  # found twice, kept once
        mentions: dict[str, dict[str, Any]] = {}
        if self.handle:
            for view in await self._search(since, told=told, q=f"@{self.handle}", mentions=self.handle):
                mentions.setdefault(str(view.get("uri")), view)
        newest = cursor
        batch = Batch(source=source, cursor=None)
        replies: list[tuple[Post, RecordFacts]] = []
        for uri, view in {**views, **mentions}.items():
            indexed = _indexed_at(view)
            if indexed is not None and (newest is None or indexed > newest):
                newest = indexed
            try:
                post = view_to_post(view, web_base=self.settings.web_url)
                facts = read_record(view.get("record"), fallback_time=indexed)
            except MalformedPayload as exc:
                batch.malformed += 1
                log.warning(
                    "skipped malformed post", extra={"platform": "bluesky", "id": uri, "error": str(exc)}
                )
                continue
            if post.author.account_id == self.did:
                continue
            request = self._request(facts, post.author, uri) if uri in mentions else None
            if request is not None:
                batch.requests.append(request)
                continue
            if uri in views and post.hashtags & tags:
                batch.posts.append(post)
            if uri in mentions and facts.reply_parent and self.did in facts.mentions:
                replies.append((post, facts))
        batch.posts = await self._with_profiles(sorted(batch.posts, key=lambda p: (p.created_at, p.post_id)))
        if batch.requests:  # an opt-in is answered with a word on a marker still in the profile
            read = await self._authors(r.author.account_id for r in batch.requests)
            batch.requests = [
                replace(r, author=read.get(r.author.account_id, r.author)) for r in batch.requests
            ]
        batch.nominations.extend(await self._nominated(replies))
        batch.cursor = iso(newest) if newest is not None else None
        return batch


def _indexed_at(view: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_when(view.get("indexedAt"), "indexedAt")
    except MalformedPayload:
        return None
