"""The web console's figures: the queue page over a community of a million posts."""

from __future__ import annotations

import dataclasses
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

from bench.million import million_posts
from bench.registry import group
from bench.report import END, settings
from bot.clock import FakeClock
from bot.config import Curator
from bot.ops import web_access
from bot.store import models as m
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine
from bot.web.app import WebDeps, create_app
from bot.web.auth import SESSION_COOKIE, sign

RUNS = 60
FILTERED_RUNS = 20


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@group("web", [("web_queue_p95_ms", "ms", "<= 100")])
def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = million_posts(Path(tmp) / "bench.db")  # the report bench's million posts
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        cfg = settings()
        clock = FakeClock(END)
        store = Store.open(engine, "bench", "Bench", END)
        with engine.connect() as conn:
            posts = conn.execute(select(func.count()).select_from(m.Post)).scalar_one()
            pending = conn.execute(
                select(func.count()).select_from(m.Candidate).where(m.Candidate.state == "pending")
            ).scalar_one()
        print(
            f"  {posts:,} posts, {pending:,} pending, ready in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
        cfg = dataclasses.replace(cfg, curators=(Curator("ana"),))
        deps = WebDeps(cfg, store, clock)
        secret = web_access.signing_secret(store, cfg, clock.now())
        link = web_access.sign_in_link(store, cfg, "ana", clock.now())
        assert link.data is not None
        opened = web_access.redeem(store, cfg, link.data.url.rsplit("/", 1)[1], clock.now())
        assert opened.data is not None
        # Named TCP, as the sockets uvicorn opens itself for ``run`` are: asyncio then turns
        # Nagle's algorithm off on each connection. A plain socket() has protocol 0, asyncio
        # leaves Nagle on, and every small response waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        server = _Server(uvicorn.Config(create_app(deps), log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        assert server.ready.wait(30)
        port = sock.getsockname()[1]
        cookies = {SESSION_COOKIE: sign(secret, "session", opened.data.session_id)}
        times, cpu = [], []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies) as client:
            first = client.get("/queue")
            assert first.status_code == 200, first.status_code
            cards = first.text.count('class="qcard ')
            for _ in range(RUNS):
                t, c = time.perf_counter(), time.process_time()
                answer = client.get("/queue")
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                assert answer.status_code == 200
            # A filter whose state no candidate is in (nothing waits for the amplifier here): the
            # listing's worst case, as when a community's open work is all recent and the rows
            # before it are years of decided candidates.
            empty = []
            for _ in range(FILTERED_RUNS):
                t = time.perf_counter()
                assert client.get("/queue?state=approved").status_code == 200
                empty.append(time.perf_counter() - t)
        server.should_exit = True
        thread.join(30)
        engine.dispose()
    p95 = statistics.quantiles(times, n=20)[-1] * 1000
    median = statistics.median(times) * 1000
    # The server runs in this process, so its CPU time per page (with the client's, which is
    # small) tells the page's own work apart from a busy machine's queueing.
    work = statistics.median(cpu) * 1000
    print(
        f"  queue page ({cards} cards shown of {pending:,} pending): median {median:.1f} ms, "
        f"p95 {p95:.1f} ms, cpu per page {work:.1f} ms; load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    filtered = statistics.median(empty) * 1000
    print(f"  queue page filtered to a state nobody is in: median {filtered:.1f} ms", file=sys.stderr)
    return {
        "web_queue_filtered_median_ms": round(filtered, 1),
        "web_queue_p95_ms": round(p95, 1),
        "web_queue_median_ms": round(median, 1),
        "web_queue_cpu_ms": round(work, 1),
    }
