"""One community on the Mastodon and Bluesky sandboxes (the real Mastodon.py and atproto), for
the consent attack tests: a member with an account on each, and strangers. The sandboxes are
the test's sandbox world (tests/conftest.py ``sandbox_world``); Telegram idles there."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import BlueskyAdapter
from adapters.mastodon.normalize import html_to_text
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ports import PlatformAdapter
from bot.store import models as m
from sandbox.bluesky import POST, BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.world import SandboxWorld
from tests.adapters.bluesky.conftest import build_adapter, sandbox_settings
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"
CODE = re.compile(r"\b([A-Z2-9]{4})-([A-Z2-9]{4})\b")


@dataclass
class World:
    app: Coalesce
    masto: MastodonSandbox
    sky: BlueskySandbox
    clock: FakeClock
    engine: Engine

    async def round(self) -> None:
        """What one cycle of ``run`` does, and the clock moves on a little."""
        self.clock.advance(1)
        await self.app.run_once()
        await self.app.trust.run_once()

    # -- Mastodon ----------------------------------------------------------------------------

    def mention(self, who: Any, text: str, **kw: Any) -> dict[str, Any]:
        """``who`` writes ``text`` to the central account on Mastodon (public unless told)."""
        sb = self.masto
        status: dict[str, Any] = sb.post(who, f"@{sb.central['acct']}@{sb.domain} {text}", **kw)
        return status

    def directs_to(self, account: dict[str, Any]) -> list[str]:
        """Texts of the direct statuses the central account sent that mention ``account``, newest first."""
        return [
            html_to_text(str(s["content"]))
            for s in self.masto.statuses_by(self.masto.central["id"])
            if s["visibility"] == "direct" and any(x["id"] == account["id"] for x in s["mentions"])
        ]

    def central_statuses(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.masto.statuses_by(self.masto.central["id"])
        return found

    # -- Bluesky -----------------------------------------------------------------------------

    def skeet(self, did: str, text: str) -> None:
        self.sky.post(did, f"@coalesce.test {text}")

    def answers(self) -> list[str]:
        """Texts of the central account's Bluesky posts (all public), oldest first."""
        return [str(r["text"]) for r in self.sky.records(self.sky.central, POST)]

    # -- the database ------------------------------------------------------------------------

    def consent(self, platform: Platform, account_id: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(
                select(m.Account.consent).where(
                    m.Account.platform == platform.value, m.Account.platform_account_id == account_id
                )
            ).scalar_one()
            return value

    def people(self) -> dict[str, int | None]:
        with self.engine.connect() as conn:
            return {str(h): p for h, p in conn.execute(select(m.Account.handle, m.Account.person_id))}

    def states(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return {int(i): str(s) for i, s in conn.execute(select(m.Candidate.id, m.Candidate.state))}


@pytest.fixture
def masto(sandbox_world: SandboxWorld) -> MastodonSandbox:
    return sandbox_world.mastodon


@pytest.fixture
def sky(sandbox_world: SandboxWorld) -> BlueskySandbox:
    return sandbox_world.bluesky


@contextlib.asynccontextmanager
async def open_world(
    engine: Engine, masto: MastodonSandbox, sky: BlueskySandbox, clock: FakeClock, settings: Settings
) -> AsyncIterator[World]:
    bluesky: BlueskyAdapter = build_adapter(sandbox_settings(sky, watch="search"), clock, engine)
    mastodon = sandbox_adapter(masto.base_url, masto.token, clock)
    adapters: dict[Platform, PlatformAdapter] = {Platform.MASTODON: mastodon, Platform.BLUESKY: bluesky}
    app = Coalesce(settings, engine=engine, adapters=adapters, clock=clock)
    await app.start()
    try:
        yield World(app, masto, sky, clock, engine)
    finally:
        for task in list(app._tasks):
            task.cancel()
        for adapter in app.adapters.values():
            await adapter.close()


@pytest.fixture
async def world(
    engine: Engine, masto: MastodonSandbox, sky: BlueskySandbox, clock: FakeClock, settings: Settings
) -> AsyncIterator[World]:
    async with open_world(engine, masto, sky, clock, settings) as made:
        yield made


async def linked_pair(w: World) -> tuple[dict[str, Any], str]:
    """Maria on Mastodon and on Bluesky, linked the one way there is: code in private on
    Mastodon, entered on Bluesky, confirmed on Mastodon. Returns (Mastodon account, DID)."""
    maria = w.masto.add_account("maria")
    maria_sky = w.sky.add_account("maria.test")
    await w.round()
    w.mention(maria, "link", visibility="direct")
    await w.round()
    found = CODE.search(w.directs_to(maria)[0])
    assert found is not None
    w.skeet(maria_sky, f"link {found[0]}")
    await w.round()
    w.mention(maria, "link yes", visibility="direct")
    await w.round()
    assert w.directs_to(maria)[0].startswith("@maria Linked")
    return maria, maria_sky
