"""Bluesky's event streams as something an async generator can pull from.

The SDK's subscription clients (Jetstream v2 and the repo firehose) run a callback loop and
reconnect by themselves. Each runs here in a task that hands its events over through a bounded
queue; ``take`` gives the adapter what has arrived, or says the stream went quiet, or raises
``StreamBroken`` when the server ended the subscription for good (the adapter decides how to
resume). Events at or before the last delivered sequence number are dropped, so a reconnect's
replay never hands the same event over twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import libipld
from atproto_client.models.common import XrpcError
from atproto_core.exceptions import AtProtocolError
from atproto_firehose import AsyncFirehoseSubscribeReposClient
from atproto_jetstream import AsyncJetstreamClient
from atproto_jetstream.exceptions import (
    JetstreamConsumerTooSlowError,
    JetstreamCursorTooOldError,
    JetstreamDecodingError,
    JetstreamError,
)
from atproto_subscription.frames import Frame
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from adapters.bluesky.normalize import POST
from adapters.bluesky.prefilter import (
    TIMESTAMP_CURSOR,
    FrameError,
    JetstreamDecoder,
    NewPost,
    Notice,
    Prefilter,
    StreamEvent,
    StreamRefused,
)

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
STOP_TIMEOUT_S = 1.0  # a connected client closes in well under this; one in backoff is cancelled
GIVE_UP_AFTER = 3  # failed connections in a row (about 14 s of the SDK's backoff) before we say so
TIP_PROBES = 130  # enough to find any 64-bit sequence number by doubling, then halving
Item = StreamEvent | Notice


class StreamBroken(Exception):
    """The server ended the subscription (``CursorTooOld``, ``FutureCursor``…) or it failed."""

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message


def _broken(exc: BaseException) -> StreamBroken:
    """A subscription client's fatal exception, named by the XRPC error it carries."""
    if isinstance(exc, JetstreamCursorTooOldError):
        return StreamBroken("CursorTooOld", "the stored cursor is older than the stream keeps")
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, XrpcError):
            return StreamBroken(str(arg.error), str(arg.message or ""))
    return StreamBroken(type(exc).__name__, str(exc)[:200])


