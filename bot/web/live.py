"""Live updates for the console: which candidates changed, whoever changed them (the web, the
Telegram console, the command line, the amplifier), in any process.

On PostgreSQL a trigger on ``candidates`` (migration 0016_web) notifies the channel
``coalesce_candidates``; one listening connection per console process fans the news out. On
SQLite, which cannot notify, a light poll asks once a second for decisions newer than the last
seen. Pages subscribe through the server-sent events endpoint ``/live/queue``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.store import models as m
from bot.store.store import Store
from bot.web.deps import web

log = logging.getLogger(__name__)

CHANNEL = "coalesce_candidates"
KEEPALIVE_SECONDS = 15.0


class LiveFeed:
    """One watcher per process, started by the first subscriber and stopped with the app."""

    def __init__(self, store: Store, *, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._subscribers: set[asyncio.Queue[int]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[int]]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._watch(), name="web-live-feed")
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def stopping(self) -> asyncio.Event:
        return self._stopping

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _publish(self, candidate_id: int) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled page misses news, not us
                queue.put_nowait(candidate_id)

    async def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.store.engine.dialect.name == "postgresql":
                    await self._listen()
                else:
                    await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: pages keep working, news resumes
                log.warning("live updates interrupted", extra={"error": type(exc).__name__})
                await asyncio.sleep(self.poll_seconds)

    def _last_decision(self) -> int:
        with self.store.engine.connect() as conn:
            found = conn.execute(
                select(func.coalesce(func.max(m.Decision.id), 0)).where(
                    m.Decision.community_id == self.store.community_id
                )
            ).scalar_one()
        return int(found)

    def _decided_since(self, after: int) -> tuple[int, list[int]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(m.Decision.id, m.Decision.candidate_id)
                .where(m.Decision.community_id == self.store.community_id, m.Decision.id > after)
                .order_by(m.Decision.id)
                .limit(1000)
            ).all()
        if not rows:
            return after, []
        return int(rows[-1].id), list(dict.fromkeys(int(r.candidate_id) for r in rows))

    async def _poll(self) -> None:
        last = await anyio.to_thread.run_sync(self._last_decision)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)
            last, changed = await anyio.to_thread.run_sync(self._decided_since, last)
            for candidate_id in changed:
                self._publish(candidate_id)

    async def _listen(self) -> None:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            schema = (await (await conn.execute("SELECT current_schema()")).fetchone() or ("",))[0]
            await conn.execute(f"LISTEN {CHANNEL}")
            prefix = f"{schema}:{self.store.community_id}:"
            while not self._stopping.is_set():
                async for note in conn.notifies(timeout=1.0):
                    if note.payload.startswith(prefix):
                        self._publish(int(note.payload.removeprefix(prefix)))


async def queue_events(request: Request) -> Response:
    """Server-sent events: ``event: candidate`` with the id of each candidate that changed."""
    feed: LiveFeed = web(request).extras["live"]

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n: live\n\n"
        async with feed.subscription() as queue:
            while not feed.stopping.is_set():
                try:
                    candidate_id = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: candidate\ndata: {candidate_id}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


ROUTES = [Route("/live/queue", queue_events, methods=["GET"])]
