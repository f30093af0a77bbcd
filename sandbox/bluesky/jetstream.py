"""The Bluesky sandbox's Jetstream v2: a WebSocket server on its own loop and thread, with cursors,
filters, notices and the faults a test arms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from sandbox.bluesky.handlers import BlueskyHandlers
from sandbox.bluesky.model import _TIMESTAMP_CURSOR, JETSTREAM_NSID, JSON, SUBPROTOCOL, _int, _wanted


class BlueskyJetstream(BlueskyHandlers):
    """The Jetstream WebSocket side: serving, pre-upgrade checks, replay from a cursor."""

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

    @staticmethod
    async def _ws_shutdown(server: Server) -> None:
        server.close(close_connections=True)
        await server.wait_closed()

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
