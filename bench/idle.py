"""What ``python -m bot run`` costs while nothing happens: its CPU share and the requests it makes
to each platform, measured against the demo's loopback sandboxes with no new traffic.

The sandboxes run in this process and the bot in a child process pointed at them through an
ordinary ``platforms:`` config (the adapters' default timings, as a community would run it), so
the bot's CPU time is its own and every request it makes is counted where it lands.

Environment:
    BENCH_IDLE_SECONDS         the measured window (default 60)
    BENCH_IDLE_SETTLE_SECONDS  how long to let start-up work finish first (default 20)
    BENCH_IDLE_PROFILE         a file: py-spy (if installed) records the bot's stacks over the
                               window there, collapsed ("raw"), to see what wakes it up
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from bench.registry import group
from bot.cli.demo import TG_CHANNEL, TG_COMMUNITY, TG_CURATORS, DemoWorld, demo_config

PLATFORMS = ("mastodon", "bluesky", "telegram")
BLUESKY_HANDLE = "latinasinmed.test"  # the central account DemoWorld creates
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _counters(world: DemoWorld) -> dict[str, Callable[[], list[str]]]:
    """Per platform, the requests its sandbox has served so far, as "METHOD path" strings."""
    return {
        "mastodon": lambda: [f"{m} {p}" for m, p in list(world.mastodon.requests)],
        "bluesky": lambda: [f"{m} {p}" for m, p in list(world.bluesky.requests)],
        "telegram": lambda: [c.method for c in list(world.telegram.calls)],
    }


def sandbox_config(directory: Path, world: DemoWorld) -> dict[str, Any]:
    """The demo community, but on ordinary platform settings pointed at this process's sandboxes."""
    config = demo_config(directory, world.epoch)
    del config["sandbox"]
    config["platforms"] = {
        "mastodon": {"api_base_url": world.mastodon.base_url, "access_token": "${IDLE_MASTODON_TOKEN}"},
        "bluesky": {
            "handle": BLUESKY_HANDLE,
            "app_password": "${IDLE_BLUESKY_PASSWORD}",
            "service_url": world.bluesky.base_url,
            "jetstream_url": world.bluesky.ws_url,
            "jetstream_compress": False,
        },
        "telegram": {
            "bot_token": "${IDLE_TELEGRAM_TOKEN}",
            "curator_chat_id": TG_CURATORS,
            "community_chat_ids": [TG_COMMUNITY],
            "channel_id": TG_CHANNEL,
            "spotlight_on_channel": True,
            "base_url": world.telegram.bot_base_url,
        },
    }
    return config


def _profile(pid: int, window: float) -> subprocess.Popen[bytes] | None:
    """py-spy recording the bot's busy stacks (not idle waits) over the window, when asked."""
    out = os.environ.get("BENCH_IDLE_PROFILE")
    if not out:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(round(window)), "--threads"]
    command += ["--nonblocking", "--rate", "200", "--format", "raw", "--output", out]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drain_log(stream: IO[str], running: threading.Event, tail: list[str]) -> None:
    """Read the bot's log so it never blocks on a full pipe; note the "running" line."""
    for line in stream:
        tail.append(line)
        del tail[:-40]
        if " running " in line or '"running"' in line:
            running.set()


@dataclass
class RunningBot:
    """``python -m bot run`` in a child process, its log drained by a thread (``running`` is set at
    its "running" line; ``tail`` keeps the last lines for an error)."""

    proc: subprocess.Popen[str]
    running: threading.Event
    tail: list[str]
    config_file: Path
    env: dict[str, str]


@contextmanager
def bot_run(world: DemoWorld, config: dict[str, Any], tmp: Path) -> Iterator[RunningBot]:
    """``run`` on ``config`` against the demo world's sandboxes; stopped with SIGTERM after."""
    config_file = tmp / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "IDLE_MASTODON_TOKEN": world.mastodon.token,
        "IDLE_BLUESKY_PASSWORD": world.bluesky.password,
        "IDLE_TELEGRAM_TOKEN": world.telegram.token,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config_file), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    running, tail = threading.Event(), []
    reader = threading.Thread(target=drain_log, args=(proc.stderr, running, tail), daemon=True)
    reader.start()
    try:
        yield RunningBot(proc, running, tail, config_file, env)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        reader.join(10)


def measure_idle(window: float, settle: float) -> dict[str, float]:
    world = DemoWorld(datetime.now(UTC).replace(microsecond=0)).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            with bot_run(world, sandbox_config(folder, world), folder) as bot:
                return _window(bot.proc, world, bot.running, bot.tail, window, settle)
    finally:
        world.stop()


def _window(
    proc: subprocess.Popen[str],
    world: DemoWorld,
    running: threading.Event,
    tail: list[str],
    window: float,
    settle: float,
) -> dict[str, float]:
    deadline = time.monotonic() + 120
    while not running.wait(0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("bot did not start:\n" + "".join(tail))
    time.sleep(settle)  # start-up work: the first reads, the cards, the members list
    counters = _counters(world)
    before = {p: len(read()) for p, read in counters.items()}
    profiler = _profile(proc.pid, window)
    cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
    time.sleep(window)
    cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
    if profiler is not None:
        profiler.wait(60)
    if proc.poll() is not None:
        raise RuntimeError("bot exited during the window:\n" + "".join(tail))
    wall = t1 - t0
    values = {"idle_cpu_percent": round(100 * (cpu1 - cpu0) / wall, 2)}
    for platform, read in counters.items():
        served = read()[before[platform] :]
        values[f"idle_requests_per_hour_{platform}"] = round(len(served) * 3600 / wall, 1)
        top = ", ".join(f"{n}× {what}" for what, n in Counter(served).most_common(6))
        print(f"  {platform}: {len(served)} requests in {wall:.0f} s: {top or 'none'}", file=sys.stderr)
    print(f"  bot CPU: {cpu1 - cpu0:.2f} s in {wall:.0f} s", file=sys.stderr)
    return values


@group(
    "idle",
    [
        ("idle_cpu_percent", "%", "<= 1 (CPU seconds ÷ wall seconds, no traffic)"),
        *((f"idle_requests_per_hour_{p}", "req/h", "report") for p in PLATFORMS),
    ],
)
def measure() -> dict[str, float]:
    window = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
    settle = float(os.environ.get("BENCH_IDLE_SETTLE_SECONDS", "20"))
    return measure_idle(window, settle)
