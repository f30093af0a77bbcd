"""Loopback emulator of the Bluesky XRPC endpoints Coalesce uses, plus a Jetstream v2 stream.

Tests and ``python -m bot demo`` point the real atproto SDK at it: ``AsyncClient`` at
:attr:`BlueskySandbox.base_url` and the SDK's Jetstream client at :attr:`BlueskySandbox.ws_url`.
Bodies, error names (``ExpiredToken``, ``RecordNotFound``…) and ``ratelimit-*`` headers follow
the lexicons and what a Bluesky PDS answers; simplifications are listed on the class.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libipld
import regex
from atproto_client.utils import facet_detection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from sandbox._server import Fault, FaultInjector, HttpError, LoopbackServer, Request, Response, Router

__all__ = ["BlueskySandbox", "Fault", "main"]

Clock = Callable[[], datetime]
JSON = dict[str, Any]

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
LIKE = "app.bsky.feed.like"
FOLLOW = "app.bsky.graph.follow"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
THREAD_NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
LIST = "app.bsky.graph.list"
LIST_ITEM = "app.bsky.graph.listitem"
_STRONG_REF_COLLECTIONS = (REPOST, LIKE)
_COLLECTIONS = (POST, REPOST, LIKE, FOLLOW, LIST, LIST_ITEM)
JETSTREAM_NSID = "network.bsky.jetstream.subscribeEvents"
SUBPROTOCOL = "xrpc.v1.json"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_GRAPHEME = regex.compile(r"\X")
_TIMESTAMP_CURSOR = 10**15


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cid_of(value: Any) -> str:
    """A CIDv1 (dag-cbor, sha-256) of ``value``'s JSON: the shape real record CIDs have."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()
    return str(libipld.encode_cid(bytes([0x01, 0x71, 0x12, 0x20]) + digest))


def _error(status: int, name: str, message: str) -> HttpError:
    return HttpError(status, {"error": name, "message": message})


@dataclass
class _Account:
    did: str
    handle: str
    display_name: str
    description: str
    password: str
    created_at: datetime
    labels: list[str] = field(default_factory=list)
    repo: dict[str, dict[str, _Record]] = field(default_factory=dict)  # collection -> rkey -> record


@dataclass
class _Record:
    uri: str
    cid: str
    value: JSON
    indexed_at: datetime


@dataclass
class _Bucket:
    window_start: float
    used: int = 0


@dataclass
class _Stream:
    """Jetstream's log: every event ever emitted, in sequence order."""

    events: list[tuple[int, int, str | bytes]] = field(default_factory=list)  # (seq, time µs, frame)
    floor: int = 0  # cursors below this seq are too old (CursorTooOld)
    drop_after: list[int] = field(default_factory=list)  # per next connection: frames, then drop
    too_slow_after: list[int] = field(default_factory=list)  # frames, then ConsumerTooSlow
    connections: int = 0