class _Bridge:
    """A subscription client running in a task, its events queued for ``take``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.task: asyncio.Task[None] | None = None
        self.position: int | None = None  # the last sequence number handed to the queue
        self.dials = 0  # connection attempts the SDK made
        self.failures = 0  # of those, failed in a row since the last frame
        self.last_error: BaseException | None = None
        self.received = False

    async def put(self, item: Item) -> None:
        self.failures = 0
        self.received = True
        await self.queue.put(item)

    def dialing(self) -> None:
        self.dials += 1

    def failed(self, exc: BaseException) -> None:
        """The SDK lost (or never got) its connection and will dial again after a backoff."""
        self.failures += 1
        self.last_error = exc
        log.warning(
            "bluesky stream connection failed; the client reconnects from its cursor",
            extra={
                "platform": "bluesky",
                "source": self.name,
                "error": type(exc).__name__,
                "cursor": self.position,
            },
        )

    def unreachable(self) -> bool:
        """Never got anything through at all, or failing again and again: worth telling the
        caller (a quiet stream that is connected has no failures)."""
        if self.failures >= GIVE_UP_AFTER:
            return True
        return not self.received and self.failures > 0 and self.failures >= self.dials

    def accept(self, seq: int) -> bool:
        if self.position is not None and seq <= self.position:
            return False
        self.position = seq
        return True

    def run(self, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.task = asyncio.create_task(start(), name=f"bluesky-{self.name}")

    async def take(self, limit: int, quiet_s: float) -> list[Item]:
        """Up to ``limit`` items; waits at most ``quiet_s`` for the first ([] when quiet)."""
        assert self.task is not None
        items: list[Item] = []
        if self.queue.empty():
            if self.task.done():
                self._raise_end()
            getter = asyncio.ensure_future(self.queue.get())
            done, _ = await asyncio.wait(
                {getter, self.task}, timeout=quiet_s, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done or not getter.cancel():
                items.append(getter.result())
            elif self.task in done:
                self._raise_end()
            elif self.unreachable():
                error = type(self.last_error).__name__ if self.last_error else "unknown"
                raise StreamBroken("Unreachable", f"{self.failures} failed connections ({error})")
        while len(items) < limit and not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    def _raise_end(self) -> None:
        assert self.task is not None
        exc = self.task.exception()
        if exc is not None:
            raise _broken(exc) from exc
        raise StreamBroken("Closed", "the subscription ended")

    async def close(self, stop: Callable[[], Awaitable[None]]) -> None:
        if self.task is None:
            return
        with contextlib.suppress(Exception):
            await stop()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), STOP_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()
        except Exception:  # the task's own failure was reported by take(), or does not matter now
            log.debug("subscription ended with an error while closing", exc_info=True)
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class _Reporting:
    """SDK hooks (before each dial; on each lost connection) told to the bridge."""

    _bridge: _Bridge

    async def _before_connect(self) -> None:
        self._bridge.dialing()
        await super()._before_connect()  # type: ignore[misc]

    def _handle_websocket_error_or_stop(self, exception: Exception) -> bool:
        stop: bool = super()._handle_websocket_error_or_stop(exception)  # type: ignore[misc]
        if not stop:
            self._bridge.failed(exception)
        return stop


class _JetstreamClient(_Reporting, AsyncJetstreamClient):  # type: ignore[misc]
    """The SDK's Jetstream v2 client, decoding through our prefilter instead of its typed models.

    The SDK owns the connection, reconnects, compression and cursor tracking; this subclass
    only swaps the decode step (the SDK's hook for it), so frames nobody asked about never
    become models.
    """

    def __init__(self, decoder: JetstreamDecoder, bridge: _Bridge, resume: int | None, **kwargs: Any) -> None:
        params: dict[str, Any] = {"collections": [POST], "kinds": ["commit"]}
        if resume is not None:
            params["cursor"] = resume
        super().__init__(params=params, **kwargs)
        self._decoder = decoder
        self._bridge = bridge
        if resume is not None and resume < TIMESTAMP_CURSOR:
            # The server replays from the cursor inclusively; that event is already stored.
            self._track_cursor(resume)
            bridge.position = resume

    def _decode_frame(self, raw_frame: str | bytes) -> Item | None:
        if isinstance(raw_frame, bytes | bytearray):
            data = bytes(raw_frame)
            compression = self._compression
            if compression is not None and compression.dictionary_id is not None:
                data = compression.decompress(data)
        else:
            data = raw_frame.encode("utf-8", "surrogatepass")
        cursor: int | None = self.cursor  # the SDK's: last sequence number delivered
        try:
            item = self._decoder.decode(data)
        except StreamRefused as refused:
            error = XrpcError(refused.name, refused.message)
            if refused.name == "ConsumerTooSlow":
                log.warning("jetstream dropped us as too slow; resuming from the cursor")
                raise JetstreamConsumerTooSlowError(error) from refused
            raise JetstreamError(error) from refused
        except FrameError as bad:
            log.warning("skipped malformed jetstream frame", extra={"seq": bad.seq, "error": str(bad)})
            if bad.seq is None or (cursor is not None and bad.seq <= cursor):
                raise JetstreamDecodingError(str(bad)) from bad  # the SDK skips the frame
            item = StreamEvent(bad.seq, malformed=1)  # counted, and the cursor moves past it
        if isinstance(item, Notice):
            if item.name == "FutureCursor":
                # The server started at its live tip, below our cursor: forget it or we would
                # drop every new event as already seen.
                self._cursor = None
                self._bridge.position = None
                if self._params is not None:
                    self._params.pop("cursor", None)
            return item
        if cursor is not None and item.seq <= cursor:
            return None
        self._track_cursor(item.seq)
        self._bridge.position = item.seq
        return item


class _Stream:
    """What the adapter holds: a subscription client, the bridge its events cross, and how
    to start, read and close it. Subclasses make the client and say what a message is."""

    bridge: _Bridge
    client: Any

    async def start(self) -> None:
        self.bridge.run(lambda: self.client.start(self._on_message, self._callback_error))

    async def _on_message(self, item: Any) -> None:
        await self.bridge.put(item)

    async def _callback_error(self, exc: BaseException) -> None:
        log.error("bluesky event hand-over failed", extra={"source": self.bridge.name, "error": repr(exc)})

    async def take(self, limit: int, quiet_s: float) -> list[Item]:
        return await self.bridge.take(limit, quiet_s)

    async def close(self) -> None:
        await self.bridge.close(self.client.stop)


class JetstreamStream(_Stream):
    """``network.bsky.jetstream.subscribeEvents`` for new posts, from a seq or a time cursor.
    Its client decodes frames into StreamEvents itself (see _JetstreamClient)."""

    def __init__(
        self,
        base_uri: str,
        prefilter: Prefilter,
        resume: int | None,
        *,
        compress: bool = True,
        recv_timeout: float = 60.0,
    ) -> None:
        self.bridge = _Bridge("jetstream")
        self.client = _JetstreamClient(
            JetstreamDecoder(prefilter),
            self.bridge,
            resume,
            base_uri=base_uri,
            compress=compress,
            recv_timeout=recv_timeout,
        )


class FirehoseDecoder:
    """Firehose (``subscribeRepos``) frames into StreamEvents: the CAR blocks of a commit are
    only decoded when it creates a post and the prefilter finds a needle in its bytes."""

    def __init__(self, prefilter: Prefilter) -> None:
        self.prefilter = prefilter

    def decode(self, kind: str | None, body: Any) -> Item | None:
        if not isinstance(body, dict):
            raise FrameError("body is not a map")
        if kind == "#info":
            return Notice(str(body.get("name") or ""), _opt_str(body.get("message")))
        seq = body.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return None  # frames without a sequence number do not move the cursor
        when = _opt_str(body.get("time"))
        if kind != "#commit":
            return StreamEvent(seq, when=when)
        creates = [
            op
            for op in body.get("ops") or []
            if isinstance(op, dict)
            and op.get("action") == "create"
            and isinstance(op.get("path"), str)
            and op["path"].startswith(POST + "/")
        ]
        blocks = body.get("blocks")
        if not creates or not isinstance(blocks, bytes) or not self.prefilter.may_match(blocks):
            return StreamEvent(seq, when=when)
        repo = body.get("repo")
        if not isinstance(repo, str):
            raise FrameError("repo is missing", seq)
        try:
            _, records = libipld.decode_car(blocks)
        except Exception as exc:  # libipld raises plain ValueErrors (and friends) on bad CAR bytes
            raise FrameError(f"unreadable blocks ({type(exc).__name__})", seq) from exc
        posts = []
        for op in creates:
            cid = op.get("cid")
            record = records.get(cid) if isinstance(cid, bytes) else None
            cid_text = libipld.encode_cid(cid) if isinstance(cid, bytes) else _opt_str(cid)
            posts.append(NewPost(repo, op["path"].split("/", 1)[1], cid_text, record))
        return StreamEvent(seq, when=when, posts=tuple(posts))


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _FirehoseClient(_Reporting, AsyncFirehoseSubscribeReposClient):  # type: ignore[misc]
    def __init__(self, bridge: _Bridge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bridge = bridge


class FirehoseStream(_Stream):
    """``com.atproto.sync.subscribeRepos`` on a relay or a PDS, from a seq cursor or the tip."""

    def __init__(
        self, base_uri: str, prefilter: Prefilter, resume: int | None, *, recv_timeout: float = 30.0
    ) -> None:
        self.bridge = _Bridge("firehose")
        self.bridge.position = resume
        self.decoder = FirehoseDecoder(prefilter)
        params = {"cursor": resume} if resume is not None else None
        self.client = _FirehoseClient(
            self.bridge, params=params, base_uri=base_uri, recv_timeout=recv_timeout
        )

    async def _on_message(self, frame: Any) -> None:
        try:
            item = self.decoder.decode(getattr(frame, "type", None), getattr(frame, "body", None))
        except FrameError as bad:
            log.warning("skipped malformed firehose frame", extra={"seq": bad.seq, "error": str(bad)})
            if bad.seq is not None and self.bridge.accept(bad.seq):
                self.client.update_params({"cursor": bad.seq})
                await self.bridge.put(StreamEvent(bad.seq, malformed=1))
            return
        if item is None:
            return
        if isinstance(item, StreamEvent):
            if not self.bridge.accept(item.seq):
                return
            # On reconnect the SDK subscribes with these params again; keep them current.
            self.client.update_params({"cursor": item.seq})
        await self.bridge.put(item)


async def firehose_tip(base_uri: str, *, quiet_s: float, open_timeout: float = 10.0) -> int | None:
    """Where a firehose (``subscribeRepos``) is now, as a sequence number to subscribe from.

    A subscription from the tip says nothing about where that is until an event comes, and on
    a quiet PDS none may come before a ``run --once`` ends: its cursor would then hold no
    position, and the next run could not resume the stream. The server does tell where a
    cursor stands, though: one before its tip is answered with events, one past it is refused
    (``FutureCursor``), and the tip itself is quiet. So the tip is found by doubling a cursor
    until refused, then halving the gap — a few dozen short connections, only when no
    position is stored. While events keep coming the answer is a little behind the tip, never
    past it (subscribing from it replays what the store already holds, at worst). None when
    the server answers in some other way.
    """
    uri = f"{base_uri.rstrip('/')}/com.atproto.sync.subscribeRepos"

    async def where(cursor: int) -> str:  # "before", "past" or "tip"
        async with connect(f"{uri}?cursor={cursor}", open_timeout=open_timeout, close_timeout=0.1) as ws:
            try:
                raw = await asyncio.wait_for(ws.recv(), quiet_s)
            except TimeoutError:
                return "tip"
        frame = Frame.from_bytes(raw if isinstance(raw, bytes) else raw.encode())
        if not frame.is_error:
            return "before"
        name = getattr(frame.body, "error", None)
        if name == "FutureCursor":
            return "past"
        raise StreamBroken(str(name or "Error"), str(getattr(frame.body, "message", "") or ""))

    low, high, probes = 0, None, 0
    try:
        cursor = 1
        while high is None and probes < TIP_PROBES:
            probes += 1
            found = await where(cursor)
            if found == "tip":
                return cursor
            if found == "past":
                high = cursor
            else:
                low, cursor = cursor, cursor * 2
        while high is not None and high - low > 1 and probes < TIP_PROBES:
            probes += 1
            middle = (low + high) // 2
            found = await where(middle)
            if found == "tip":
                return middle
            if found == "past":
                high = middle
            else:
                low = middle
    except (OSError, TimeoutError, WebSocketException, AtProtocolError, StreamBroken) as exc:
        log.warning(
            "could not tell where the firehose is; subscribing from its tip",
            extra={"platform": "bluesky", "error": type(exc).__name__},
        )
        return None
    return low if high is not None else None
