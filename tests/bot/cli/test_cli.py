"""The command line as curators and admins use it: real processes, real sandbox, real database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli.main import parse_when
from bot.errors import QueueError
from sandbox.mastodon import MastodonSandbox

TOKEN = "tok-Zq81x-very-secret-value"


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[tuple[Path, MastodonSandbox]]:
    with MastodonSandbox(domain="med.example", token=TOKEN) as sandbox:
        maria = sandbox.add_account("maria", display_name="Dra. María")
        for text in ("Matched! #LatinasInMedicine", "New paper out #LatinasInMedicine"):
            sandbox.post(maria, text)
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
                    "database": {"url": db_url},
                    "curators": [{"name": "ana"}, {"name": "rosa"}],
                    "platforms": {
                        "mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTO_TOKEN}"}
                    },
                }
            )
        )
        yield config, sandbox


def bot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MASTO_TOKEN": TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_curator_works_the_queue_from_the_command_line(world: tuple[Path, MastodonSandbox]) -> None:
    config, _sandbox = world
    ran = bot(config, "run", "--once", "--log-format", "json")
    assert ran.returncode == 0, ran.stderr
    assert "2 new posts, 2 queued for curators" in ran.stdout
    events = [json.loads(line) for line in ran.stderr.splitlines()]
    ingested = [e for e in events if e["event"] == "ingested batch"]
    assert ingested
    assert ingested[0]["community"] == "lim"
    assert ingested[0]["platform"] == "mastodon"
    assert TOKEN not in ran.stdout + ran.stderr

    listed = json.loads(bot(config, "queue", "list", "--json").stdout)["data"]["items"]
    assert [c["state"] for c in listed] == ["pending", "pending"]
    first, second = listed[0]["id"], listed[1]["id"]
    assert "approved" in bot(config, "queue", "approve", str(first), "--as", "ana").stdout
    refused = bot(config, "queue", "approve", str(first), "--as", "rosa")
    assert refused.returncode == 1
    assert "already approved (approve by ana)" in refused.stderr
    assert "rejected" in bot(config, "queue", "reject", str(second), "--as", "rosa", "--reason", "dup").stdout
    unknown = bot(config, "queue", "approve", str(second), "--as", "mallory")
    assert unknown.returncode == 2
    assert "no curator named 'mallory'" in unknown.stderr

    boosted = bot(config, "run", "--once", "--json")
    assert boosted.returncode == 0, boosted.stderr
    cycle = json.loads(boosted.stdout)
    assert cycle["outcome"] == "done"
    assert f"#{first} mastodon boost: done" in cycle["message"]
    assert cycle["data"]["ingested"]["mastodon"] == {"stored": 0, "queued": 0}
    [amplified] = cycle["data"]["amplifications"]
    assert (amplified["candidate"], amplified["action"], amplified["ok"]) == (first, "boost", True)
    shown = bot(config, "queue", "show", str(first))
    assert "amplified" in shown.stdout
    assert "ana approve" in shown.stdout
    assert "mastodon boost: done" in shown.stdout
    assert "Nothing waits" in bot(config, "queue", "list").stdout
    history = bot(config, "queue", "list", "--all").stdout
    assert "amplified" in history
    assert "rejected" in history
    assert "open: nothing" in history


def test_run_stops_cleanly_on_sigterm(world: tuple[Path, MastodonSandbox]) -> None:
    config, _ = world
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        env={**os.environ, "MASTO_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "ingested batch" in line:  # it is up and watching
            break
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(seen) + err
    assert " stopping " in err
    assert TOKEN not in "".join(seen) + err


def test_a_broken_config_stops_every_command_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("community: {slug: lim, name: LIM, hashtags: [X]}\nplatforms: {mastodon: {}}\n")
    for args in (("run", "--once"), ("queue", "list"), ("db", "upgrade"), ("check-config",)):
        done = bot(config, *args)
        assert done.returncode == 2
        assert done.stderr.strip() == "config error: platforms.mastodon.api_base_url: is required (text)"


def test_snooze_times_read_the_way_people_write_them() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert parse_when("2h", now) == now + timedelta(hours=2)
    assert parse_when("3d", now) == now + timedelta(days=3)
    assert parse_when("tomorrow", now) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert parse_when("2026-03-05T10:30", now) == datetime(2026, 3, 5, 10, 30, tzinfo=UTC)
    with pytest.raises(QueueError, match="cannot read 'someday'"):
        parse_when("someday", now)
