"""The web console inside ``python -m bot run``: how soon a decision made there shows on the
Telegram card, and the resident memory of the one process that does everything.

As the idle bench does, the demo's sandboxes run in this process and the bot in a child process
pointed at them by an ordinary config, here with ``web.enabled``. Extra members' posts give the
queue its candidates; once every card is in the curators' Telegram group (Telegram's pace of 20
messages a minute in a group holds the last ones back a while), a curator signs in with a link
the way the bot makes one, and approves candidates one at a time through the page's own endpoint
(her session cookie and form token, as the page's script sends it). Each is timed from the
request until the sandbox holds the card edited to say "Approved". Then every page is opened
once, and the bot's resident memory is read (``bench.rss``).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.idle import bot_run, sandbox_config
from bench.registry import group
from bench.rss import rss_mb
from bot.cli.demo import TG_CURATORS, DemoWorld
from bot.store import models as m
from bot.store.store import make_engine

DECISIONS = 20
PAGES = (
    "/queue",
    "/calendar",
    "/compose",
    "/opportunities",
    "/interviews",
    "/members",
    "/report",
    "/audit",
    "/health",
)
_CARD = re.compile(r"candidate #(\d+)\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(world: DemoWorld) -> None:
    """Members' posts beyond the demo's, so the queue holds enough to decide."""
    now = datetime.now(UTC)
    for i in range(DECISIONS):
        member = world.mastodon.add_account(
            f"bench_member{i}", display_name=f"Bench Member {i}", created_at=now - timedelta(days=400)
        )
        world.mastodon.post(
            member,
            f"Bench post {i}: matched into my first-choice residency #LatinasInMedicine",
            created_at=now - timedelta(minutes=30 - i),
        )


def _cards(world: DemoWorld, showing: str = "") -> dict[int, str]:
    """Candidate → the text of its live card in the curators' group."""
    found: dict[int, str] = {}
    for message in world.telegram.messages(TG_CURATORS, by_bot=True, include_deleted=False):
        match = _CARD.search(message.text)
        if match and showing in message.text:
            found[int(match.group(1))] = message.text
    return found


def _sign_in(client: httpx.Client, link: str) -> str:
    """Open the link, press Sign in as the page does; the session's form token."""
    page = client.get(link)
    visitor = _between(page.text, '<meta name="csrf-token" content="', '"')
    token = _between(page.text, 'name="token" value="', '"')
    answer = client.post("/sign-in", data={"csrf_token": visitor, "token": token, "next": "/"})
    assert answer.status_code == 303, answer.status_code
    return _between(client.get("/health").text, '<meta name="csrf-token" content="', '"')


def _between(text: str, start: str, end: str) -> str:
    at = text.index(start) + len(start)
    return text[at : text.index(end, at)]


def _link(config_file: Path, env: dict[str, str]) -> str:
    """A sign-in link for ana, printed by the command a curator's admin runs on the server."""
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config_file), "web", "login-link", "--as", "ana"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return next(word for word in out.split() if "/sign-in/" in word)


@group(
    "web_live",
    [
        ("web_decide_to_card_p95_s", "s", "<= 1"),
        ("web_rss_mb", "MB", "<= 150"),
    ],
)
def measure() -> dict[str, float]:
    world = DemoWorld(datetime.now(UTC).replace(microsecond=0)).start()
    try:
        _seed(world)
        with tempfile.TemporaryDirectory() as tmp:
            port = _free_port()
            config = sandbox_config(Path(tmp), world)
            config["web"] = {"enabled": True, "port": port, "base_url": f"http://127.0.0.1:{port}"}
            with bot_run(world, config, Path(tmp)) as bot:
                if not bot.running.wait(120):
                    raise RuntimeError("bot did not start:\n" + "".join(bot.tail))
                return _decide(world, bot.proc, config, bot.config_file, bot.env, port)
    finally:
        world.stop()


def _decide(
    world: DemoWorld,
    proc: subprocess.Popen[str],
    config: dict[str, Any],
    config_file: Path,
    env: dict[str, str],
    port: int,
) -> dict[str, float]:
    engine = make_engine(config["database"]["url"])
    started = rss_mb(proc.pid)

    def every_card_sent() -> list[int] | None:
        with engine.connect() as conn:
            pending = set(
                conn.execute(select(m.Candidate.id).where(m.Candidate.state == "pending")).scalars()
            )
        cards = _cards(world)
        waiting = sorted(c for c in pending if c in cards)
        return waiting if len(waiting) >= DECISIONS and pending <= set(cards) else None

    t0 = time.perf_counter()
    ready = world.telegram.wait_for(every_card_sent, timeout=300)
    print(
        f"  {len(ready)} cards in the curators' group after {time.perf_counter() - t0:.0f} s", file=sys.stderr
    )
    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        csrf = _sign_in(client, _link(config_file, env))
        headers = {"x-csrf-token": csrf, "accept": "application/json"}
        for cid in ready[:DECISIONS]:
            t = time.perf_counter()
            answer = client.post(f"/queue/{cid}/approve", headers=headers)
            if answer.status_code != 200 or not answer.json()["ok"]:
                raise RuntimeError(f"approving #{cid} failed: {answer.text[:300]}")
            world.telegram.wait_for(lambda cid=cid: cid in _cards(world, "✅ Approved"), timeout=30)
            times.append(time.perf_counter() - t)
        decided = rss_mb(proc.pid)
        for path in PAGES:  # every page served once before the memory is read, as a browser
            page = client.get(path)  # loads it: with its images (the report's chart)
            assert page.status_code == 200, path
            for image in re.findall(r'<img[^>]* src="(/[^"]+)"', page.text):
                assert client.get(image.replace("&amp;", "&")).status_code == 200, image
    engine.dispose()
    rss = rss_mb(proc.pid)
    p95 = statistics.quantiles(times, n=20)[-1]
    median = statistics.median(times)
    print(
        f"  decision → Telegram card: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms over {len(times)}; bot RSS {started:.1f} MB at start, "
        f"{decided:.1f} MB after the decisions, {rss:.1f} MB after every page; "
        f"load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    return {
        "web_decide_to_card_p95_s": round(p95, 3),
        "web_decide_to_card_median_s": round(median, 3),
        "web_rss_mb": round(rss, 1),
    }
