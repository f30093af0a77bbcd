"""A platform unreachable at start-up is an outage like any other: ``python -m bot run`` goes on
with the other platforms, ``bot health`` shows the outage, the dead platform is started again
with backoff and catches up once it answers, and nothing ends in a traceback. (A Mastodon server
refusing connections used to end ``run`` with a RecursionError from Mastodon.py's version check.)

Each platform in turn is the dead one: a closed loopback port, later served by its sandbox."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.store import models as m
from bot.store.store import make_engine
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import DEFAULT_TOKEN as MASTODON_TOKEN
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"
CURATORS, COMMUNITY = -1001000000001, -1001000000002
MARIA = 3001
TG_TOKEN = "123456:sandbox-token"
BSKY_PASSWORD = "central-app-password"


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait on the bot process's progress (it runs on the wall clock, in another process)."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.1)


class World:
    """The three sandboxes, any of them not (yet) running, each with one hashtag post waiting."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.running: dict[str, Any] = {}

    def start(self, name: str, port: int = 0) -> None:
        now = lambda: datetime.now(UTC)  # noqa: E731
        if name == "mastodon":
            masto = MastodonSandbox(domain="med.example", clock=now, port=port).start()
            maria = masto.add_account("maria")
            masto.post(maria, f"Matched! #{TAG}")
            self.running[name], self.ports[name] = masto, _port(masto.base_url)
        elif name == "bluesky":
            bsky = BlueskySandbox(clock=now, port=port).start()
            did = bsky.add_account("maria.test")
            bsky.post(did, f"First day of residency #{TAG}")
            self.running[name], self.ports[name] = bsky, _port(bsky.base_url)
        else:
            tg = TelegramSandbox(TG_TOKEN, port=port).start()
            maria = tg.add_user(MARIA, "María", "maria_md")
            tg.add_chat(CURATORS, title="Curators")
            tg.add_chat(COMMUNITY, title="Community", members=[maria])
            tg.user_sends(maria, COMMUNITY, f"Passed my boards #{TAG}")
            self.running[name], self.ports[name] = tg, _port(tg.base_url)

    def stop(self) -> None:
        for sandbox in self.running.values():
            with contextlib.suppress(Exception):
                sandbox.stop()

    def config(self, db: str) -> dict[str, Any]:
        def url(name: str) -> str:
            return f"http://127.0.0.1:{self.ports[name]}"

        return {
            "community": {"slug": "lim", "name": "LIM", "hashtags": [TAG]},
            "database": {"url": db},
            "run": {"poll_seconds": 0.5, "watch_retry_seconds": 0.2, "watch_retry_max_seconds": 0.5},
            "trust": {"cycle_seconds": 1},
            "platforms": {
                "mastodon": {
                    "api_base_url": url("mastodon"),
                    "access_token": "${MT}",
                    "poll_seconds": 0.5,
                    "request_timeout": 3,
                },
                "bluesky": {
                    "handle": "coalesce.test",
                    "app_password": "${BP}",
                    "service_url": url("bluesky"),
                    "watch": "search",
                    "poll_seconds": 0.5,
                    "request_timeout": 3,
                },
                "telegram": {
                    "bot_token": "${TT}",
                    "base_url": f"{url('telegram')}/bot",
                    "curator_chat_id": CURATORS,
                    "community_chat_ids": [COMMUNITY],
                    "poll_timeout": 0.5,
                    "request_timeout": 3,
                },
            },
        }


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.stop()


def queued(engine: Any) -> set[str]:
    """The platforms that have a candidate in the queue."""
    with engine.connect() as conn:
        rows = conn.execute(select(m.Post.platform).join(m.Candidate, m.Candidate.post_id == m.Post.id))
        return {r[0] for r in rows}


def outage_of(engine: Any, platform: str) -> str | None:
    with engine.connect() as conn:
        h = m.WatchHealth
        return conn.execute(select(h.last_error).where(h.platform == platform)).scalar()


@pytest.mark.parametrize("dead", ["mastodon", "bluesky", "telegram"])
def test_a_dead_platform_at_start_up_is_an_outage_not_a_crash(
    dead: str, world: World, tmp_path: Path
) -> None:
    for name in ("mastodon", "bluesky", "telegram"):
        if name == dead:
            world.ports[name] = closed_port()
        else:
            world.start(name)
    db = f"sqlite:///{tmp_path / 'coalesce.db'}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(world.config(db)))
    env = {**os.environ, "MT": MASTODON_TOKEN, "BP": BSKY_PASSWORD, "TT": TG_TOKEN}

    def bot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args, "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    # One cycle from cron: the others are watched, the dead one is reported, exit 0.
    once = bot("run", "--once")
    assert "Traceback" not in once.stderr, once.stderr
    assert once.returncode == 0, once.stderr
    assert f"{dead}: could not watch" in once.stdout
    engine = make_engine(db)
    alive = {"mastodon", "bluesky", "telegram"} - {dead}
    assert queued(engine) == alive
    assert outage_of(engine, dead)

    health = bot("health")
    assert health.returncode == 1  # the outage shows
    lines = health.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(dead))
    assert "STALE" in lines[at]
    assert any("last error" in line for line in lines[at : at + 4]), health.stdout

    # The long-running worker: starts, goes on, and picks the platform up when it comes back.
    started = datetime.now(UTC)
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _failed_since(engine, dead, started), 30, f"the worker to find {dead} down")
        world.start(dead, port=world.ports[dead])
        wait_until(lambda: queued(engine) == alive | {dead}, 60, f"{dead}'s post, once it answers")
        wait_until(lambda: _recovered(engine, dead), 30, f"{dead} healthy again")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-3000:]
    assert "platform unavailable at start-up; will retry" in err
    assert "Traceback" not in err, err[-3000:]
    assert "RecursionError" not in err


def _failed_since(engine: Any, platform: str, since: datetime) -> bool:
    with engine.connect() as conn:
        h = m.WatchHealth
        at = conn.execute(select(h.last_error_at).where(h.platform == platform)).scalar()
        return at is not None and at.replace(tzinfo=at.tzinfo or UTC) >= since


def _recovered(engine: Any, platform: str) -> bool:
    with engine.connect() as conn:
        h = m.WatchHealth
        row = conn.execute(select(h.last_ok_at, h.last_error_at).where(h.platform == platform)).one()
        if row.last_ok_at is None:
            return False
        return row.last_error_at is None or row.last_ok_at > row.last_error_at


def _port(base_url: str) -> int:
    return int(base_url.rstrip("/").rsplit(":", 1)[1])
