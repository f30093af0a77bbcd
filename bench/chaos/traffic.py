"""The chaos run's traffic: members posting, curators deciding, opt-outs of every kind, a blocked
server, a linked pair, authors deleting what was boosted, and the workers killed at random."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bench.chaos.common import Made
from bench.chaos.common import now as _now
from bench.chaos.world import Workers, World
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.errors import QueueError
from bot.store import models as m
from bot.store.store import Store


class Traffic:
    """What the people of the community do during the run; ``made`` keeps the record."""

    def __init__(self, seconds: float, rng: random.Random, made: Made) -> None:
        self.seconds = seconds
        self.rng = rng
        self.made = made
        self.counter = 0

    def drive(self, world: World, store: Store, queue: Queue, workers: Workers) -> None:
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
