"""The Bluesky adapter: the atproto SDK's async client and stream clients, errors translated at
the edge, one login kept for as long as Bluesky accepts it.

Watch modes (``platforms.bluesky.watch``), each with its own source and cursor:

* ``jetstream``: Jetstream v2, new ``app.bsky.feed.post`` records; cursor ``seq@microseconds``;
* ``firehose``: ``com.atproto.sync.subscribeRepos`` on a relay or a PDS; same cursor shape;
* ``search``: ``app.bsky.feed.searchPosts`` polling with ``since``; cursor: newest indexedAt.

On first start a stream first reads the configured window back with search (source
``backfill``) and then follows the stream from the moment it started. A reply that mentions
the central account nominates its parent post, in every mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from atproto_client import AsyncClient, models
from atproto_client.client.session import SessionEvent
from atproto_client.request import AsyncRequest
from atproto_core.exceptions import AtProtocolError

from adapters.bluesky import richtext
from adapters.bluesky.normalize import (
    POST,
    REPOST,
    AtUri,
    RecordFacts,
    bare_author,
    parse_when,
    post_from_facts,
    read_record,
    to_author,
    view_to_post,
    viewer_repost,
    web_url,
)
from adapters.bluesky.prefilter import NewPost, Notice, Prefilter, StreamEvent
from adapters.bluesky.reach import BlueskyReach
from adapters.bluesky.session import SessionVault, session_key
from adapters.bluesky.settings import BlueskySettings
from adapters.bluesky.streams import FirehoseStream, JetstreamStream, StreamBroken, firehose_tip
from adapters.bluesky.xrpc import (
    CREATE_POINTS,
    DELETE_POINTS,
    RateBudget,
    WritePacer,
    error_name,
    is_session_error,
    translate,
)
from bot.clock import Clock, SystemClock
from bot.domain import (
    Action,
    Author,
    Batch,
    MemberRequest,
    Nomination,
    Platform,
    Post,
    Receipt,
    normalize_tag,
)
from bot.errors import (
    MalformedPayload,
    NotFound,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
)
from bot.inert import own_tags
from bot.ports import PlatformAdapter
from bot.text import length, split_thread
from bot.trust import member_commands

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

SEARCH, BACKFILL, JETSTREAM, FIREHOSE = "search", "backfill", "jetstream", "firehose"
PROFILE_TTL_S = 120.0  # opt-out markers and signals live in profiles; read them again after this long
CURSOR_FLUSH_S = 5.0  # a stream with nothing for us still saves its cursor this often
HEARTBEAT_S = 60.0  # and reports that it is alive this often, when nothing moved at all
# Password logins this process allows itself per window (Bluesky allows 30 per 5 minutes): a
# session that keeps being refused must not burn the account's logins in a loop.
LOGINS_PER_WINDOW, LOGIN_WINDOW_S = 3, 300.0
SEARCH_MAX_PAGES = 20
PER_CALL = 25  # getPosts and getProfiles take at most 25 at a time
OWN_RECORDS_PAGE = 100
PUBLISH_DEDUP = timedelta(minutes=10)
_LOGIN_REFUSED = frozenset(
    {"AuthenticationRequired", "AccountTakedown", "AccountDeactivated", "InvalidRequest"}
)


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


def micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_client(service_url: str, *, timeout: float = 30.0, budget: RateBudget | None = None) -> AsyncClient:
    """The SDK's async client, with a response hook that reads the rate-limit headers."""
    hooks = {"response": [budget.observe]} if budget is not None else {}
    return AsyncClient(base_url=service_url, request=AsyncRequest(timeout=timeout, event_hooks=hooks))


