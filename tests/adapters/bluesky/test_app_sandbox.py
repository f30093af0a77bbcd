"""Bluesky through the whole bot: hashtag and nominations to the queue, approval to one repost,
on SQLite and PostgreSQL, and ``python -m bot run --once`` as a cron job would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import BlueskyAdapter
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.bluesky import BlueskySandbox
from tests.adapters.bluesky.conftest import TAG, build_adapter, sandbox_settings


@pytest.fixture
async def app(
    engine: Engine, sandbox: BlueskySandbox, clock: FakeClock, settings: Settings
) -> AsyncIterator[Coalesce]:
    adapter: BlueskyAdapter = build_adapter(sandbox_settings(sandbox), clock, engine)
    bot = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter}, clock=clock)
    await bot.start()
    yield bot
    for adapter_ in bot.adapters.values():
        await adapter_.close()


def candidates(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(m.Candidate.id, m.Candidate.state, m.Candidate.reason, m.Post.text)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .order_by(m.Candidate.id)
            )
        )


async def test_hashtag_posts_and_nominations_reach_the_queue_and_are_reposted_once(
    app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    ana = sandbox.add_account("ana.test", display_name="Dra. Ana")
    quiet = sandbox.add_account("ines.test", description="Neurologist. #nobot please")
    bea = sandbox.add_account("bea.test")
    match = sandbox.post(ana, f"Matched into cardiology! #{TAG}")
    sandbox.post(quiet, f"New paper out #{TAG}")
    paper = sandbox.post(ana, "Our team's paper on rural stroke care")
    sandbox.post(bea, "@coalesce.test this deserves a boost", reply_to=paper)
    clock.advance(1)

    report = await app.run_once()

    result = report.ingested[Platform.BLUESKY]
    assert result.skipped.get("opted_out") == 1
    queued = candidates(engine)
    assert [(c.reason, c.text) for c in queued] == [
        ("hashtag", f"Matched into cardiology! #{TAG}"),
        ("nomination", "Our team's paper on rural stroke care"),
    ]
    for c in queued:
        app.queue.approve(c.id, "ana", clock.now())

    outcomes = await app.amplifier.run_due()

    assert [(o.ok, o.detail) for o in outcomes] == [(True, "done"), (True, "done")]
    assert len(sandbox.reposts_of(match)) == 1
    assert len(sandbox.reposts_of(paper)) == 1
    again = await app.run_once()
    assert again.ingested[Platform.BLUESKY].stored == 0
    assert again.outcomes == []
    assert len(sandbox.reposts_of(match)) == 1
    assert [c.state for c in candidates(engine)] == ["amplified", "amplified"]


# -- the command line, as cron runs it -------------------------------------------------------------


def _config(tmp_path: Path, db_url: str, sandbox: BlueskySandbox) -> Path:
    cfg = {
        "community": {"slug": "lim", "name": "LIM", "hashtags": [TAG]},
        "database": {"url": db_url},
        "curators": [{"name": "ana"}],
        "amplify": {"max_per_hour": 3600, "burst": 10},
        "platforms": {
            "bluesky": {
                "handle": "coalesce.test",
                "app_password": "${TEST_BLUESKY_APP_PASSWORD}",
                "service_url": sandbox.base_url,
                "jetstream_url": sandbox.ws_url,
                "jetstream_compress": False,
                "caught_up_idle_seconds": 0.5,
            }
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _bot(config: Path, password: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TEST_BLUESKY_APP_PASSWORD": password, "COALESCE_WORKER_ID": "worker-1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(config: Path, password: str, *args: str) -> tuple[str, str]:
    proc = _bot(config, password, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out, err


def test_run_once_ends_logs_in_once_and_survives_a_kill_mid_repost(
    tmp_path: Path, db_url: str, sandbox: BlueskySandbox
) -> None:
    sandbox.clock = lambda: datetime.now(UTC)  # the bot runs in its own process, on real time
    ana = sandbox.add_account("ana.test")
    config = _config(tmp_path, db_url, sandbox)
    first, err = _run(config, sandbox.password, "run", "--once")
    assert "bluesky: 0 new posts" in first
    assert sandbox.password not in err
    post = sandbox.post(ana, f"Residency match! #{TAG}")
    second, _ = _run(config, sandbox.password, "run", "--once")
    assert "bluesky: 1 new posts, 1 queued for curators" in second
    _run(config, sandbox.password, "queue", "approve", "1", "--as", "ana")
    # The server makes the repost but holds its answer: the bot is killed in that window.
    sandbox.faults.add(r"createRecord$", Fault("delay_after", seconds=30), method="POST")
    doomed = _bot(config, sandbox.password, "run", "--once")
    assert sandbox.wait_for_request("POST", r"createRecord$", timeout=60)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    assert len(sandbox.reposts_of(post)) == 1
    restart, _ = _run(config, sandbox.password, "run", "--once")
    assert "already done" in restart
    assert len(sandbox.reposts_of(post)) == 1
    assert sandbox.logins == 1  # four processes, one login: the session lives in the database
