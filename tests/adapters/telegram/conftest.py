"""The Telegram side of the world for tests: the Bot API sandbox with a curators' group, a
community group, a channel and people, the real python-telegram-bot pointed at it, and the app
running its services (watch, amplifier, console) on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.mastodon.adapter import MastodonAdapter
from adapters.telegram.adapter import TelegramAdapter, build_application
from adapters.telegram.settings import TelegramSettings
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ports import PlatformAdapter
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.test_mastodon import make_adapter as make_mastodon_adapter
from tests.conftest import make_settings

# PTB 22 warns, even while building RetryAfter, that its int retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

CURATORS = -1001000000001
COMMUNITY = -1001000000002
CHANNEL = -1001000000003
OTHER_GROUP = -1001000000009
ANA, ROSA, LUCIA = 1001, 1002, 1003  # curators
SAM = 2001  # a stranger who found the curators' group
MARIA, BEA = 3001, 3002  # members
TAG = "LatinasInMedicine"

CURATOR_LIST = [
    {"name": "ana", "mastodon": "ana@med.example", "telegram": ANA},
    {"name": "rosa", "telegram": ROSA},
    {"name": "lucia", "telegram": LUCIA},
]


def console_settings(**overrides: Any) -> Settings:
    return make_settings(curators=CURATOR_LIST, **overrides)


def telegram_settings(sandbox: TelegramSandbox, **overrides: Any) -> TelegramSettings:
    values: dict[str, Any] = {
        "bot_token": sandbox.token,
        "curator_chat_id": CURATORS,
        "community_chat_ids": (COMMUNITY,),
        "channel_id": CHANNEL,
        "base_url": sandbox.bot_base_url,
        "poll_timeout": 2.0,
        "request_timeout": 5.0,
        # The injected clock moves only when a test moves it: the interval has tests of its own.
        "poll_min_interval": 0.0,
    }
    values.update(overrides)
    return TelegramSettings(**values)


def make_telegram(sandbox: TelegramSandbox, clock: FakeClock, **overrides: Any) -> TelegramAdapter:
    cfg = telegram_settings(sandbox, **overrides)
    return TelegramAdapter(build_application(cfg, clock), cfg, community="Latinas in Medicine")


def make_mastodon(sandbox: MastodonSandbox, clock: FakeClock) -> MastodonAdapter:
    return make_mastodon_adapter(sandbox, clock)


@pytest.fixture
def tg(clock: FakeClock) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(clock=lambda: clock.now().timestamp()) as sandbox:
        people = {
            ANA: ("Ana", "ana_md"),
            ROSA: ("Rosa", "rosa_rn"),
            LUCIA: ("Lucía", None),
            SAM: ("Sam", "sam_stranger"),
            MARIA: ("María", "maria_md"),
            BEA: ("Bea", "bea_ms"),
        }
        users = {uid: sandbox.add_user(uid, first, username) for uid, (first, username) in people.items()}
        sandbox.add_chat(CURATORS, "supergroup", "Curators", members=[users[ANA], users[ROSA], users[LUCIA]])
        sandbox.add_chat(COMMUNITY, "supergroup", "Latinas in Medicine", members=[users[MARIA], users[BEA]])
        sandbox.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
        sandbox.add_chat(OTHER_GROUP, "supergroup", "Somewhere else")
        yield sandbox


@pytest.fixture
def masto(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sandbox:
        yield sandbox


@dataclass
class Harness:
    """One running Coalesce (watch, amplifier and console as in ``run``) and the sandboxes."""

    app: Coalesce
    tg: TelegramSandbox
    clock: FakeClock
    engine: Engine
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def cards(self) -> list[StoredMessage]:
        return [msg for msg in self.tg.messages(CURATORS, by_bot=True) if "candidate #" in msg.text]

    def card_of(self, candidate_id: int) -> StoredMessage | None:
        live = [
            msg
            for msg in self.tg.messages(CURATORS, by_bot=True, include_deleted=False)
            if f"candidate #{candidate_id}\n" in msg.text
        ]
        return live[-1] if live else None

    async def card(self, candidate_id: int) -> StoredMessage:
        found: StoredMessage = await self.tg.wait_for_async(lambda: self.card_of(candidate_id))
        return found

    async def card_showing(self, candidate_id: int, text: str) -> StoredMessage:
        def shown() -> StoredMessage | None:
            card = self.card_of(candidate_id)
            return card if card is not None and text in card.text else None

        found: StoredMessage = await self.tg.wait_for_async(shown)
        return found

    def decisions(self, candidate_id: int) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [
                (r.curator, r.action)
                for r in conn.execute(
                    select(m.Decision.curator, m.Decision.action)
                    .where(m.Decision.candidate_id == candidate_id)
                    .order_by(m.Decision.id)
                )
            ]

    def state(self, candidate_id: int) -> str:
        with self.engine.connect() as conn:
            return str(
                conn.execute(select(m.Candidate.state).where(m.Candidate.id == candidate_id)).scalar_one()
            )

    async def advance(self, **delta: float) -> None:
        """Move the clock once the console waits for it, so its next pass sees the new time."""
        assert self.app.console is not None
        await asyncio.wait_for(self.app.console.idle.wait(), 5)
        self.clock.advance(**delta)

    async def run(self) -> None:
        self.task = asyncio.create_task(self.app.run(self.stop))
        await self.tg.wait_for_async(lambda: self.tg.polls_waiting >= 1)  # the update stream is read

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.app.stop()


@pytest.fixture
async def harness_factory(
    engine: Engine, tg: TelegramSandbox, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Harness] = []

    async def build(
        settings: Settings | None = None,
        *,
        extra: dict[Platform, PlatformAdapter] | None = None,
        run: bool = True,
        **telegram: Any,
    ) -> Harness:
        adapters: dict[Platform, PlatformAdapter] = {Platform.TELEGRAM: make_telegram(tg, clock, **telegram)}
        adapters.update(extra or {})
        app = Coalesce(
            settings or console_settings(),
            engine=engine,
            adapters=adapters,
            clock=clock,
            worker=f"test-{len(made)}",
        )
        await app.start()
        harness = Harness(app, tg, clock, engine)
        made.append(harness)
        if run:
            await harness.run()
        return harness

    yield build
    for harness in made:
        if not harness.stop.is_set():
            await harness.shutdown()