class BlueskySandbox:
    """An in-memory Bluesky PDS + AppView + Jetstream on 127.0.0.1, with one central account.

    Test helpers (plain Python, no HTTP) add accounts, posts and raw stream frames; the HTTP
    side answers the SDK. Everything is guarded by one lock.

    Faithful on purpose:

    * sessions are JWTs with ``exp``; the SDK refreshes them itself a little before they expire;
      an expired or revoked token is refused with ``ExpiredToken`` (400), a refresh token can be
      used once; :meth:`expire_sessions` and :meth:`revoke_refresh_tokens` end them early;
    * every answer carries ``ratelimit-limit/-remaining/-reset/-policy``: writes spend points
      (create 3, delete 1) from ``write_points`` an hour per account, logins ``login_limit``
      per five minutes, and a request over budget gets 429 ``RateLimitExceeded``;
    * ``searchPosts`` honours ``q`` (words, ``#tag``, ``from:handle``, ``@handle``), ``tag``
      (all of them, case-insensitive, from facets and the ``tags`` field), ``since``/``until``
      (on sortAt, the earlier of createdAt and indexedAt), ``mentions``, ``author``, ``lang``,
      ``sort`` and ``cursor``, which the reference AppView does not;
    * ``getPosts`` leaves out deleted posts and fills ``viewer.repost`` for the caller;
    * Jetstream v2 (subprotocol ``xrpc.v1.json``): inclusive ``cursor`` by seq or by unix
      microseconds, ``collections`` and ``kinds`` filters, ``#info`` OutdatedCursor and
      FutureCursor notices, ``CursorTooOld`` refused before the upgrade (HTTP 400), and faults:
      :meth:`drop_stream_after`, :meth:`too_slow_after`, :meth:`forget_events_before`,
      :meth:`emit_raw` (any frame, broken ones included).

    Simplified: one PDS holds every account; no blobs; likes, follows and lists are records
    only (counted in views, no feeds or notifications of them); no compression
    (``getZstdDictionary`` is not served, so the SDK falls back to plain frames); CIDs are real
    in form but hash the JSON of a record, not its DAG-CBOR.
    """

    def __init__(
        self,
        *,
        handle: str = "coalesce.test",
        password: str = "central-app-password",
        display_name: str = "Coalesce",
        clock: Clock | None = None,
        port: int = 0,
        access_ttl: timedelta = timedelta(hours=2),
        refresh_ttl: timedelta = timedelta(days=60),
        write_points: int = 5000,
        login_limit: int = 30,
    ) -> None:
        self.clock: Clock = clock or _utc_now
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.write_points = write_points
        self.login_limit = login_limit
        self._lock = threading.RLock()
        self._accounts: dict[str, _Account] = {}  # by DID
        self._handles: dict[str, str] = {}  # handle -> DID
        self._access: dict[str, tuple[str, float]] = {}  # token -> (did, exp unix s)
        self._refresh: dict[str, tuple[str, float]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._tid_last = 0
        self._last_seq = 0
        self._stream = _Stream()
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws_server: Server | None = None
        self._ws_thread: threading.Thread | None = None
        self._ws_ready = threading.Event()
        self._ws_wakeups: set[asyncio.Event] = set()
        self.logins = 0  # password logins (createSession) served
        self.refreshes = 0
        self.central = self.add_account(handle, display_name=display_name, password=password)
        self.password = password
        self._http = _BlueskyHttp(self, self._router(), port)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def ws_url(self) -> str:
        """The Jetstream base URI for the SDK (``ws://127.0.0.1:PORT/xrpc``)."""
        assert self._ws_server is not None, "start() the sandbox first"
        port = next(iter(self._ws_server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/xrpc"

    @property
    def faults(self) -> FaultInjector:
        return self._http.faults

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self._http.requests

    @property
    def too_many_requests(self) -> int:
        """How many requests the rate limits refused with 429."""
        return self._http.too_many_requests

    def wait_for_request(self, method: str, path_regex: str, timeout: float = 10.0) -> bool:
        return self._http.wait_for_request(method, path_regex, timeout)

    def start(self) -> BlueskySandbox:
        self._http.start()
        self._ws_thread = threading.Thread(target=self._ws_main, name="sandbox-jetstream", daemon=True)
        self._ws_thread.start()
        if not self._ws_ready.wait(10):
            raise RuntimeError("the sandbox Jetstream server did not start")
        return self

    def stop(self) -> None:
        self._http.stop()
        loop = self._ws_loop
        if loop is not None and self._ws_server is not None and loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._ws_shutdown(self._ws_server), loop)
            with contextlib.suppress(Exception):
                done.result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._ws_thread is not None:
            self._ws_thread.join(timeout=5)

    @staticmethod
    async def _ws_shutdown(server: Server) -> None:
        server.close(close_connections=True)
        await server.wait_closed()

    def __enter__(self) -> BlueskySandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    # ---------------------------------------------------------------- test helpers

    def add_account(
        self,
        handle: str,
        *,
        display_name: str = "",
        description: str = "",
        password: str | None = None,
        labels: Iterable[str] = (),
    ) -> str:
        """A new account; returns its DID."""
        with self._lock:
            did = (
                "did:plc:" + base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()[:24]
            )
            self._accounts[did] = _Account(
                did,
                handle,
                display_name,
                description,
                password or uuid.uuid4().hex,
                self.now() - timedelta(days=300),
                list(labels),
            )
            self._handles[handle.lower()] = did
            return did

    def set_description(self, did: str, description: str) -> None:
        with self._lock:
            self._accounts[did].description = description

    def set_labels(self, did: str, labels: Iterable[str]) -> None:
        """The account's self-labels (its profile record's ``labels``), e.g. ``!no-unauthenticated``
        ("show my account to logged-in users only"); profile views list them among ``labels``."""
        with self._lock:
            self._accounts[did].labels = list(labels)

    def did_of(self, handle: str) -> str:
        return self._handles[handle.lower()]

    def post(
        self,
        author: str,
        text: str,
        *,
        reply_to: str | None = None,
        tags: Sequence[str] = (),
        langs: Sequence[str] = ("en",),
        created_at: datetime | None = None,
        record: JSON | None = None,
        embed: JSON | None = None,
    ) -> str:
        """``author`` (a DID) posts ``text`` with the facets a Bluesky app would add; returns its
        at-uri. ``record`` replaces the whole record (to post something odd on purpose)."""
        with self._lock:
            if record is None:
                record = {"$type": POST, "text": text, "createdAt": _iso(created_at or self.now())}
                facets = self._facets(text)
                if facets:
                    record["facets"] = facets
                if tags:
                    record["tags"] = list(tags)
                if langs:
                    record["langs"] = list(langs)
                if reply_to is not None:
                    record["reply"] = self._reply_ref(reply_to)
                if embed is not None:
                    record["embed"] = embed
            rkey = None
            if created_at is not None:
                # A back-dated post gets its record key from its own time, so a world seeded
                # again from the same epoch has the same post ids (the demo relies on it).
                micros, taken = _micros(created_at), self._accounts[author].repo.get(POST, {})
                while _tid_of(micros) in taken:
                    micros += 1
                rkey = _tid_of(micros)
            return self._create(author, POST, record, rkey).uri

    def delete(self, uri: str) -> None:
        """Delete a record (a member deletes a post) and tell the stream."""
        with self._lock:
            did, collection, rkey = _split_uri(uri)
            account = self._accounts[did]
            if account.repo.get(collection, {}).pop(rkey, None) is not None:
                self._emit(did, collection, rkey, "delete", None, None)

    def reposts_of(self, uri: str, by: str | None = None) -> list[str]:
        """The at-uris of reposts of ``uri`` (by ``by``, default the central account)."""
        with self._lock:
            account = self._accounts[by or self.central]
            return [r.uri for r in account.repo.get(REPOST, {}).values() if r.value["subject"]["uri"] == uri]

    def follow(self, follower: str, subject: str) -> str:
        """``follower`` follows ``subject`` (both DIDs); returns the follow record's uri."""
        with self._lock:
            record = {"$type": FOLLOW, "subject": subject, "createdAt": _iso(self.now())}
            return self._create(follower, FOLLOW, record).uri

    def like(self, liker: str, uri: str) -> str:
        with self._lock:
            target = self._find(uri)
            assert target is not None, uri
            record = {
                "$type": LIKE,
                "subject": {"uri": uri, "cid": target.cid},
                "createdAt": _iso(self.now()),
            }
            return self._create(liker, LIKE, record).uri

    def list_members(self, name: str, owner: str | None = None) -> list[str] | None:
        """The member DIDs of ``owner``'s (default: the central account's) list ``name``."""
        with self._lock:
            account = self._accounts[owner or self.central]
            lists = [r.uri for r in account.repo.get(LIST, {}).values() if r.value.get("name") == name]
            if not lists:
                return None
            items = account.repo.get(LIST_ITEM, {}).values()
            return sorted(str(r.value["subject"]) for r in items if r.value.get("list") in lists)

    def records(self, did: str, collection: str) -> list[JSON]:
        with self._lock:
            return [dict(r.value) for r in self._accounts[did].repo.get(collection, {}).values()]

    def next_seq(self) -> int:
        """The sequence number the next stream event will get (to build raw frames)."""
        with self._lock:
            return self._last_seq + 1

    def emit_raw(self, frame: str | bytes) -> int:
        """Put ``frame`` on the Jetstream log as it is (text, or bytes sent as a binary frame),
        taking the next sequence number (which a well-formed frame should carry)."""
        with self._lock:
            seq = self._take_seq()
            self._stream.events.append((seq, _micros(self.now()), frame))
        self._wake_streams()
        return seq

    def _take_seq(self) -> int:
        self._last_seq += 1
        return self._last_seq

    def drop_stream_after(self, frames: int) -> None:
        """The next Jetstream connection is cut (no close frame) after sending ``frames`` frames."""
        with self._lock:
            self._stream.drop_after.append(frames)

    def too_slow_after(self, frames: int) -> None:
        """The next Jetstream connection gets a ConsumerTooSlow error after ``frames`` frames."""
        with self._lock:
            self._stream.too_slow_after.append(frames)

    def forget_events_before(self, seq: int) -> None:
        """Retention: a cursor below ``seq`` is refused with CursorTooOld."""
        with self._lock:
            self._stream.floor = seq

    @property
    def stream_connections(self) -> int:
        return self._stream.connections

    def expire_sessions(self) -> None:
        """Every access token issued so far is refused from now on (refresh tokens still work)."""
        with self._lock:
            self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()

    def throttle_writes(self) -> None:
        """Spend the central account's write budget: its next write gets 429 until the hour turns."""
        with self._lock:
            self._bucket(f"write:{self.central}", 3600.0).used = self.write_points

    # ---------------------------------------------------------------- records and views

    def _tid(self) -> str:
        micros = max(_micros(self.now()), self._tid_last + 1, int(time.time() * 1e6))
        self._tid_last = micros
        return _tid_of(micros)

    def _facets(self, text: str) -> list[JSON]:
        facets = [f.model_dump(by_alias=True, exclude_none=True) for f in facet_detection.detect_facets(text)]
        for mention in facet_detection.detect_mentions(text):
            did = self._handles.get(mention.handle.lower())
            if did is not None:
                facets.append(
                    {
                        "$type": "app.bsky.richtext.facet",
                        "index": {"byteStart": mention.byte_start, "byteEnd": mention.byte_end},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                    }
                )
        return sorted(facets, key=lambda f: int(f["index"]["byteStart"]))

    def _find(self, uri: str) -> _Record | None:
        try:
            did, collection, rkey = _split_uri(uri)
        except ValueError:
            return None
        account = self._accounts.get(did)
        return account.repo.get(collection, {}).get(rkey) if account else None

    def _reply_ref(self, parent_uri: str) -> JSON:
        parent = self._find(parent_uri)
        if parent is None:
            raise KeyError(parent_uri)
        ref = {"uri": parent.uri, "cid": parent.cid}
        root = parent.value.get("reply", {}).get("root") or ref
        return {"root": root, "parent": ref}

    def _create(self, did: str, collection: str, value: JSON, rkey: str | None = None) -> _Record:
        account = self._accounts[did]
        rkey = rkey or self._tid()
        if rkey in account.repo.get(collection, {}):
            raise _error(400, "InvalidRequest", f"Record already exists: {collection}/{rkey}")
        uri = f"at://{did}/{collection}/{rkey}"
        record = _Record(uri, cid_of(value), value, self.now())
        account.repo.setdefault(collection, {})[rkey] = record
        self._emit(did, collection, rkey, "create", record.cid, value)
        return record

    def _emit(
        self, did: str, collection: str, rkey: str, op: str, cid: str | None, value: JSON | None
    ) -> None:
        seq = self._take_seq()
        now = self.now()
        payload: JSON = {
            "$type": f"{JETSTREAM_NSID}#commit",
            "seq": seq,
            "did": did,
            "time": now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "collection": collection,
            "rkey": rkey,
            "operation": op,
            "rev": self._tid(),
        }
        if cid is not None:
            payload["cid"] = cid
        if value is not None:
            payload["record"] = value
        frame = json.dumps(
            {"$type": "message", "payload": payload}, ensure_ascii=False, separators=(",", ":")
        )
        self._stream.events.append((seq, _micros(now), frame))
        self._wake_streams()

    def _profile(self, account: _Account, detailed: bool = False) -> JSON:
        view: JSON = {
            "did": account.did,
            "handle": account.handle,
            "displayName": account.display_name,
            "labels": [{"src": account.did, "uri": f"at://{account.did}", "val": v} for v in account.labels],
            "createdAt": _iso(account.created_at),
        }
        if detailed:
            view["description"] = account.description
            view["followersCount"] = len(self._followers(account.did))
            view["followsCount"] = len(account.repo.get(FOLLOW, {}))
            view["postsCount"] = len(account.repo.get(POST, {}))
        # A post's author is a profileViewBasic, as on the AppView: no description, so a bio's
        # opt-out markers are only seen by reading the profile (getProfile / getProfiles).
        return view

    def _followers(self, did: str) -> dict[str, str]:
        """Who follows ``did``: follower DID -> the follow record's uri."""
        return {
            a.did: r.uri
            for a in self._accounts.values()
            for r in a.repo.get(FOLLOW, {}).values()
            if r.value.get("subject") == did
        }

    def _refs_to(self, collection: str, uri: str) -> list[str]:
        return [
            r.uri
            for a in self._accounts.values()
            for r in a.repo.get(collection, {}).values()
            if r.value.get("subject", {}).get("uri") == uri
        ]

    def _post_view(self, record: _Record, viewer: str | None) -> JSON:
        did, _, _ = _split_uri(record.uri)
        reposts = self._refs_to(REPOST, record.uri)
        replies = [
            r
            for a in self._accounts.values()
            for r in a.repo.get(POST, {}).values()
            if r.value.get("reply", {}).get("parent", {}).get("uri") == record.uri
        ]
        mine = None
        if viewer is not None:
            mine = next(
                (
                    r.uri
                    for r in self._accounts[viewer].repo.get(REPOST, {}).values()
                    if r.value.get("subject", {}).get("uri") == record.uri
                ),
                None,
            )
        viewer_state: JSON = {"repost": mine} if mine else {}
        return {
            "uri": record.uri,
            "cid": record.cid,
            "author": self._profile(self._accounts[did]),
            "record": record.value,
            "replyCount": len(replies),
            "repostCount": len(reposts),
            "likeCount": len(self._refs_to(LIKE, record.uri)),
            "quoteCount": 0,
            "indexedAt": _iso(record.indexed_at),
            "viewer": viewer_state,
            "labels": [],
        }

    # ---------------------------------------------------------------- HTTP: auth and limits

    def _bucket(self, key: str, period: float) -> _Bucket:
        now = self.now().timestamp()
        start = (now // period) * period
        bucket = self._buckets.get(key)
        if bucket is None or bucket.window_start != start:
            bucket = self._buckets[key] = _Bucket(start)
        return bucket

    def spend(self, req: Request) -> tuple[bool, dict[str, str]]:
        """Charge ``req`` to its budget; (allowed, the ratelimit headers to send)."""
        nsid = req.path.rpartition("/")[2]
        with self._lock:
            found = self._access.get(self._token(req) or "")
            did = found[0] if found is not None else None
            if nsid == "com.atproto.server.createSession":
                ident = (
                    str((req.json or {}).get("identifier", "")).lower() if isinstance(req.json, dict) else ""
                )
                key, limit, period, cost = f"login:{ident}", self.login_limit, 300.0, 1
            elif nsid in ("com.atproto.repo.createRecord", "com.atproto.repo.deleteRecord") and did:
                key, limit, period = f"write:{did}", self.write_points, 3600.0
                cost = 3 if nsid.endswith("createRecord") else 1
            else:
                key, limit, period, cost = f"read:{did or 'anonymous'}", 3000, 300.0, 1
            bucket = self._bucket(key, period)
            allowed = bucket.used + cost <= limit
            if allowed:
                bucket.used += cost
            headers = {
                "ratelimit-limit": str(limit),
                "ratelimit-remaining": str(max(0, limit - bucket.used)),
                "ratelimit-reset": str(int(bucket.window_start + period)),
                "ratelimit-policy": f"{limit};w={int(period)}",
            }
            return allowed, headers

    def _token(self, req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _caller(self, req: Request, *, required: bool = True) -> str | None:
        token = self._token(req)
        if token is None:
            if required:
                raise _error(401, "AuthenticationRequired", "Authentication Required")
            return None
        found = self._access.get(token)
        if found is None or found[1] <= time.time():
            # Like a PDS: a token that is sent must be good, even where none is needed.
            raise _error(400, "ExpiredToken", "Token has expired")
        return found[0]

    def _jwt(self, did: str, scope: str, ttl: timedelta) -> tuple[str, float]:
        # The SDK reads ``exp`` with its own clock to decide when to refresh, so it is real time.
        exp = time.time() + ttl.total_seconds()
        header = _b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
        body = {"scope": scope, "sub": did, "iat": int(time.time()), "exp": int(exp), "jti": uuid.uuid4().hex}
        token = (
            f"{header}.{_b64(json.dumps(body).encode())}.{_b64(hashlib.sha256(uuid.uuid4().bytes).digest())}"
        )
        return token, exp

    def _session_json(self, account: _Account) -> JSON:
        access, access_exp = self._jwt(account.did, "com.atproto.access", self.access_ttl)
        refresh, refresh_exp = self._jwt(account.did, "com.atproto.refresh", self.refresh_ttl)
        self._access[access] = (account.did, access_exp)
        self._refresh[refresh] = (account.did, refresh_exp)
        return {
            "did": account.did,
            "handle": account.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }

    # ---------------------------------------------------------------- HTTP: handlers

    def _router(self) -> Router:
        router = Router()
        routes: list[tuple[str, str, Callable[[Request], Response]]] = [
            ("POST", "com.atproto.server.createSession", self._h_create_session),
            ("POST", "com.atproto.server.refreshSession", self._h_refresh_session),
            ("GET", "com.atproto.server.getSession", self._h_get_session),
            ("GET", "com.atproto.identity.resolveHandle", self._h_resolve_handle),
            ("POST", "com.atproto.repo.createRecord", self._h_create_record),
            ("POST", "com.atproto.repo.deleteRecord", self._h_delete_record),
            ("GET", "com.atproto.repo.getRecord", self._h_get_record),
            ("GET", "com.atproto.repo.listRecords", self._h_list_records),
            ("GET", "app.bsky.feed.getPosts", self._h_get_posts),
            ("GET", "app.bsky.feed.getPostThread", self._h_get_post_thread),
            ("GET", "app.bsky.feed.searchPosts", self._h_search_posts),
            ("GET", "app.bsky.actor.getProfile", self._h_get_profile),
            ("GET", "app.bsky.actor.getProfiles", self._h_get_profiles),
            ("GET", "app.bsky.graph.getRelationships", self._h_get_relationships),
        ]
        for method, nsid, handler in routes:
            router.add(method, "/xrpc/" + re.escape(nsid), self._locked(handler))
        return router

    def _locked(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(req: Request) -> Response:
            with self._lock:
                return handler(req)

        return run

    def _h_create_session(self, req: Request) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        ident = str(body.get("identifier") or "").lower()
        did = ident if ident.startswith("did:") else self._handles.get(ident)
        account = self._accounts.get(did or "")
        if account is None or body.get("password") != account.password:
            raise _error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        return Response.of_json(self._session_json(account))

    def _h_refresh_session(self, req: Request) -> Response:
        token = self._token(req)
        found = self._refresh.pop(token or "", None)
        if found is None or found[1] <= time.time():
            raise _error(400, "ExpiredToken", "Token has been revoked")
        self.refreshes += 1
        return Response.of_json(self._session_json(self._accounts[found[0]]))

    def _h_get_session(self, req: Request) -> Response:
        account = self._accounts[str(self._caller(req))]
        return Response.of_json({"did": account.did, "handle": account.handle, "active": True})

    def _h_resolve_handle(self, req: Request) -> Response:
        did = self._handles.get((req.param("handle") or "").lower())
        if did is None:
            raise _error(400, "InvalidRequest", "Unable to resolve handle")
        return Response.of_json({"did": did})

    def _h_create_record(self, req: Request) -> Response:
        did = str(self._caller(req))
        body = req.json if isinstance(req.json, dict) else {}
        repo, collection, value = body.get("repo"), body.get("collection"), body.get("record")
        if repo not in (did, self._accounts[did].handle):
            raise _error(403, "InvalidRequest", "Invalid repo")
        if not isinstance(value, dict) or collection not in _COLLECTIONS:
            raise _error(400, "InvalidRequest", "Input/record must be an object of a known collection")
        value = {"$type": collection, **value}
        subject = value.get("subject")
        if collection == POST:
            _validate_post(value)
        elif collection in _STRONG_REF_COLLECTIONS:
            if not isinstance(subject, dict) or not subject.get("uri") or not subject.get("cid"):
                raise _error(400, "InvalidRecord", "Record/subject must have the properties uri and cid")
        elif collection in (FOLLOW, LIST_ITEM) and not str(subject or "").startswith("did:"):
            raise _error(400, "InvalidRecord", "Record/subject must be a valid did")
        elif collection == LIST and not value.get("name"):
            raise _error(400, "InvalidRecord", 'Record must have the property "name"')
        record = self._create(did, str(collection), value, body.get("rkey"))
        return Response.of_json({"uri": record.uri, "cid": record.cid, "validationStatus": "valid"})

    def _h_delete_record(self, req: Request) -> Response:
        did = str(self._caller(req))
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("repo") not in (did, self._accounts[did].handle):
            raise _error(403, "InvalidRequest", "Invalid repo")
        collection, rkey = str(body.get("collection")), str(body.get("rkey"))
        if self._accounts[did].repo.get(collection, {}).pop(rkey, None) is not None:
            self._emit(did, collection, rkey, "delete", None, None)
        return Response.of_json({})

    def _h_get_record(self, req: Request) -> Response:
        repo = self._did(req.param("repo") or "")
        uri = f"at://{repo}/{req.param('collection')}/{req.param('rkey')}"
        record = self._find(uri)
        if record is None:
            raise _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response.of_json({"uri": record.uri, "cid": record.cid, "value": record.value})

    def _h_list_records(self, req: Request) -> Response:
        account = self._accounts.get(self._did(req.param("repo") or ""))
        if account is None:
            raise _error(400, "InvalidRequest", "Could not find repo")
        records = sorted(account.repo.get(req.param("collection") or "", {}).items(), reverse=True)
        if _truthy(req.param("reverse")):
            records.reverse()
        limit = _limit(req.param("limit"), 50, 100)
        after = req.param("cursor")
        if after:
            records = [
                (k, r) for k, r in records if (k > after if _truthy(req.param("reverse")) else k < after)
            ]
        page = records[:limit]
        out: JSON = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for _, r in page]}
        if len(page) == limit and len(records) > limit:
            out["cursor"] = page[-1][0]
        return Response.of_json(out)

    def _did(self, actor: str) -> str:
        return actor if actor.startswith("did:") else self._handles.get(actor.lower(), actor)

    def _h_get_posts(self, req: Request) -> Response:
        viewer = self._caller(req, required=False)
        uris = req.params("uris")
        if len(uris) > 25:
            raise _error(400, "InvalidRequest", "uris must not have more than 25 elements")
        found = [self._find(u) for u in uris]
        return Response.of_json({"posts": [self._post_view(r, viewer) for r in found if r is not None]})

    def _h_get_post_thread(self, req: Request) -> Response:
        """The post with its replies ``depth`` levels down (default 6) and its parents
        ``parentHeight`` levels up (default 80), as ``app.bsky.feed.defs#threadViewPost``."""
        viewer = self._caller(req, required=False)
        uri = req.param("uri") or ""
        depth = _bounded(req.param("depth"), "depth", 6)
        height = _bounded(req.param("parentHeight"), "parentHeight", 80)
        record = self._find(uri) if uri.startswith("at://") else None
        if record is None or _split_uri(record.uri)[1] != POST:
            raise _error(400, "NotFound", f"Post not found: {uri}")
        thread = self._thread_view(record, viewer, depth)
        node, parent_uri = thread, record.value.get("reply", {}).get("parent", {}).get("uri")
        for _ in range(height):
            if not isinstance(parent_uri, str):
                break
            parent = self._find(parent_uri)
            if parent is None:
                node["parent"] = {"$type": THREAD_NOT_FOUND, "uri": parent_uri, "notFound": True}
                break
            node["parent"] = {"$type": THREAD_VIEW, "post": self._post_view(parent, viewer)}
            node, parent_uri = node["parent"], parent.value.get("reply", {}).get("parent", {}).get("uri")
        return Response.of_json({"thread": thread})

    def _thread_view(self, record: _Record, viewer: str | None, depth: int) -> JSON:
        view: JSON = {"$type": THREAD_VIEW, "post": self._post_view(record, viewer)}
        if depth > 0:
            replies = sorted(
                (
                    r
                    for a in self._accounts.values()
                    for r in a.repo.get(POST, {}).values()
                    if r.value.get("reply", {}).get("parent", {}).get("uri") == record.uri
                ),
                key=lambda r: r.indexed_at,
            )
            view["replies"] = [self._thread_view(r, viewer, depth - 1) for r in replies]
        return view

    def _h_get_profile(self, req: Request) -> Response:
        account = self._accounts.get(self._did(req.param("actor") or ""))
        if account is None:
            raise _error(400, "InvalidRequest", "Profile not found")
        return Response.of_json(self._profile(account, detailed=True))

    def _h_get_profiles(self, req: Request) -> Response:
        actors = req.params("actors")
        if len(actors) > 25:
            raise _error(400, "InvalidRequest", "actors must not have more than 25 elements")
        found = [self._accounts.get(self._did(a)) for a in actors]
        return Response.of_json(
            {"profiles": [self._profile(a, detailed=True) for a in found if a is not None]}
        )

    def _h_get_relationships(self, req: Request) -> Response:
        actor = self._accounts.get(self._did(req.param("actor") or ""))
        if actor is None:
            raise _error(400, "ActorNotFound", "Actor not found")
        following = {r.value.get("subject"): r.uri for r in actor.repo.get(FOLLOW, {}).values()}
        followers = self._followers(actor.did)
        out = []
        for other in req.params("others"):
            did = self._did(other)
            if did not in self._accounts:
                out.append({"$type": "app.bsky.graph.defs#notFoundActor", "actor": other, "notFound": True})
                continue
            rel: JSON = {"$type": "app.bsky.graph.defs#relationship", "did": did}
            if did in following:
                rel["following"] = following[did]
            if did in followers:
                rel["followedBy"] = followers[did]
            out.append(rel)
        return Response.of_json({"actor": actor.did, "relationships": out})

    def _h_search_posts(self, req: Request) -> Response:
        viewer = self._caller(req, required=False)
        q = (req.param("q") or "").strip()
        if not q:
            raise _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        since, until = _when(req.param("since")), _when(req.param("until"))
        wanted_tags = {_fold(t.lstrip("#")) for t in req.params("tag")}
        mentions = self._did(req.param("mentions") or "") if req.param("mentions") else None
        author = self._did(req.param("author") or "") if req.param("author") else None
        lang = req.param("lang")
        hits = []
        for account in self._accounts.values():
            for record in account.repo.get(POST, {}).values():
                value = record.value
                sort_at = min(_when(value.get("createdAt")) or record.indexed_at, record.indexed_at)
                if since is not None and sort_at < since:
                    continue
                if until is not None and sort_at >= until:
                    continue
                tags = _tags_of(value)
                if wanted_tags - tags:
                    continue
                if mentions is not None and mentions not in _mentions_of(value):
                    continue
                if author is not None and account.did != author:
                    continue
                if lang and lang not in (value.get("langs") or []):
                    continue
                if not self._matches(q, account, value, tags):
                    continue
                hits.append((sort_at, record))
        hits.sort(key=lambda h: (h[0], h[1].uri), reverse=True)
        offset = int(req.param("cursor") or 0)
        limit = _limit(req.param("limit"), 25, 100)
        page = hits[offset : offset + limit]
        out: JSON = {"posts": [self._post_view(r, viewer) for _, r in page], "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            out["cursor"] = str(offset + limit)
        return Response.of_json(out)

    def _matches(self, q: str, account: _Account, value: JSON, tags: set[str]) -> bool:
        text = _fold(str(value.get("text") or ""))
        for term in q.split():
            if term.startswith("from:"):
                if self._did(term[5:].lstrip("@")) != account.did:
                    return False
            elif term.startswith(("#", "＃")):
                if _fold(term[1:]) not in tags:
                    return False
            elif term.startswith("@"):
                did = self._handles.get(term[1:].lower())
                if _fold(term) not in text and (did is None or did not in _mentions_of(value)):
                    return False
            elif _fold(term) not in text:
                return False
        return True

    # ---------------------------------------------------------------- Jetstream (WebSocket)

    def _ws_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._ws_loop = loop
        asyncio.set_event_loop(loop)

        # Quiet like the HTTP side: connection chatter is not news in a demo or a test log.
        quiet = logging.getLogger("sandbox.bluesky.jetstream")
        quiet.setLevel(logging.WARNING)

        async def boot() -> None:
            self._ws_server = await serve(
                self._ws_handler,
                "127.0.0.1",
                0,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                process_request=self._ws_precheck,
                compression=None,
                logger=quiet,
            )
            self._ws_ready.set()

        loop.run_until_complete(boot())
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _wake_streams(self) -> None:
        loop = self._ws_loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._set_wakeups)

    def _set_wakeups(self) -> None:
        for wake in list(self._ws_wakeups):
            wake.set()

    def _ws_precheck(self, conn: ServerConnection, request: WsRequest) -> WsResponse | None:
        """What Jetstream refuses before the upgrade: unknown paths and a cursor too old."""
        split = urlsplit(request.path)
        if split.path.rstrip("/") != f"/xrpc/{JETSTREAM_NSID}":
            return conn.respond(
                HTTPStatus.NOT_FOUND, json.dumps({"error": "MethodNotImplemented", "message": "Not served"})
            )
        cursor = _int(parse_qs(split.query).get("cursor", [None])[0])
        with self._lock:
            floor = self._stream.floor
        if cursor is not None and cursor < _TIMESTAMP_CURSOR and cursor < floor:
            body = {
                "error": "CursorTooOld",
                "message": f"cursor {cursor} is below the retention floor {floor}",
            }
            return conn.respond(HTTPStatus.BAD_REQUEST, json.dumps(body))
        return None

    async def _ws_handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        collections = set(query.get("collections", []))
        kinds = set(query.get("kinds", []))
        cursor = _int(query.get("cursor", [None])[0])
        wake = asyncio.Event()
        self._ws_wakeups.add(wake)
        closed = asyncio.ensure_future(ws.wait_closed())
        with self._lock:
            self._stream.connections += 1
            drop_after = self._stream.drop_after.pop(0) if self._stream.drop_after else None
            too_slow = self._stream.too_slow_after.pop(0) if self._stream.too_slow_after else None
            start, notice = self._start_index(cursor)
        sent = 0
        try:
            if notice is not None:
                await ws.send(json.dumps({"$type": "message", "payload": notice}))
            index = start
            while True:
                wake.clear()
                with self._lock:
                    pending = self._stream.events[index:]
                for _, _, frame in pending:
                    index += 1
                    if not _wanted(frame, collections, kinds):
                        continue
                    if drop_after is not None and sent >= drop_after:
                        ws.transport.abort()  # a dropped socket: no close frame
                        return
                    if too_slow is not None and sent >= too_slow:
                        error = {"$type": "error", "error": "ConsumerTooSlow", "message": "consumer too slow"}
                        await ws.send(json.dumps(error))
                        await ws.close(1008, "ConsumerTooSlow")
                        return
                    await ws.send(frame)
                    sent += 1
                waiter = asyncio.ensure_future(wake.wait())
                await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if closed.done():
                    return
        except ConnectionClosed:
            return
        finally:
            closed.cancel()
            self._ws_wakeups.discard(wake)

    def _start_index(self, cursor: int | None) -> tuple[int, JSON | None]:
        events = self._stream.events
        if cursor is None:
            return len(events), None
        if cursor >= _TIMESTAMP_CURSOR:
            kept = [i for i, (seq, _, _) in enumerate(events) if seq >= self._stream.floor]
            at = next((i for i in kept if events[i][1] >= cursor), None)
            if at is None:
                return len(events), None
            if kept and cursor < events[kept[0]][1]:
                return at, {
                    "$type": f"{JETSTREAM_NSID}#info",
                    "name": "OutdatedCursor",
                    "message": f"cursor clamped to seq {events[at][0]}",
                }
            return at, None
        next_seq = events[-1][0] + 1 if events else 1
        if cursor > next_seq:
            return len(events), {
                "$type": f"{JETSTREAM_NSID}#info",
                "name": "FutureCursor",
                "message": f"cursor {cursor} is beyond the next seq {next_seq}; starting at the tip",
            }
        for i, (seq, _, _) in enumerate(events):
            if seq >= cursor:
                return i, None
        return len(events), None


class _BlueskyHttp(LoopbackServer):
    """The loopback server plus what every Bluesky answer carries: the ratelimit headers."""

    def __init__(self, sandbox: BlueskySandbox, router: Router, port: int = 0) -> None:
        self._sandbox = sandbox
        self.too_many_requests = 0  # 429s the rate limits handed out (faults armed by a test aside)
        super().__init__(router, FaultInjector(), port)

    def dispatch(self, req: Request) -> Response | None:
        allowed, headers = self._sandbox.spend(req)
        if not allowed:
            self.too_many_requests += 1
            self.requests.append((req.method, req.path))
            self._mark_handled(req)
            return Response.of_json(
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, headers
            )
        resp = super().dispatch(req)
        if resp is not None:
            for key, value in headers.items():
                resp.headers.setdefault(key, value)
        return resp


def _tid_of(micros: int) -> str:
    """A record key in atproto's TID form: microseconds and a clock id, base32-sortable."""
    value = (micros << 10) | 7
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _validate_post(value: JSON) -> None:
    text = value.get("text")
    if not isinstance(text, str):
        raise _error(400, "InvalidRecord", "Record/text must be a string")
    if len(text.encode()) > 3000 or len(_GRAPHEME.findall(text)) > 300:
        raise _error(400, "InvalidRecord", "Record/text must not be longer than 300 graphemes")
    size = len(text.encode())
    for facet in value.get("facets") or []:
        index = facet.get("index", {}) if isinstance(facet, dict) else {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= size:
            raise _error(400, "InvalidRecord", "Record/facets/index must fit the text")
    if _when(value.get("createdAt")) is None:
        raise _error(400, "InvalidRecord", "Record/createdAt must be a valid datetime")


def _split_uri(uri: str) -> tuple[str, str, str]:
    if not uri.startswith("at://"):
        raise ValueError(uri)
    did, collection, rkey = uri[5:].split("/")
    return did, collection, rkey


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _tags_of(value: JSON) -> set[str]:
    tags = {_fold(t) for t in value.get("tags") or [] if isinstance(t, str)}
    for facet in value.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#tag":
                tags.add(_fold(str(feature.get("tag") or "")))
    return tags


def _mentions_of(value: JSON) -> set[str]:
    out = set()
    for facet in value.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#mention":
                out.add(str(feature.get("did")))
    return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _limit(value: str | None, default: int, most: int) -> int:
    n = _int(value)
    if n is None:
        return default
    if not 1 <= n <= most:
        raise _error(400, "InvalidRequest", f"limit must be between 1 and {most}")
    return n


def _bounded(value: str | None, name: str, default: int, most: int = 1000) -> int:
    """An integer parameter between 0 and ``most`` (getPostThread's depth and parentHeight)."""
    if value is None:
        return default
    n = _int(value)
    if n is None or not 0 <= n <= most:
        raise _error(400, "InvalidRequest", f"{name} must be an integer between 0 and {most}")
    return n


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _wanted(frame: str | bytes, collections: set[str], kinds: set[str]) -> bool:
    """Jetstream's filters, applied to well-formed commit frames (raw test frames always pass)."""
    if not isinstance(frame, str) or not (collections or kinds):
        return True
    try:
        payload = json.loads(frame).get("payload") or {}
    except (ValueError, AttributeError):
        return True
    kind = str(payload.get("$type", "")).rpartition("#")[2]
    if kinds and kind not in kinds:
        return False
    return not (kind == "commit" and collections and payload.get("collection") not in collections)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a sandbox until interrupted, optionally with a few members posting ``--tag``."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.bluesky", description=__doc__)
    parser.add_argument("--tag", default=None, help="seed a few members posting with this hashtag")
    args = parser.parse_args(argv)
    sandbox = BlueskySandbox()
    with sandbox:
        if args.tag:
            ana = sandbox.add_account("ana.test", display_name="Dr Ana Ruiz")
            sandbox.post(ana, f"Our residency program is hiring a research fellow #{args.tag}")
        print(
            f"Bluesky sandbox at {sandbox.base_url} (Jetstream {sandbox.ws_url}); "
            f"central account {sandbox.central} password {sandbox.password}; Ctrl-C to stop",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
