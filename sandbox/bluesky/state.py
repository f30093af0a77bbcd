"""The Bluesky sandbox's state: accounts, repositories and the event stream behind one lock, and
the rules that change them (creating records, emitting stream events, waking stream readers)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from atproto_client.utils import facet_detection
from websockets.asyncio.server import Server

from sandbox._server import Request, Router
from sandbox.bluesky.http import BlueskyHttp
from sandbox.bluesky.model import (
    FOLLOW,
    JETSTREAM_NSID,
    JSON,
    Account,
    Bucket,
    Clock,
    Record,
    Stream,
    _error,
    _micros,
    _split_uri,
    _tid_of,
    _utc_now,
    cid_of,
)


class BlueskyState:
    """Everything the PDS, AppView and Jetstream know, behind one lock."""

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
        self._accounts: dict[str, Account] = {}  # by DID
        self._handles: dict[str, str] = {}  # handle -> DID
        self._access: dict[str, tuple[str, float]] = {}  # token -> (did, exp unix s)
        self._refresh: dict[str, tuple[str, float]] = {}
        self._buckets: dict[str, Bucket] = {}
        self._tid_last = 0
        self._last_seq = 0
        self._stream = Stream()
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws_server: Server | None = None
        self._ws_thread: threading.Thread | None = None
        self._ws_ready = threading.Event()
        self._ws_wakeups: set[asyncio.Event] = set()
        self.logins = 0  # password logins (createSession) served
        self.refreshes = 0
        self.central = self.add_account(handle, display_name=display_name, password=password)
        self.password = password
        self._http = BlueskyHttp(self._router(), port, spend=self.spend)

    # The HTTP layer (handlers.py) answers these two; the state only wires them to the server.
    def _router(self) -> Router:
        raise NotImplementedError

    def spend(self, req: Request) -> tuple[bool, dict[str, str]]:
        raise NotImplementedError

    def now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

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
            self._accounts[did] = Account(
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

    def _take_seq(self) -> int:
        self._last_seq += 1
        return self._last_seq

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

    def _find(self, uri: str) -> Record | None:
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

    def _create(self, did: str, collection: str, value: JSON, rkey: str | None = None) -> Record:
        account = self._accounts[did]
        rkey = rkey or self._tid()
        if rkey in account.repo.get(collection, {}):
            raise _error(400, "InvalidRequest", f"Record already exists: {collection}/{rkey}")
        uri = f"at://{did}/{collection}/{rkey}"
        record = Record(uri, cid_of(value), value, self.now())
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

    def _wake_streams(self) -> None:
        loop = self._ws_loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._set_wakeups)

    def _set_wakeups(self) -> None:
        for wake in list(self._ws_wakeups):
            wake.set()
