"""The last look on Bluesky: no repost for a member who opted out, is frozen or blocked, or
under /freeze; and none when her profile cannot be read just before (the server refuses or
errs): the candidate waits, saying why (before, a refused getProfile counted as a yes).

The real atproto client against the Bluesky sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine

from adapters.bluesky.adapter import BlueskyAdapter
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.trust.safety import Blocklist, Freezer
from sandbox._server import Fault
from sandbox.bluesky import BlueskySandbox
from tests.adapters.bluesky import conftest as bluesky_world
from tests.adapters.bluesky.conftest import TAG, build_adapter, sandbox_settings

sandbox = bluesky_world.sandbox

EVERY = ("opted_out", "frozen", "blocked", "global_freeze")


@pytest.fixture
async def app(
    engine: Engine, sandbox: BlueskySandbox, clock: FakeClock, settings: Settings
) -> AsyncIterator[Coalesce]:
    adapter: BlueskyAdapter = build_adapter(sandbox_settings(sandbox), clock, engine)
    bot = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter}, clock=clock)
    await bot.start()
    yield bot
    await bot.stop()


async def approved_post(app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock) -> tuple[str, Any, int]:
    ana = sandbox.add_account("ana.test", display_name="Dra. Ana")
    post = sandbox.post(ana, f"Matched into cardiology! #{TAG}")
    clock.advance(1)
    await app.run_once()
    (candidate,) = app.queue.list("pending")
    app.queue.approve(candidate.id, "ana", clock.now())
    return ana, post, candidate.id


@pytest.mark.parametrize("condition", EVERY)
async def test_no_repost(condition: str, app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock) -> None:
    did, post, cid = await approved_post(app, sandbox, clock)
    now = clock.now()
    if condition == "opted_out":
        app.trust.consent.mark_opted_out(Platform.BLUESKY, [did], "profile marker", clock.now())
    elif condition == "frozen":
        Freezer(app.store, app.settings, app.trust.consent).freeze("ana.test", "ana", now)
    elif condition == "blocked":
        Blocklist(app.store, app.settings, app.trust.consent).add("did", did, "ana", now)
    else:
        app.amplifier.freeze("ana", now)

    await app.amplifier.run_due()

    assert sandbox.reposts_of(post) == []
    assert app.queue.show(cid).state != "amplified"


@pytest.mark.parametrize("status", [400, 503])
async def test_an_unreadable_profile_holds_the_repost(
    status: int, app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock
) -> None:
    _, post, cid = await approved_post(app, sandbox, clock)
    body = {"error": "InvalidRequest", "message": "Profile not found"} if status == 400 else None
    sandbox.faults.add(r"app\.bsky\.actor\.getProfile", Fault("status", status=status, body=body), times=1000)

    await app.amplifier.run_due()

    assert sandbox.reposts_of(post) == []
    view = app.queue.show(cid)
    assert view.state == "approved"
    assert view.last_error is not None
    assert view.last_error.startswith("waiting: the author's profile could not be read")
