"""Resident memory of ``python -m bot run`` once it has started with the Mastodon adapter."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.registry import group
from sandbox.mastodon import MastodonSandbox

RUNS = 3


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _one(config: Path, token: str) -> float:
    env = {**os.environ, "BENCH_MASTODON_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the start-up to finish: the "running" log line
            if " running " in line:
                break
        else:
            raise RuntimeError(f"bot exited early with {proc.wait()}")
        return rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@group("rss", [("run_rss_mb", "MB", "<= 120")])
def measure() -> dict[str, float]:
    with MastodonSandbox(domain="med.example") as sandbox, tempfile.TemporaryDirectory() as tmp:
        maria = sandbox.add_account("maria")
        for i in range(50):
            sandbox.post(maria, f"Post {i} #LatinasInMedicine")
        config = Path(tmp) / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "community": {"slug": "bench", "name": "Bench", "hashtags": ["LatinasInMedicine"]},
                    "database": {"url": f"sqlite:///{Path(tmp) / 'bench.db'}"},
                    "platforms": {
                        "mastodon": {
                            "api_base_url": sandbox.base_url,
                            "access_token": "${BENCH_MASTODON_TOKEN}",
                        }
                    },
                }
            )
        )
        values = [_one(config, sandbox.token) for _ in range(RUNS)]
    return {"run_rss_mb": round(statistics.median(values), 1)}
