"""The demo runs end to end on embedded defaults and leaves a config a person can carry on with."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.web_process import serving

ROOT = Path(__file__).resolve().parents[3]  # the checkout: tests/bot/cli/ is three down


def _env() -> dict[str, str]:
    # This checkout's bot, whatever the environment's installed copy points at.
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _bot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = _env()
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
    _the_web_console_it_names_lets_ana_in(demo.stdout, tmp_path)


def _form_value(html: str, marker: str) -> str:
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _the_web_console_it_names_lets_ana_in(said: str, cwd: Path) -> None:
    """The demo's last lines: the console's address, the command that starts it, a sign-in link
    and the command for another; the command serves the demo's world and the link signs ana in,
    once."""
    *_, title, start, command, open_it, link, another, again = said.rstrip().splitlines()
    assert title == "The curators' web console, at http://127.0.0.1:8080:"
    assert start.strip() == "Start it (it runs until you press Ctrl-C):"
    assert command.strip() == "python -m bot web --config demo/config.yaml"
    assert open_it.strip() == "Then open this link to sign in as ana; it works once, within 15 minutes:"
    token = re.fullmatch(r"http://127\.0\.0\.1:8080/sign-in/([\w-]{43})", link.strip())
    assert token is not None, link
    assert another.strip() == "Another link, whenever you need one:"
    assert again.strip() == "python -m bot web login-link --as ana --config demo/config.yaml"

    argv = [sys.executable, *command.split()[1:]]
    with serving(argv, str(cwd), _env()) as served:
        assert served.listening, "".join(served.said)
        path = f"/sign-in/{token[1]}"
        with httpx.Client(base_url=served.url, timeout=10) as browser:
            page = browser.get(path)
            assert page.status_code == 200
            form = {
                "csrf_token": _form_value(page.text, '<meta name="csrf-token" content="'),
                "token": _form_value(page.text, 'name="token" value="'),
                "next": "/queue",
            }
            assert browser.post("/sign-in", data=form).status_code == 303
            queue = browser.get("/queue")
            assert queue.status_code == 200
            assert "Signed in as ana" in queue.text
        with httpx.Client(base_url=served.url, timeout=10) as stranger:
            page = stranger.get(path)
            form["csrf_token"] = _form_value(page.text, '<meta name="csrf-token" content="')
            used = stranger.post("/sign-in", data=form)
            assert used.status_code == 403  # a link signs in once
            assert "used already" in used.text
        fresh = _bot(*again.split()[3:], cwd=cwd)
        assert fresh.returncode == 0, fresh.stdout + fresh.stderr
        assert re.search(r"http://127\.0\.0\.1:8080/sign-in/[\w-]{43}", fresh.stdout)
        assert token[1] not in fresh.stdout
    assert served.done is not None
    assert served.done.returncode == 0, served.done.stderr
