"""Chaos and soak: do the promises hold — each approved post amplified once, nothing lost, nobody
amplified against their word — when everything goes wrong; and does normal operation at the
platforms' real limits ever meet a 429?

``chaos``: the demo community on the Mastodon, Bluesky and Telegram sandboxes and two real
``python -m bot run`` workers on one PostgreSQL database. Hundreds of posts, curators deciding
as they come, members opting out (by mention, by profile marker, by email to the curators,
through a linked account), authors deleting boosted posts, a server blocked, two digest slots;
10 % of all platform calls fail at random (5xx, 429, timeouts, dropped connections, broken
JSON, answers lost after the work was done) and the workers are SIGKILLed and restarted at
random points. Then the faults stop, the workers drain, and the counts are taken from the
platforms themselves and the database.

``soak``: one simulated hour of a busy community on the Mastodon and Telegram emulators set to
the real limits (300 requests per 5 minutes; 20 messages a minute per group), on an injected
clock so it takes seconds; counts the 429s the bot received.

``COALESCE_CHAOS_SECONDS`` (default 60) sets how long the traffic lasts, ``COALESCE_CHAOS_SEED``
the random seed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, func, select, text

from adapters.registry import settings_class
from bench.registry import group
from bot.config import Settings, load
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.errors import QueueError
from bot.schema import Environment
from bot.store import models as m
from bot.store.store import Store, make_engine
from sandbox._server import Fault

PG_ADMIN = os.environ.get("COALESCE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TAG = "LatinasInMedicine"
CHANNEL, COMMUNITY, CURATORS = -1002000000003, -1002000000002, -1002000000001
FAULT_RATE = 0.10


def _say(text: str) -> None:
    print(f"  chaos: {text}", file=sys.stderr, flush=True)


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def _schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for the run, dropped afterwards."""
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


class _ResetSoon(Mapping[str, str]):
    """Headers of an injected Mastodon 429 that say the budget is back in two seconds (a fault,
    not a spent budget: the real window's headers would make the bot wait out five minutes)."""

    def _now(self) -> dict[str, str]:
        reset = (_now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}

    def __getitem__(self, key: str) -> str:
        return self._now()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return 3


@dataclass
class Made:
    """What the driver did, to compare with what the bot and the platforms say afterwards."""

    posts: dict[str, tuple[Platform, str]] = field(default_factory=dict)  # text -> (platform, member)
    refs: dict[str, Any] = field(default_factory=dict)  # text -> the platform's handle on the post
    # member key -> when the bot was told (None: by mention, the bot's own record says when)
    opted_out: dict[str, datetime | None] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # texts whose post the author deleted
    blocked: set[str] = field(default_factory=set)  # member keys on a blocked server
    restarts: int = 0
    link_code: str | None = None
    decisions: Counter[str] = field(default_factory=Counter)


class World:
    """The three sandboxes with the community in them, on the wall clock (the workers' clock)."""

    def __init__(self, rng: random.Random) -> None:
        from sandbox.world import Rooms, SandboxWorld

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
        common = [
            Fault("status", 500),
            Fault("status", 502),
            Fault("status", 503),
            Fault("drop"),
            Fault("hang", seconds=4.0),
            Fault("malformed"),
            Fault("delay_after", seconds=4.0),
        ]
        throttled = Fault("status", 429, headers=_ResetSoon())  # type: ignore[arg-type]
        self.mastodon.faults.at_random(rate, [*common, throttled], random.Random(self.rng.random()))
        self.bluesky.faults.at_random(rate, common, random.Random(self.rng.random()), r"^/xrpc/")
        telegram_429 = Fault("status", 429, headers={"Retry-After": "1"})
        self.telegram.faults.at_random(
            rate, [*common, telegram_429], random.Random(self.rng.random()), r"(?i)^/bot[^/]*/(?!getupdates)"
        )

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


