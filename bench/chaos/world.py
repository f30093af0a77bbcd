"""The chaos run's world: the three sandboxes with the community in them, and the two
``python -m bot run`` workers that serve it from one database."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.chaos.common import CHANNEL, COMMUNITY, CURATORS, TAG
from bench.chaos.common import now as _now
from bench.chaos.faults import inject
from bot.domain import Platform
from sandbox.world import Rooms, SandboxWorld


class World:
    """The three sandboxes with the community in them, on the wall clock (the workers' clock)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Ten times Mastodon's usual limits — 300 requests in 5 minutes, 300 posts and boosts in 3
        # hours, 30 deletions in 30 minutes (a server may set its own; the bot keeps to 90 % of
        # what the headers say): the chaos run is about faults, the soak holds the real limits.
        self.world = SandboxWorld(
            rooms=Rooms(curators=CURATORS, community=COMMUNITY, channel=CHANNEL),
            mastodon={
                "domain": "medicine.example",
                "username": "latinasinmed",
                "clock": _now,
                "rate_limit": 3000,
                "post_limit": 3000,
                "delete_limit": 300,
            },
            bluesky={"handle": "latinasinmed.test", "display_name": "Latinas in Medicine"},
            telegram={"realistic_limits": True},
        )
        self.mastodon, self.bluesky, self.telegram = self.world.sandboxes
        self.members: dict[str, tuple[Platform, Any]] = {}

    def start(self) -> World:
        self.world.start()
        for i in range(24):
            domain = "elsewhere.example" if i % 4 == 0 else None
            account = self.mastodon.add_account(f"m{i}", domain, note="#nobot" if i == 23 else "Physician")
            self.members[f"mastodon:m{i}"] = (Platform.MASTODON, account)
        for i in range(3):
            spam = self.mastodon.add_account(f"spam{i}", "spam.example")
            self.members[f"mastodon:spam{i}"] = (Platform.MASTODON, spam)
        for i in range(12):
            did = self.bluesky.add_account(f"b{i}.test", display_name=f"Member {i}", description="Resident")
            self.members[f"bluesky:b{i}"] = (Platform.BLUESKY, did)
        users = [self.telegram.add_user(5000 + i, f"T{i}", f"t{i}_md") for i in range(10)]
        curators = [self.telegram.add_user(4000 + i, f"Curator {i}") for i in range(2)]
        self.world.open_rooms(curators, users, curators_title="Curators", channel_username="lim_central")
        for user in users:
            self.members[f"telegram:t{user.id - 5000}"] = (Platform.TELEGRAM, user)
        return self

    def stop(self) -> None:
        self.world.stop()

    def faults(self, rate: float) -> None:
        """From now on ``rate`` of every platform call meets a fault (0: no more)."""
        inject(self.world, rate, self.rng)

    def injected(self) -> int:
        return self.world.injected()

    def post(self, key: str, words: str) -> Any:
        platform, who = self.members[key]
        if platform is Platform.MASTODON:
            return self.mastodon.post(who, f"{words} #{TAG}")
        if platform is Platform.BLUESKY:
            return self.bluesky.post(who, f"{words} #{TAG}")
        return self.telegram.user_sends(who, COMMUNITY, f"{words} #{TAG}")

    def config(self, directory: Path, db_url: str) -> tuple[Path, dict[str, str]]:
        platforms = self.world.platforms_config(secrets_prefix="CHAOS")
        # two workers: 300 requests in 5 minutes go quickly
        platforms["mastodon"].update(poll_seconds=3, request_timeout=3)
        platforms["bluesky"].update(caught_up_idle_seconds=0.5, request_timeout=3)
        platforms["telegram"].update(poll_timeout=1, request_timeout=3)
        start = _now() + timedelta(minutes=1)
        minutes = sorted({start.minute, (start + timedelta(minutes=1)).minute})
        cfg = {
            "community": {"slug": "chaos", "name": "Latinas in Medicine", "hashtags": [TAG]},
            "database": {"url": db_url},
            "curators": [{"name": "ana", "telegram": 4000}, {"name": "rosa", "telegram": 4001}],
            "amplify": {
                "max_per_hour": 100_000,
                "burst": 100,
                "max_attempts": 8,
                "backoff_seconds": 0.5,
                "backoff_max_seconds": 4,
            },
            "run": {"poll_seconds": 1, "watch_retry_seconds": 1, "watch_retry_max_seconds": 4},
            "trust": {"cycle_seconds": 1, "recheck_minutes": 0.05},
            "series": {
                "grace_hours": 0.01,  # only the two slots of the run, none from the hours before it
                "schedule": [
                    {
                        "name": "digest",
                        "kind": "digest",
                        "cron": f"{','.join(str(x) for x in minutes)} * * * *",
                        "platforms": ["mastodon"],
                        "languages": ["en"],
                    }
                ],
            },
            "platforms": platforms,
        }
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path, self.world.secrets("CHAOS")


class Workers:
    """The ``python -m bot run`` processes, their logs in files (a full pipe would stall them)."""

    def __init__(self, config: Path, env: dict[str, str], directory: Path) -> None:
        self.config = config
        self.env = {**os.environ, **env}
        self.directory = directory
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = (self.directory / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
            env={**self.env, "COALESCE_WORKER_ID": name},
            stdout=log,
            stderr=log,
        )
        log.close()

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
