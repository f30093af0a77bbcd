"""Loopback emulator of the Bluesky XRPC endpoints Coalesce uses, plus a Jetstream v2 stream: the
public face (lifecycle, addresses and plain-Python test helpers)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

from sandbox._server import FaultInjector
from sandbox.bluesky.jetstream import BlueskyJetstream
from sandbox.bluesky.model import (
    FOLLOW,
    JSON,
    LIKE,
    LIST,
    LIST_ITEM,
    POST,
    REPOST,
    _iso,
    _micros,
    _split_uri,
    _tid_of,
)


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


class BlueskySandbox(BlueskyJetstream):
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

    def __enter__(self) -> BlueskySandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    def handle_of(self, did: str) -> str:
        with self._lock:
            return self._accounts[did].handle

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
