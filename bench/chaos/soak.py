"""Soak: one simulated hour of a busy community at the platforms' real limits, on an injected
clock so it takes seconds; counts the 429s the bot received (the ``soak`` group)."""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.registry import settings_class
from bench.chaos.common import CHANNEL, COMMUNITY, CURATORS, TAG
from bench.chaos.common import now as _now
from bench.registry import group
from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.errors import QueueError
from bot.schema import Environment
from bot.store import models as m
from bot.store.store import make_engine


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