class Chaos:
    def __init__(self, seconds: float, seed: int) -> None:
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.made = Made()
        self.counter = 0

    def run(self) -> dict[str, float]:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, _schema() as db_url:
            directory = Path(tmp)
            world = World(self.rng).start()
            try:
                config, env = world.config(directory, db_url)
                settings = load(config, Environment({**os.environ, **env}), schemas=settings_class)
                engine = make_engine(db_url)
                workers = Workers(config, env, directory)
                try:
                    return self._run(world, settings, engine, workers, directory)
                finally:
                    workers.stop()
                    engine.dispose()
            finally:
                world.stop()

    def _run(
        self, world: World, settings: Settings, engine: Any, workers: Workers, directory: Path
    ) -> dict[str, float]:
        from bot.store.migrate import upgrade

        upgrade(engine)
        store = Store.open(engine, settings.community.slug, settings.community.name, _now())
        queue = Queue(store, settings)
        self._opportunities(store)
        for name in ("w1", "w2"):
            workers.start(name)
        world.faults(FAULT_RATE)
        _say(f"{self.seconds:.0f} s of traffic with {FAULT_RATE:.0%} of platform calls failing…")
        self._drive(world, store, queue, workers)
        world.faults(0)
        injected = world.injected()
        _say(f"traffic over ({injected} faults, {self.made.restarts} restarts); draining…")
        drained = self._drain(world, store, engine, workers)
        workers.stop()
        counts = self._count(world, store, engine, drained)
        counts["chaos_faults_injected"] = float(injected)
        counts["chaos_restarts"] = float(self.made.restarts)
        logs = "".join(p.read_text(errors="replace") for p in directory.glob("w*.log"))
        counts["chaos_worker_tracebacks"] = float(logs.count("Traceback"))
        keep = os.environ.get("COALESCE_CHAOS_KEEP")
        if keep:  # the workers' logs, for a person to read after a bad run
            Path(keep).mkdir(parents=True, exist_ok=True)
            for log in directory.glob("w*.log"):
                (Path(keep) / log.name).write_bytes(log.read_bytes())
        return counts

    def _opportunities(self, store: Store) -> None:
        from bot.series.opportunities import OpportunityDraft, OpportunityList

        book = OpportunityList(store)
        for i in range(6):
            book.add(
                OpportunityDraft(
                    f"Research fellowship number {i}",
                    f"https://grants.example.org/chaos/{i}",
                    kind="scholarship",
                    organisation="Fundación de Médicas Latinas",
                    deadline=(_now() + timedelta(days=20 + i)).date(),
                ),
                _now(),
            )

    # -- the traffic -------------------------------------------------------------------------

    def _drive(self, world: World, store: Store, queue: Queue, workers: Workers) -> None:
        start = time.monotonic()
        end = start + self.seconds
        target_posts = max(200, int(self.seconds * 6))
        kills = ["w1", "w2"]
        next_kill = start + self.rng.uniform(4, 8)
        events = self._events()
        decided: dict[int, int] = {}
        pause = threading.Event()
        members = [k for k in world.members if not k.startswith("mastodon:spam")]
        while (now := time.monotonic()) < end:
            progress = (now - start) / self.seconds
            while len(self.made.posts) < target_posts * progress:
                key = self.rng.choice(members + ["mastodon:spam0", "mastodon:spam1"] * 1)
                self._post(world, key)
            while events and events[0][0] <= progress:
                _, action = events.pop(0)
                action(world, store, queue)
            self._decide(queue, decided)
            if now >= next_kill:
                name = kills.pop(0) if kills else self.rng.choice(["w1", "w2"])
                workers.kill(name)
                workers.start(name)
                self.made.restarts += 1
                next_kill = now + self.rng.uniform(6, 14)
            pause.wait(0.2)

    def _post(self, world: World, key: str) -> None:
        self.counter += 1
        opening = self.rng.choice(["Matched!", "New paper out", "Grand rounds today", "Hiring"])
        words = f"{opening} [{self.counter}]"
        self.made.refs[words] = world.post(key, words)
        self.made.posts[words] = (world.members[key][0], key)

    def _decide(self, queue: Queue, decided: dict[int, int]) -> None:
        now = _now()
        for view in queue.list("pending", limit=60):
            if now - view.queued_at < timedelta(seconds=0.5) or decided.get(view.id, 0) >= 2:
                continue
            decided[view.id] = decided.get(view.id, 0) + 1
            roll = self.rng.random()
            curator = self.rng.choice(["ana", "rosa"])
            try:
                if roll < 0.6:
                    queue.approve(view.id, curator, now)
                    self.made.decisions["approve"] += 1
                elif roll < 0.8:
                    queue.reject(view.id, curator, now, "not this time")
                    self.made.decisions["reject"] += 1
                elif roll < 0.9:
                    queue.snooze(view.id, curator, now + timedelta(seconds=3), now)
                    self.made.decisions["snooze"] += 1
            except QueueError:
                pass  # a worker withdrew it meanwhile (an opt-out, a deletion): fine

    def _events(self) -> list[tuple[float, Callable[[World, Store, Queue], None]]]:
        return sorted(
            [
                (0.15, self._optout_by_mention),
                (0.25, lambda w, s, q: self._delete_boosted(w, s, 3)),
                (0.30, self._optout_by_marker),
                (0.40, self._block_server),
                (0.45, self._optout_by_email),
                (0.50, self._link_accounts),
                (0.60, lambda w, s, q: self._delete_boosted(w, s, 3)),
                (0.65, self._optout_linked),
                (0.75, self._optout_by_email),
            ],
            key=lambda e: e[0],
        )

    def _boosted_members(self, store: Store, platform: Platform) -> list[str]:
        """Members on ``platform`` with something amplified already (so an opt-out has work to undo)."""
        by_text = {t: key for t, (p, key) in self.made.posts.items() if p is platform}
        with store.engine.connect() as conn:
            texts = conn.execute(
                select(m.Post.text)
                .join(m.Candidate, m.Candidate.post_id == m.Post.id)
                .join(m.Amplification, m.Amplification.candidate_id == m.Candidate.id)
                .where(m.Amplification.state == "done", m.Post.platform == platform.value)
            ).scalars()
            keys = [by_text[k] for t in texts for k in by_text if k in t]
        return [k for k in dict.fromkeys(keys) if k not in self.made.opted_out and "spam" not in k]

    def _optout_by_mention(self, world: World, store: Store, queue: Queue) -> None:
        keys = self._boosted_members(store, Platform.MASTODON) or ["mastodon:m1"]
        key = keys[0]
        world.mastodon.post(world.members[key][1], f"@latinasinmed@{world.mastodon.domain} optout")
        self.made.opted_out[key] = None

    def _optout_by_marker(self, world: World, store: Store, queue: Queue) -> None:
        keys = self._boosted_members(store, Platform.MASTODON)
        key = keys[-1] if keys else "mastodon:m2"
        world.mastodon.set_note(world.members[key][1], "Surgeon. #NoBot, thank you")
        self.made.opted_out[key] = _now()

    def _optout_by_email(self, world: World, store: Store, queue: Queue) -> None:
        """A member writes to the curators, who record it (``python -m bot member optout``)."""
        from bot.trust.consent import ConsentRegistry

        for platform in (Platform.BLUESKY, Platform.TELEGRAM):
            keys = self._boosted_members(store, platform) or [
                k for k, (p, _) in world.members.items() if p is platform and k not in self.made.opted_out
            ]
            key = keys[0]
            member = world.members[key][1]
            account_id = member if platform is Platform.BLUESKY else str(member.id)
            when = _now()
            ConsentRegistry(store, queue.settings).opt_out(platform, account_id, "curator:ana", "ana", when)
            self.made.opted_out[key] = when

    def _block_server(self, world: World, store: Store, queue: Queue) -> None:
        from bot.trust.safety import Blocklist

        Blocklist(store, queue.settings).add("domain", "spam.example", "rosa", _now(), "spam wave")
        self.made.blocked |= {k for k in world.members if k.startswith("mastodon:spam")}

    def _link_accounts(self, world: World, store: Store, queue: Queue) -> None:
        """m4 (elsewhere.example) asks for a code, sends it from m5 (the same person), and
        confirms with 'link yes' from m4 once asked to in private."""
        import re

        first, second = world.members["mastodon:m4"][1], world.members["mastodon:m5"][1]

        def told(pattern: str) -> re.Match[str] | None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                for status in world.mastodon.statuses_by(world.mastodon.central["id"]):
                    found = re.search(pattern, status["content"])
                    if found and any(x["id"] == first["id"] for x in status["mentions"]):
                        return found
                threading.Event().wait(0.2)
            return None

        world.mastodon.post(first, f"@latinasinmed@{world.mastodon.domain} link", visibility="direct")
        found = told(r"link code is ([A-Z0-9]{4}-[A-Z0-9]{4})")
        if found is None:
            return
        code = found.group(1)
        world.mastodon.post(second, f"@latinasinmed@{world.mastodon.domain} link {code}", visibility="direct")
        if told(r"entered your link code") is not None:
            world.mastodon.post(first, f"@latinasinmed@{world.mastodon.domain} link yes", visibility="direct")
            self.made.link_code = code

    def _optout_linked(self, world: World, store: Store, queue: Queue) -> None:
        """m5 opts out: m4, linked to her, is covered too."""
        world.mastodon.post(world.members["mastodon:m5"][1], f"@latinasinmed@{world.mastodon.domain} opt out")
        if self.made.link_code:
            self.made.opted_out["mastodon:m4"] = None
        self.made.opted_out["mastodon:m5"] = None

    def _delete_boosted(self, world: World, store: Store, n: int) -> None:
        with store.engine.connect() as conn:
            texts = list(
                conn.execute(
                    select(m.Post.text, m.Post.platform)
                    .join(m.Candidate, m.Candidate.post_id == m.Post.id)
                    .join(m.Amplification, m.Amplification.candidate_id == m.Candidate.id)
                    .where(m.Amplification.state == "done", m.Post.platform.in_(["mastodon", "bluesky"]))
                    .limit(40)
                )
            )
        self.rng.shuffle(texts)
        for post_text, platform in texts[:n]:
            words = next((t for t in self.made.refs if t in post_text), None)
            if words is None or words in self.made.deleted:
                continue
            ref = self.made.refs[words]
            if platform == "mastodon":
                world.mastodon.delete(ref)
            else:
                world.bluesky.delete(ref)
            self.made.deleted.add(words)

    # -- the end ------------------------------------------------------------------------------

    def _drain(self, world: World, store: Store, engine: Any, workers: Workers) -> bool:
        deadline = time.monotonic() + 150
        pause = threading.Event()
        while time.monotonic() < deadline:
            for name, proc in workers.procs.items():
                if proc.poll() is not None:  # a worker must not die on its own; say so and restart
                    _say(f"worker {name} exited with {proc.returncode}; restarting")
                    workers.start(name)
            if self._settled(engine):
                return True
            pause.wait(0.5)
        _say("the workers did not settle in time")
        return False

    def _settled(self, engine: Any) -> bool:
        with engine.connect() as conn:
            stored = set(conn.execute(select(m.Post.text)).scalars())
            approved = conn.execute(select(func.count()).where(m.Candidate.state == "approved")).scalar_one()
            undos = conn.execute(select(func.count()).where(m.Undo.state == "pending")).scalar_one()
            replies = conn.execute(
                select(func.count()).where(m.MemberRequest.reply_state.in_(["pending", "sending"]))
            ).scalar_one()
            slots = conn.execute(
                select(func.count()).where(m.Publication.state.in_(["done", "failed", "empty", "skipped"]))
            ).scalar_one()
        missing = [t for t in self.made.posts if not any(t in s for s in stored)]
        return not missing and approved == 0 and undos == 0 and replies == 0 and slots >= 2

    def _count(self, world: World, store: Store, engine: Any, drained: bool) -> dict[str, float]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    m.Post.text, m.Post.platform, m.Candidate.id, m.Candidate.state, m.Candidate.last_error
                ).outerjoin(m.Candidate, m.Candidate.post_id == m.Post.id)
            ).all()
            approved_ids = set(
                conn.execute(select(m.Decision.candidate_id).where(m.Decision.action == "approve")).scalars()
            )
            amps = conn.execute(
                select(m.Amplification.candidate_id, m.Amplification.platform, m.Amplification.state)
                .add_columns(m.Amplification.started_at, m.Post.text, m.Account.consent)
                .join(m.Candidate, m.Candidate.id == m.Amplification.candidate_id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .join(m.Account, m.Account.id == m.Post.account_id)
            ).all()
            published = conn.execute(
                select(
                    m.Publication.slot, m.Publication.state, m.Publication.parts_total, m.Publication.error
                )
            ).all()
            # When the bot learnt of each opt-out made by mention: the first such request of the person.
            people = {
                r.id: (r.handle, r.person)
                for r in conn.execute(
                    select(
                        m.Account.id,
                        m.Account.handle,
                        func.coalesce(m.Account.person_id, m.Account.id).label("person"),
                    )
                )
            }
            first: dict[int, datetime] = {}
            for account_id, when in conn.execute(
                select(m.MemberRequest.account_id, m.MemberRequest.received_at).where(
                    m.MemberRequest.kind == "optout"
                )
            ):
                person = people[account_id][1]
                first[person] = min(first.get(person, when), when)
            told = {handle: first[person] for handle, person in people.values() if person in first}
            out_accounts = conn.execute(
                select(m.Account.platform, m.Account.handle).where(m.Account.consent == "out")
            ).all()
        by_words = {w: [r for r in rows if w in r.text] for w in self.made.posts}
        lost_posts = sum(1 for w, found in by_words.items() if not found)
        # On a platform where asking twice would post twice, a lost answer is handed to the
        # curators (failed, "check before retrying by hand"): not lost, not silent, not doubled.
        handed = [
            r for r in rows if r.state == "failed" and "before retrying by hand" in (r.last_error or "")
        ]
        stuck = [
            r for r in rows if r.id in approved_ids and r.state in ("approved", "failed") and r not in handed
        ]
        # Open amplifications of candidates still meant to go out (a withdrawn one may keep its row).
        withdrawn = {r.id for r in rows if r.state == "withdrawn"}
        handed_ids = {r.id for r in handed}
        open_amps = [
            a
            for a in amps
            if a.candidate_id not in withdrawn
            and (a.state in ("intent", "retry") or (a.state == "failed" and a.candidate_id not in handed_ids))
        ]

        # Duplicates, from the platforms themselves: a post amplified more than once, ever.
        twice: list[str] = []
        for words, ref in self.made.refs.items():
            platform = self.made.posts[words][0]
            if platform is Platform.MASTODON:
                twice += [f"mastodon {words!r}"] * max(0, world.mastodon.boosts_made(ref) - 1)
            elif platform is Platform.BLUESKY and words not in self.made.deleted:
                twice += [f"bluesky {words!r}"] * max(0, len(world.bluesky.reposts_of(ref)) - 1)
        copies = Counter(  # by the text first sent: an undo past 48 hours edits the copy
            (msg.edits[0] if msg.edits else msg.text)
            for msg in world.telegram.messages(CHANNEL, by_bot=True, include_deleted=True)
        )
        twice += [f"telegram {t[:40]!r}" for t, n in copies.items() for _ in range(n - 1)]
        duplicates = len(twice)
        for what in twice:
            _say(f"  amplified twice: {what}")
        for p in published:
            if p.state != "done":
                _say(f"  digest slot {p.slot:%H:%M} {p.state}: {p.error}")

        # Consent: nothing of an opted-out member still amplified, nothing started after they said so.
        live = self._live(world)
        out_texts = {w for w, (_, key) in self.made.posts.items() if key in self.made.opted_out}
        # A copy whose answer was lost is live with no id we could delete it by: it went to the
        # curators with the candidate ("check before retrying by hand"), counted apart.
        handed_words = {w for w in self.made.posts for r in handed if w in r.text}
        still_live = [w for w in out_texts if w in live and w not in handed_words]
        untracked = [w for w in out_texts if w in live and w in handed_words]
        for words in untracked:
            _say(f"  opted out, a copy with no id left for the curators: {words!r}")
        late = []
        for a in amps:
            words = next((w for w in self.made.posts if w in a.text), None)
            key = self.made.posts[words][1] if words else None
            said = self.made.opted_out.get(key) if key else None
            if key in self.made.opted_out and said is None:  # by mention: when the bot read it
                said = told.get(self._handle(world, key))
            if said is not None and a.started_at > said + timedelta(seconds=2):
                late.append((key, words, a.started_at - said))  # 2 s: a call already under way
                _say(
                    f"  late: candidate {a.candidate_id} {a.platform} {a.state} at {a.started_at:%H:%M:%S.%f}"
                )
        violations = len(still_live) + len(late)
        for words in still_live:
            _say(f"  opted out but still amplified: {self.made.posts[words][1]} {words!r}")
        for key, words, after in late:
            _say(f"  amplified {after.total_seconds():.1f} s after {key} opted out: {words!r}")

        digest_parts = Counter(p.slot for p in published if p.state == "done")
        counts = {
            "chaos_duplicates": float(duplicates),
            "chaos_lost": float(lost_posts + len(stuck) + len(open_amps) + (0 if drained else 1)),
            "chaos_optout_violations": float(violations),
            "chaos_posts": float(len(self.made.posts)),
            "chaos_amplified": float(sum(1 for a in amps if a.state in ("done", "undone"))),
            "chaos_taken_back": float(sum(1 for a in amps if a.state == "undone")),
            "chaos_digest_slots": float(len(digest_parts)),
            "chaos_handed_to_curators": float(len(handed)),
            "chaos_untracked_after_optout": float(len(untracked)),
        }
        _say(
            f"{len(self.made.posts)} posts, {dict(self.made.decisions)} decisions, "
            f"{len(amps)} amplifications ({Counter(a.state for a in amps)}), "
            f"{len(self.made.opted_out)} opted out ({len(out_accounts)} accounts), "
            f"{len(self.made.deleted)} deleted, digest slots {dict(Counter(p.state for p in published))}"
        )
        if lost_posts or stuck or open_amps:
            _say(
                f"lost: {lost_posts} posts never stored, {len(stuck)} approved not amplified, "
                f"{len(open_amps)} amplifications left open"
            )
            self._explain(engine, [r.id for r in stuck])
        return counts

    def _explain(self, engine: Any, stuck: list[int]) -> None:
        x, c = m.Amplification, m.Candidate
        with engine.connect() as conn:
            for row in conn.execute(
                select(x.candidate_id, x.platform, x.state, x.error).where(
                    x.state.in_(["intent", "retry", "failed"])
                )
            ):
                _say(f"  open amplification: {tuple(row)}")
            for row in conn.execute(
                select(c.id, c.state, c.attempts, c.last_error, c.next_attempt_at).where(c.id.in_(stuck))
            ):
                _say(f"  stuck candidate: {tuple(row)}")

    @staticmethod
    def _handle(world: World, key: str) -> str:
        platform, member = world.members[key]
        if platform is Platform.MASTODON:
            acct = str(member["acct"])
            return acct if "@" in acct else f"{acct}@{world.mastodon.domain}"
        return key

    def _live(self, world: World) -> set[str]:
        """Texts of posts amplified on their platform right now."""
        live = set()
        for words, ref in self.made.refs.items():
            platform = self.made.posts[words][0]
            if (
                platform is Platform.MASTODON
                and world.mastodon.status(ref)
                and world.mastodon.reblogs_of(ref)
            ) or (
                platform is Platform.BLUESKY
                and words not in self.made.deleted
                and world.bluesky.reposts_of(ref)
            ):
                live.add(words)
        for msg in world.telegram.messages(CHANNEL, by_bot=True, include_deleted=False):
            live |= {w for w in self.made.posts if w in msg.text}
        return live


@group(
    "chaos",
    [
        ("chaos_duplicates", "count", "0"),
        ("chaos_lost", "count", "0"),
        ("chaos_optout_violations", "count", "0"),
        ("chaos_faults_injected", "count", "hundreds"),
        ("chaos_restarts", "count", ">= 2"),
        ("chaos_posts", "count", "hundreds"),
        ("chaos_amplified", "count", "-"),
        ("chaos_taken_back", "count", "-"),
        ("chaos_digest_slots", "count", "2"),
        ("chaos_handed_to_curators", "count", "few (answers lost on Telegram)"),
        ("chaos_untracked_after_optout", "count", "0 (or a handed-over copy)"),
        ("chaos_worker_tracebacks", "count", "0"),
    ],
)
def chaos() -> dict[str, float]:
    seconds = float(os.environ.get("COALESCE_CHAOS_SECONDS", "60"))
    seed = int(os.environ.get("COALESCE_CHAOS_SEED", "7"))
    return Chaos(seconds, seed).run()


# -- soak: one simulated hour at the real limits ---------------------------------------------------


class _NoBudget:
    """What an adapter without a request budget does: ask, whatever the server said."""

    fraction = 1.0
    refused = 0

    async def spend(self, costs: Any = None, key: str = "") -> None:
        return None

    def observe(self, *args: Any, **kwargs: Any) -> None:
        return None


class Soak:
    """A busy hour: 10 Mastodon, 5 Bluesky and 3 Telegram posts a minute, curators deciding each
    minute, away for twenty minutes and then approving the whole backlog at once, opt-outs and
    deletions; the console carding everything in the curators' group. Time is a FakeClock the
    emulators share, moved 5 s at a time once the bot has nothing left to do at that instant."""

    def __init__(self, seed: int, *, budgets: bool = True, platforms: tuple[Platform, ...] = tuple(Platform)):
        self.rng = random.Random(seed)
        self.budgets = budgets
        self.platforms = platforms

    def run(self) -> dict[str, float]:
        import asyncio

        return asyncio.run(self._run())

    async def _run(self) -> dict[str, float]:
        import asyncio

        from bot.app import Coalesce
        from bot.clock import FakeClock
        from bot.config import parse
        from sandbox.world import Rooms, SandboxWorld

        start = _now().replace(microsecond=0)
        clock = FakeClock(start)
        world = SandboxWorld(
            clock=clock.now,
            rooms=Rooms(curators=CURATORS, community=COMMUNITY, channel=CHANNEL),
            mastodon={"domain": "medicine.example", "username": "latinasinmed"},
            bluesky={"handle": "latinasinmed.test"},
            telegram={"realistic_limits": True},
        ).start()
        masto, sky, tg = world.sandboxes
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            try:
                users = [tg.add_user(7000 + i, f"T{i}") for i in range(20)]
                curator_users = [tg.add_user(6000 + i, f"Curator {i}") for i in range(2)]
                world.open_rooms(
                    curator_users, users, curators_title="Curators", channel_username="lim_central"
                )
                toots = [
                    masto.add_account(f"m{i}", created_at=start - timedelta(days=400)) for i in range(50)
                ]
                skies = [sky.add_account(f"b{i}.test", display_name=f"B {i}") for i in range(30)]
                settings = parse(
                    self._config(Path(tmp), masto, sky, tg),
                    Environment({"SOAK_MASTODON_TOKEN": masto.token}),
                    schemas=settings_class,
                )
                adapters = self._adapters(settings, clock, masto, sky, tg)
                app = Coalesce(
                    settings,
                    engine=make_engine(f"sqlite:///{tmp}/soak.db"),
                    adapters=adapters,
                    clock=clock,
                    worker="soak",
                )
                await app.start()
                stop = asyncio.Event()
                task = asyncio.create_task(app.run(stop))
                queue = Queue(app.store, settings)
                n = 0
                for second in range(0, 3600, 5):
                    minute, at = divmod(second, 60)
                    for _ in range(self._count(10 / 12)):
                        n += 1
                        masto.post(self.rng.choice(toots), f"Mastodon news {n} #{TAG}")
                    if Platform.BLUESKY in self.platforms:
                        for _ in range(self._count(5 / 12)):
                            n += 1
                            sky.post(self.rng.choice(skies), f"Bluesky news {n} #{TAG}")
                    if Platform.TELEGRAM in self.platforms:
                        for _ in range(self._count(3 / 12)):
                            n += 1
                            tg.user_sends(self.rng.choice(users), COMMUNITY, f"Telegram news {n} #{TAG}")
                    if at == 0 and not 10 <= minute < 30:  # the curators are away for twenty minutes
                        self._decide(queue, clock.now())
                    if at == 30 and minute % 10 == 5:
                        member = self.rng.choice(toots)
                        masto.post(member, f"@latinasinmed@{masto.domain} optout")
                    clock.advance(5)
                    await self._settle(masto, sky, tg)
                stop.set()
                await asyncio.wait_for(task, 30)
                with app.store.engine.connect() as conn:
                    amplified = conn.execute(
                        select(func.count()).where(m.Amplification.state.in_(["done", "undone"]))
                    ).scalar_one()
                budget = getattr(adapters[Platform.MASTODON], "budget", None)
                await app.stop()
                return {
                    "429s": float(masto.too_many_requests + sky.too_many_requests + tg.too_many_requests),
                    "mastodon_requests": float(len(masto.requests)),
                    "amplified": float(amplified),
                    "held": float(getattr(budget, "refused", 0)),
                }
            finally:
                world.stop()

    def _count(self, mean: float) -> int:
        """How many events in one 5 s step for ``mean`` of them per step."""
        whole = int(mean)
        return whole + (1 if self.rng.random() < mean - whole else 0)

    def _decide(self, queue: Queue, now: datetime) -> None:
        for view in queue.list("pending", limit=1000):
            roll = self.rng.random()
            with contextlib.suppress(QueueError):
                if roll < 0.6:
                    queue.approve(view.id, "ana", now)
                elif roll < 0.8:
                    queue.reject(view.id, "rosa", now)

    async def _settle(self, *sandboxes: Any) -> None:
        """Let the bot finish what it does at this instant: until no request has come for a while."""
        import asyncio

        def seen() -> int:
            # Telegram's long poll is always there; what counts is the bot doing something else.
            return sum(
                len(s.requests) if hasattr(s, "requests") else sum(c.method != "getUpdates" for c in s.calls)
                for s in sandboxes
            )

        last, quiet = seen(), 0
        for _ in range(200):
            await asyncio.sleep(0.005)
            now = seen()
            quiet = quiet + 1 if now == last else 0
            last = now
            if quiet >= 4:
                return

    def _config(self, directory: Path, masto: Any, sky: Any, tg: Any) -> dict[str, Any]:
        platforms: dict[str, Any] = {
            "mastodon": {"api_base_url": masto.base_url, "access_token": "${SOAK_MASTODON_TOKEN}"}
        }
        return {
            "community": {"slug": "soak", "name": "Latinas in Medicine", "hashtags": [TAG]},
            "database": {"url": f"sqlite:///{directory}/soak.db"},
            "curators": [{"name": "ana"}, {"name": "rosa"}],
            "amplify": {"max_per_hour": 2000, "burst": 100},
            "run": {"poll_seconds": 30},
            "platforms": platforms,
        }

    def _adapters(self, settings: Settings, clock: Any, masto: Any, sky: Any, tg: Any) -> dict[Platform, Any]:
        from mastodon import Mastodon

        from adapters.bluesky.adapter import BlueskyAdapter, make_client
        from adapters.bluesky.settings import BlueskySettings
        from adapters.mastodon.adapter import MastodonAdapter
        from adapters.mastodon.settings import MastodonSettings
        from adapters.telegram.adapter import TelegramAdapter, build_application
        from adapters.telegram.settings import TelegramSettings

        mcfg = MastodonSettings(api_base_url=masto.base_url, access_token=masto.token, poll_seconds=30)
        client = Mastodon(
            api_base_url=mcfg.api_base_url,
            access_token=mcfg.access_token,
            ratelimit_method="throw",
            request_timeout=10,
            version_check_mode="none",
        )
        mastodon = MastodonAdapter(client, mcfg, clock=clock)
        if not self.budgets:
            mastodon.budget = _NoBudget()  # type: ignore[assignment]
        out: dict[Platform, Any] = {Platform.MASTODON: mastodon}
        if Platform.BLUESKY in self.platforms:
            bcfg = BlueskySettings(
                handle="latinasinmed.test",
                app_password=sky.password,
                service_url=sky.base_url,
                jetstream_url=sky.ws_url,
                jetstream_compress=False,
                watch="search",
                poll_seconds=30,
            )
            out[Platform.BLUESKY] = BlueskyAdapter(
                make_client(bcfg.service_url, timeout=10), bcfg, clock=clock
            )
        if Platform.TELEGRAM in self.platforms:
            tcfg = TelegramSettings(
                bot_token=tg.token,
                base_url=tg.bot_base_url,
                curator_chat_id=CURATORS,
                community_chat_ids=(COMMUNITY,),
                channel_id=CHANNEL,
                poll_timeout=1.0,
            )
            out[Platform.TELEGRAM] = TelegramAdapter(build_application(tcfg, clock), tcfg, community="LIM")
        return out


@group(
    "soak",
    [
        ("soak_429s", "count", "0"),
        ("soak_mastodon_requests", "count", "-"),
        ("soak_amplified", "count", "-"),
        ("soak_budget_holds", "count", "-"),
        ("soak_429s_without_budget", "count", "> 0 (shows the budget matters)"),
    ],
)
def soak() -> dict[str, float]:
    seed = int(os.environ.get("COALESCE_CHAOS_SEED", "7"))
    kept = Soak(seed).run()
    bare = Soak(seed, budgets=False, platforms=(Platform.MASTODON,)).run()
    return {
        "soak_429s": kept["429s"],
        "soak_mastodon_requests": kept["mastodon_requests"],
        "soak_amplified": kept["amplified"],
        "soak_budget_holds": kept["held"],
        "soak_429s_without_budget": bare["429s"],
    }
