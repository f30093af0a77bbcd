"""The demo runs end to end on embedded defaults and leaves a config a person can carry on with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # This checkout's bot, whatever the environment's installed copy points at.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env
    )


def test_demo_runs_and_the_person_can_carry_on(tmp_path: Path) -> None:
    demo = _bot("demo", "--dir", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "The server now shows 2 boosts" in demo.stdout
    assert "nothing is boosted twice" in demo.stdout
    assert "skipped 1: from a member with #nobot in her profile" in demo.stdout
    assert "taps ✅ Approve on #1" in demo.stdout  # the curator decides on the Telegram cards
    assert "The Telegram channel shows 4 posts" in demo.stdout
    # a conference day: the badge, the champion's decision, the highlights thread
    assert "waits in the queue with the badge “LMSA Annual Conference (#lmsa27)”" in demo.stdout
    assert "the champion, approves it from her card: #16 approved" in demo.stdout
    assert "the day's highlights thread on bluesky, mastodon, telegram" in demo.stdout
    # a chat: announced, its questions on time, the answers, the recap as a thread
    assert 'Chat #1 "Finding a mentor in residency" (#limchat)' in demo.stdout
    assert "question Q1 on bluesky, mastodon, telegram" in demo.stdout
    assert "4 answers from 4 members (4 on Mastodon)" in demo.stdout
    config = tmp_path / "demo" / "config.yaml"
    listed = _bot("queue", "list", "--state", "pending", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0
    # the first waiting Mastodon post (the demo's queue holds other platforms' posts too)
    rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.strip()[:1].isdigit()]
    first_pending = next(int(r[0]) for r in rows if r[2] == "mastodon")
    approved = _bot(
        "queue", "approve", str(first_pending), "--as", "rosa", "--config", str(config), cwd=tmp_path
    )
    assert "approved" in approved.stdout
    ran = _bot("run", "--once", "--config", str(config), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert f"#{first_pending} mastodon boost: done" in ran.stdout
    assert "0 new posts" in ran.stdout  # the re-seeded sandbox holds the same posts
