"""The Bluesky adapter's connection: one login kept for as long as Bluesky accepts it (stored in
the session vault, refreshed by the SDK), every call budgeted and its errors translated at the
edge, and the reads the other parts share (post views, profiles, records).

The watching (``watching.py``) and the writing (``writing.py``) build on it; ``adapter.py``
composes them into the adapter class."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from atproto_client import AsyncClient, models
from atproto_client.client.session import SessionEvent
from atproto_client.request import AsyncRequest
from atproto_core.exceptions import AtProtocolError

from adapters.bluesky.normalize import AtUri, bare_author, to_author
from adapters.bluesky.session import SessionVault
from adapters.bluesky.settings import BlueskySettings
from adapters.bluesky.xrpc import RateBudget, WritePacer, error_name, is_session_error, translate
from bot.clock import Clock, SystemClock
from bot.domain import Author, Post, TextLimits
from bot.errors import MalformedPayload, NotFound, RateLimited, Transient, Unauthorized

log = logging.getLogger(__name__)

PROFILE_TTL_S = 120.0  # opt-out markers and signals live in profiles; read them again after this long
# Password logins this process allows itself per window (Bluesky allows 30 per 5 minutes): a
# session that keeps being refused must not burn the account's logins in a loop.
LOGINS_PER_WINDOW, LOGIN_WINDOW_S = 3, 300.0
PER_CALL = 25  # getPosts and getProfiles take at most 25 at a time
OWN_RECORDS_PAGE = 100
_LOGIN_REFUSED = frozenset(
    {"AuthenticationRequired", "AccountTakedown", "AccountDeactivated", "InvalidRequest"}
)


def micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_client(service_url: str, *, timeout: float = 30.0, budget: RateBudget | None = None) -> AsyncClient:
    """The SDK's async client, with a response hook that reads the rate-limit headers."""
    hooks = {"response": [budget.observe]} if budget is not None else {}
    return AsyncClient(base_url=service_url, request=AsyncRequest(timeout=timeout, event_hooks=hooks))


class BlueskyConnection:
    """The session and the shared reads of the Bluesky adapter."""

    # declared by bot.ports.PlatformAdapter, which the adapter class also is
    own_tags: frozenset[str]
    limits: TextLimits

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
