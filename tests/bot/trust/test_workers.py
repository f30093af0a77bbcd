"""Two real ``python -m bot run`` workers on one PostgreSQL database share the approved queue: no
boost is made twice and none is lost when one of them is SIGKILLed mid-work and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.curation.queue import Queue
from bot.store import models as m
from bot.store.store import Store, make_engine
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.conftest import BASE_CONFIG, make_settings

TAG = "LatinasInMedicine"
POSTS = 40


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=lambda: datetime.now(UTC), rate_limit=100_000) as sb:
        yield sb


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait on the other processes' progress (they run on the wall clock, not ours)."""
    pause = threading.Event()
    deadline = datetime.now(UTC).timestamp() + timeout
    while not check():
        if datetime.now(UTC).timestamp() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.1)


def test_two_workers_one_boost_each_through_a_sigkill(
    tmp_path: Path, db_url: str, sandbox: MastodonSandbox
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("several workers are a PostgreSQL deployment")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                **BASE_CONFIG,
                "database": {"url": db_url},
                "amplify": {"max_per_hour": 100_000, "burst": 100, "backoff_seconds": 0.5},
                "run": {"poll_seconds": 0.5},
                "trust": {"cycle_seconds": 1},
                "platforms": {
                    "mastodon": {
                        "api_base_url": sandbox.base_url,
                        "access_token": "${TEST_TOKEN}",
                        "poll_seconds": 1,
                        "request_timeout": 5,
                    }
                },
            }
        )
    )

    def bot(worker: str, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "TEST_TOKEN": sandbox.token, "COALESCE_WORKER_ID": worker}
        return subprocess.Popen(
            [sys.executable, "-m", "bot", *args, "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    members = [sandbox.add_account(f"member{i}") for i in range(8)]
    statuses = [sandbox.post(members[i % 8], f"Post {i} #{TAG}") for i in range(POSTS)]
    first = bot("w1", "run", "--once")
    assert first.wait(60) == 0, first.communicate()[1]
    engine = make_engine(db_url)
    settings = make_settings()
    now = datetime.now(UTC)
    queue = Queue(Store.open(engine, settings.community.slug, settings.community.name, now), settings)
    for view in queue.list("pending", limit=POSTS):
        queue.approve(view.id, "lucia", now)
    # Each boost is done by the server but answered late: a kill can land between the two.
    sandbox.faults.add(r"/reblog$", Fault("delay_after", seconds=0.3), times=10_000, method="POST")

    def boosted() -> int:
        return sum(1 for s in statuses if sandbox.reblogs_of(s))

    w1, w2 = bot("w1", "run"), bot("w2", "run")
    wait_until(lambda: boosted() >= 8, 60, "the first boosts")
    sandbox.wait_for_request("POST", r"/reblog$")
    w1.send_signal(signal.SIGKILL)
    w1.wait(10)
    killed_log = w1.communicate()[1]
    w1 = bot("w1", "run")  # the same worker comes back (a host restarting its dyno)

    def amplified() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).where(m.Candidate.state == "amplified")).scalar_one()
            )

    wait_until(lambda: amplified() == POSTS, 120, "every approved post amplified")
    for worker in (w1, w2):
        worker.send_signal(signal.SIGTERM)
    logs = [killed_log] + [w.communicate(timeout=30)[1] for w in (w1, w2)]
    assert w1.returncode == 0, logs
    assert w2.returncode == 0, logs

    assert all(len(sandbox.reblogs_of(s)) == 1 for s in statuses)  # none lost
    posts = Counter(p for verb, p in sandbox.requests if verb == "POST" and p.endswith("/reblog"))
    assert set(posts.values()) == {1}, posts  # none asked for twice
    assert len(posts) == POSTS
    with engine.connect() as conn:
        rows = conn.execute(select(m.Amplification.state, func.count()).group_by(m.Amplification.state)).all()
    assert rows == [("done", POSTS)]
    assert "amplified" in killed_log  # both workers took a share
    assert "amplified" in logs[2]
    engine.dispose()