class BlueskyAdapter(BlueskyReach, PlatformAdapter):
    platform = Platform.BLUESKY
    limits = richtext.LIMITS
    inert_rules = None  # facets declare every link, tag and mention: richtext.build keeps them inert
    amplify_is_idempotent = True  # the post view's viewer.repost, or our own record, says "done"

    def __init__(
        self,
        client: AsyncClient,
        settings: BlueskySettings,
        *,
        vault: SessionVault | None = None,
        budget: RateBudget | None = None,
        backfill: timedelta = timedelta(hours=72),
        languages: Sequence[str] = (),
        clock: Clock | None = None,
        spellings: Sequence[str] = (),
    ) -> None:
        self.client = client
        # The hashtags as the community writes them (``#LatinasInMedicine``): an AppView whose
        # search matches text case-sensitively is asked for each, and for the lowercase form.
        self.spellings = tuple(dict.fromkeys(t.lstrip("#＃") for t in spellings if t.lstrip("#＃")))
        self.settings = settings
        self.vault = vault
        self.budget = budget or RateBudget()
        self.backfill = backfill
        self.languages = tuple(languages)[:3]
        self.clock = clock or SystemClock()
        self.pacer = WritePacer(self.clock, settings.write_points_per_hour)
        self.did: str | None = None
        self.handle: str | None = None
        self._ready = False
        self._login_lock = asyncio.Lock()
        self._login_times: deque[float] = deque()
        self.logins = 0  # password logins this adapter made (a stored session needs none)
        self._profiles: dict[str, tuple[float, Author]] = {}
        self._no_appview_warned = False
        client.on_session_change(self._session_changed)

    # -- session -------------------------------------------------------------------------------

    async def _session_changed(self, event: SessionEvent, session: Any) -> None:
        self.did, self.handle = session.did, session.handle
        if event is SessionEvent.IMPORT or self.vault is None:
            return
        try:
            await asyncio.to_thread(self.vault.save, session.export(), self.clock.now())
        except Exception as exc:  # the session still works in memory; the next start logs in
            log.warning(
                "could not store the Bluesky session", extra={"platform": "bluesky", "error": repr(exc)}
            )

    async def start(self) -> None:
        await self._ensure_session()
        log.info("bluesky connected", extra={"platform": "bluesky", "account": self.handle, "did": self.did})

    async def close(self) -> None:
        await self.client.request.close()
        if self.vault is not None:
            await asyncio.to_thread(self.vault.close)

    async def _ensure_session(self) -> None:
        if self._ready:
            return
        async with self._login_lock:
            if self._ready:
                return
            if await self._resume_stored():
                self._ready = True
                return
            await self._password_login()
            self._ready = True

    async def _resume_stored(self) -> bool:
        """Pick up the stored session (the SDK refreshes it when it is due). False: log in."""
        if self.vault is None:
            return False
        stored = await asyncio.to_thread(self.vault.load, self.clock.now())
        if not stored:
            return False
        try:
            await self.client.login(session_string=stored, fetch_bsky_profile=False)
            await self.client.com.atproto.server.get_session()
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            err = translate(exc, self.clock.now())
            if isinstance(err, Transient | RateLimited) and not is_session_error(exc):
                raise err from exc  # the network or the server, not the session: keep it for later
            log.info(
                "stored Bluesky session no longer accepted; logging in",
                extra={"platform": "bluesky", "reason": error_name(exc) or type(exc).__name__},
            )
            return False
        return True

    async def _password_login(self) -> None:
        now = time.monotonic()
        while self._login_times and now - self._login_times[0] >= LOGIN_WINDOW_S:
            self._login_times.popleft()
        if len(self._login_times) >= LOGINS_PER_WINDOW:
            wait = LOGIN_WINDOW_S - (now - self._login_times[0])
            raise RateLimited(wait, "Bluesky keeps refusing the session; not logging in again yet")
        self._login_times.append(now)
        account = self.settings.account
        try:
            await self.client.login(account, self.settings.app_password, fetch_bsky_profile=False)
        except AtProtocolError as exc:
            if isinstance(exc.__cause__, httpx.ConnectError):
                # The server was never reached (down, refusing connections): no login was spent,
                # so the outage is retried with the watch's backoff, not held off for minutes.
                self._login_times.pop()
            err = translate(exc, self.clock.now())
            if isinstance(err, Unauthorized) or error_name(exc) in _LOGIN_REFUSED:
                raise Unauthorized(f"Bluesky refused the handle or app password of {account}") from exc
            raise err from exc
        except (httpx.HTTPError, ValueError) as exc:  # cut off, or not JSON: the server, not us
            if isinstance(exc, httpx.ConnectError):
                self._login_times.pop()  # never reached the server (as above)
            raise Transient(f"Bluesky: logging in failed ({type(exc).__name__})") from exc
        self.logins += 1
        log.info("bluesky logged in", extra={"platform": "bluesky", "account": account})

    async def _relogin(self) -> None:
        async with self._login_lock:
            self._ready = False
            await self._password_login()
            self._ready = True

    async def _call(
        self, fn: Any, *args: Any, budget_key: str | None = None, points: int = 0, **kwargs: Any
    ) -> Any:
        """One SDK call: logged in, within budget, errors translated, one re-login on a dead session."""
        await self._ensure_session()
        now = self.clock.now()
        if budget_key is not None:
            self.budget.check(budget_key, max(points, 1), now)
        if points:
            self.pacer.reserve(points)
        for attempt in (1, 2):
            try:
                return await fn(*args, **kwargs)
            except AtProtocolError as exc:
                if attempt == 1 and is_session_error(exc):
                    log.warning(
                        "Bluesky session refused; logging in again",
                        extra={"platform": "bluesky", "reason": error_name(exc)},
                    )
                    await self._relogin()
                    continue
                raise translate(exc, self.clock.now()) from exc
            except (httpx.HTTPError, ValueError) as exc:
                # Below the SDK's own errors: a connection cut mid-answer, a body that is not
                # JSON or not the lexicon's shape. Retried like an outage (writes are looked up
                # before they are made again, so a lost answer does not post twice).
                raise Transient(f"Bluesky: {type(exc).__name__}") from exc  # its text may quote the body
        raise Unauthorized("Bluesky: the session was refused twice")  # pragma: no cover

    async def _query(self, nsid: str, params: Any) -> dict[str, Any]:
        response = await self._call(
            self.client.invoke_query, nsid, params=params, budget_key=nsid, output_encoding="application/json"
        )
        content = response.content
        if not isinstance(content, dict):
            raise MalformedPayload(f"Bluesky answered {nsid} with something that is not a JSON object")
        return content

    async def _me(self) -> str:
        """The central account's DID, logging in first if need be."""
        await self._ensure_session()
        if self.did is None:
            raise Unauthorized("Bluesky: not logged in")
        return self.did

    # -- reading ---------------------------------------------------------------------------------

    async def _views(self, uris: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Post views by URI (absent: deleted, or hidden from us)."""
        wanted = list(dict.fromkeys(uris))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), PER_CALL):
            params = models.AppBskyFeedGetPosts.Params(uris=wanted[i : i + PER_CALL])
            out = await self._query("app.bsky.feed.getPosts", params)
            for view in out.get("posts") or []:
                if isinstance(view, dict) and isinstance(view.get("uri"), str):
                    found[view["uri"]] = view
        return found

    async def _authors(self, dids: Iterable[str]) -> dict[str, Author]:
        """Profiles (handle, bio with its opt-out markers) for ``dids``, cached for a while."""
        now = time.monotonic()
        out: dict[str, Author] = {}
        missing = []
        for did in dict.fromkeys(dids):
            cached = self._profiles.get(did)
            if cached is not None and now - cached[0] < PROFILE_TTL_S:
                out[did] = cached[1]
            else:
                missing.append(did)
        for i in range(0, len(missing), PER_CALL):
            params = models.AppBskyActorGetProfiles.Params(actors=missing[i : i + PER_CALL])
            try:
                found = await self._query("app.bsky.actor.getProfiles", params)
            except NotFound:
                # No AppView behind this PDS: authors stay known by DID only (nobody's profile
                # can be read there; the last look before a repost asks again).
                if not self._no_appview_warned:
                    log.warning(
                        "Bluesky profiles unavailable; authors shown by DID", extra={"platform": "bluesky"}
                    )
                    self._no_appview_warned = True
                out.update((did, bare_author(did)) for did in missing[i:] if did not in out)
                break
            for profile in found.get("profiles") or []:
                try:
                    author = to_author(profile)
                except MalformedPayload as exc:
                    log.warning("skipped malformed profile", extra={"platform": "bluesky", "error": str(exc)})
                    continue
                self._profiles[author.account_id] = (now, author)
                out[author.account_id] = author
        if len(self._profiles) > 20_000:
            for did, _ in sorted(self._profiles.items(), key=lambda kv: kv[1][0])[:10_000]:
                del self._profiles[did]
        return out

    async def _with_profiles(self, posts: Sequence[Post]) -> list[Post]:
        """``posts`` with their authors' and quoted authors' profiles read (getProfiles, batched,
        cached briefly): search results, nominated posts and links carry only a basic view of
        the author, without the bio whose opt-out markers consent depends on. A post whose
        author has no profile to read (a deleted or suspended account) is left out: it could
        never be amplified, and nobody can tell whether its author consents."""
        dids = [p.author.account_id for p in posts]
        dids += [p.quoted_author.account_id for p in posts if p.quoted_author is not None]
        authors = await self._authors(dids)
        out = []
        for post in posts:
            author = authors.get(post.author.account_id)
            if author is None:
                log.info(
                    "skipped a post whose author's profile is unavailable",
                    extra={"platform": "bluesky", "id": post.post_id},
                )
                continue
            quoted = post.quoted_author
            if quoted is not None:
                quoted = authors.get(quoted.account_id, quoted)
            out.append(replace(post, author=author, quoted_author=quoted))
        return out

    async def _records(self, collection: str, limit: int = OWN_RECORDS_PAGE) -> list[dict[str, Any]]:
        """The central account's newest records of ``collection`` (from its own PDS: no lag)."""
        params = models.ComAtprotoRepoListRecords.Params(
            repo=await self._me(), collection=collection, limit=limit
        )
        out = await self._query("com.atproto.repo.listRecords", params)
        return [r for r in out.get("records") or [] if isinstance(r, dict)]

    async def _get_record(self, uri: str) -> dict[str, Any]:
        at = AtUri.parse(uri)
        params = models.ComAtprotoRepoGetRecord.Params(repo=at.repo, collection=at.collection, rkey=at.rkey)
        return await self._query("com.atproto.repo.getRecord", params)

    async def _did_of(self, actor: str) -> str:
        if actor.startswith("did:"):
            return actor
        params = models.ComAtprotoIdentityResolveHandle.Params(handle=actor.lstrip("@"))
        out = await self._query("com.atproto.identity.resolveHandle", params)
        did = out.get("did")
        if not isinstance(did, str):
            raise MalformedPayload("resolveHandle answered without a DID")
        return did

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
                tagged = bool(facts.hashtags & tags)
                nominates = facts.reply_parent is not None and self.did in facts.mentions
                if tagged or nominates or self._asks(facts):
                    found.append((new, facts, tagged, nominates))
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
        tagged_posts: list[Post] = []
        for new, facts, tagged, nominates in found:
            author = authors.get(new.did)
            request = self._request(facts, author or bare_author(new.did), new.uri)
            if request is not None:
                batch.requests.append(request)
                continue
            post = post_from_facts(
                new.uri, new.cid, facts, author or bare_author(new.did), web_base=self.settings.web_url
            )
            if tagged:
                tagged_posts.append(post)
            if nominates:
                nominations.append((post, facts))
        batch.posts.extend(await self._with_profiles(tagged_posts))  # read above: from the cache
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

    async def _search(self, since: datetime, **query: Any) -> list[dict[str, Any]]:
        """Every post view for one query since ``since``, newest first, page by page."""
        views: list[dict[str, Any]] = []
        page: str | None = None
        for _ in range(SEARCH_MAX_PAGES):
            params = models.AppBskyFeedSearchPosts.Params(
                sort="latest", since=iso(since), limit=self.settings.search_page_size, cursor=page, **query
            )
            out = await self._query("app.bsky.feed.searchPosts", params)
            posts = [v for v in out.get("posts") or [] if isinstance(v, dict)]
            views.extend(posts)
            page = out.get("cursor") if isinstance(out.get("cursor"), str) else None
            if not posts or not page:
                break
        return views

    async def _search_pass(
        self, tags: frozenset[str], since: datetime, source: str, cursor: datetime | None
    ) -> Batch:
        views: dict[str, dict[str, Any]] = {}
        for tag in sorted(tags):
            for spelling in self._spellings_of(tag):
                for view in await self._search(since, q=f"#{spelling}", tag=[tag]):
                    views.setdefault(str(view.get("uri")), view)  # found twice, kept once
        mentions: dict[str, dict[str, Any]] = {}
        if self.handle:
            for view in await self._search(since, q=f"@{self.handle}", mentions=self.handle):
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

    # -- acting ---------------------------------------------------------------------------------

    async def resolve(self, url_or_ref: str) -> Post:
        uri = await self._uri_of(url_or_ref.strip())
        view = (await self._views([uri])).get(uri)
        if view is None:
            raise NotFound(f"Bluesky: no post at {url_or_ref[:120]}")
        read = await self._with_profiles([view_to_post(view, web_base=self.settings.web_url)])
        if not read:
            raise NotFound(f"Bluesky: the author of {url_or_ref[:120]} has no profile to read")
        return read[0]

    async def _uri_of(self, ref: str) -> str:
        if ref.startswith("at://"):
            at = AtUri.parse(ref)
        else:
            parts = urlsplit(ref).path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "profile" or parts[2] != "post" or not parts[3]:
                raise NotFound(f"Bluesky: not a link to a post: {ref[:120]}")
            at = AtUri(parts[1], POST, parts[3])
        if at.collection != POST:
            raise NotFound(f"Bluesky: not a post: {ref[:120]}")
        return str(AtUri(await self._did_of(at.repo), at.collection, at.rkey))

    async def amplify(self, post: Post, action: Action) -> Receipt:
        if action is not Action.BOOST:
            raise Rejected(f"Bluesky cannot {action.value} a post")
        view = (await self._views([post.post_id])).get(post.post_id)
        if view is None:
            raise NotFound("Bluesky: the post is gone (deleted, or hidden from us)")
        mine = viewer_repost(view) or await self._own_repost_of(post.post_id)
        if mine is not None:
            return Receipt(Platform.BLUESKY, action, mine, post.url, already=True)
        cid = view.get("cid")
        if not isinstance(cid, str):
            raise MalformedPayload("Bluesky: the post view has no CID")
        record = {
            "$type": REPOST,
            "subject": {"uri": post.post_id, "cid": cid},
            "createdAt": iso(self.clock.now()),
        }
        created = await self._create(REPOST, record)
        return Receipt(Platform.BLUESKY, action, created, post.url)

    async def _own_repost_of(self, uri: str) -> str | None:
        """Our repost of ``uri`` among our newest ones: the AppView may not have indexed it yet."""
        for record in await self._records(REPOST):
            value = record.get("value")
            subject = value.get("subject") if isinstance(value, dict) else None
            if isinstance(subject, dict) and subject.get("uri") == uri and isinstance(record.get("uri"), str):
                return str(record["uri"])
        return None

    async def _create(self, collection: str, record: dict[str, Any]) -> str:
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=await self._me(), collection=collection, record=record
        )
        out = await self._call(
            self.client.com.atproto.repo.create_record, data, budget_key="write", points=CREATE_POINTS
        )
        return str(out.uri)

    async def undo(self, receipt: Receipt) -> None:
        at = AtUri.parse(receipt.ref)
        if at.repo != await self._me() or at.collection not in (REPOST, POST):
            raise Rejected(f"Bluesky: {receipt.ref[:100]} is not one of our reposts or posts")
        await self._delete(receipt.ref)

    async def _delete(self, uri: str) -> None:
        """Delete one of our records; one that is already gone counts as deleted."""
        at = AtUri.parse(uri)
        data = models.ComAtprotoRepoDeleteRecord.Data(repo=at.repo, collection=at.collection, rkey=at.rkey)
        try:
            await self._call(
                self.client.com.atproto.repo.delete_record, data, budget_key="write", points=DELETE_POINTS
            )
        except NotFound:
            return

    def _now_iso(self) -> str:
        return iso(self.clock.now())

    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        return await self._publish(text, reply_to)

    async def quote(self, post: Post, comment: str) -> Receipt:
        """A post of ours with ``comment`` that quotes ``post`` (a curator's spotlight)."""
        view = (await self._views([post.post_id])).get(post.post_id)
        if view is None or not isinstance(view.get("cid"), str):
            raise NotFound("Bluesky: the post is gone (deleted, or hidden from us)")
        embed = {"$type": "app.bsky.embed.record", "record": {"uri": post.post_id, "cid": view["cid"]}}
        return await self._publish(comment, None, embed=embed)

    async def _publish(
        self,
        text: str,
        reply_to: Receipt | None,
        *,
        embed: dict[str, Any] | None = None,
        addressee: str | None = None,
    ) -> Receipt:
        # Only the member an answer is for is mentioned: a handle anywhere else in the text
        # (a member's words, a title) stays plain text, so it notifies no one.
        dids: dict[str, str] = {}
        if addressee is not None and addressee.lower() in richtext.mentioned_handles(text):
            with contextlib.suppress(NotFound, Rejected):  # not an account: stays plain text
                dids[addressee.lower()] = await self._did_of(addressee)
        rich = richtext.build(text, dids, keep_tags=self.own_tags)
        size = length(rich.text, self.limits)
        if size > self.limits.max_length:
            raise Rejected(
                f"Bluesky: a post is at most {self.limits.max_length} graphemes and this one has {size}; "
                "split it into a thread first"
            )
        reply = await self._reply_refs(reply_to.ref) if reply_to is not None else None
        already = await self._own_recent_post(rich.text, reply)
        if already is not None:
            return Receipt(Platform.BLUESKY, Action.PUBLISH, already, self._post_url(already), already=True)
        record: dict[str, Any] = {"$type": POST, "text": rich.text, "createdAt": iso(self.clock.now())}
        if rich.facets:
            record["facets"] = list(rich.facets)
        if self.languages:
            record["langs"] = list(self.languages)
        if reply is not None:
            record["reply"] = reply
        if embed is not None:
            record["embed"] = embed
        uri = await self._create(POST, record)
        return Receipt(Platform.BLUESKY, Action.PUBLISH, uri, self._post_url(uri))

    def _post_url(self, uri: str) -> str:
        at = AtUri.parse(uri)
        return web_url(self.settings.web_url, self.handle or at.repo, at.rkey)

    async def _reply_refs(self, parent_uri: str) -> dict[str, Any]:
        """``reply`` of a thread part: the parent, and the root the parent itself replies to."""
        parent = await self._get_record(parent_uri)
        cid, value = parent.get("cid"), parent.get("value")
        if not isinstance(cid, str) or not isinstance(value, dict):
            raise MalformedPayload("Bluesky: the parent post has no CID")
        ref = {"uri": parent_uri, "cid": cid}
        root = value.get("reply", {}).get("root") if isinstance(value.get("reply"), dict) else None
        if not (
            isinstance(root, dict) and isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str)
        ):
            root = ref
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": ref}

    async def _own_recent_post(self, text: str, reply: dict[str, Any] | None) -> str | None:
        """A post of ours with this text in this place, made in the last minutes: a retried
        publish whose first answer was lost. Returned instead of posting twice."""
        parent = reply["parent"]["uri"] if reply else None
        horizon = self.clock.now() - PUBLISH_DEDUP
        for record in await self._records(POST, limit=10):
            value = record.get("value")
            if not isinstance(value, dict) or value.get("text") != text:
                continue
            their = (
                value.get("reply", {}).get("parent", {}).get("uri")
                if isinstance(value.get("reply"), dict)
                else None
            )
            try:
                when = parse_when(value.get("createdAt"), "createdAt")
            except MalformedPayload:
                continue
            if their == parent and when >= horizon and isinstance(record.get("uri"), str):
                return str(record["uri"])
        return None

    async def send_direct(self, author: Author, text: str, reply_to: str | None = None) -> Receipt | None:
        """Bluesky's direct messages live outside a PDS, so the answer is a reply under the
        member's own post (public, as that post was), mentioning them; a long answer goes on as
        a thread. A retried answer whose first try was lost is found, not posted again."""
        handle = author.handle.lstrip("@")
        mention = f"@{handle} " if handle and not handle.startswith("did:") else ""
        parent = Receipt(Platform.BLUESKY, Action.PUBLISH, reply_to) if reply_to else None
        first: Receipt | None = None
        to = handle if mention else None
        for part in split_thread(mention + text, self.limits, number=False):
            try:
                receipt = await self._publish(part, parent, addressee=to)
            except NotFound:
                if first is not None or parent is None:
                    raise
                receipt = await self._publish(part, None, addressee=to)  # they deleted it: answer on its own
            first = first or receipt
            parent = receipt
        return first

    async def fetch_author(self, author: Author) -> Author | None:
        try:
            profile = await self._query(
                "app.bsky.actor.getProfile", models.AppBskyActorGetProfile.Params(actor=author.account_id)
            )
        except (NotFound, Rejected):
            return None
        found = to_author(profile)
        self._profiles[found.account_id] = (time.monotonic(), found)
        return found


def _indexed_at(view: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_when(view.get("indexedAt"), "indexedAt")
    except MalformedPayload:
        return None


def create(settings: BlueskySettings, app: Settings) -> BlueskyAdapter:
    from bot.store.store import engine_for

    budget = RateBudget()
    client = make_client(settings.service_url, timeout=settings.request_timeout, budget=budget)
    vault = SessionVault(
        engine_for(app),
        app.community.slug,
        app.community.name,
        settings.account,
        session_key(settings.app_password, settings.account),
        own_engine=True,
    )
    adapter = BlueskyAdapter(
        client,
        settings,
        vault=vault,
        budget=budget,
        backfill=timedelta(hours=app.curation.max_age_hours),
        languages=app.community.languages,
        spellings=app.community.hashtags,
    )
    adapter.own_tags = own_tags(app)
    return adapter
