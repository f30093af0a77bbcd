"""Telegram ``#nobot`` (and the other opt-out markers) in a member's bio is read, as on the other
platforms: with getChat, cached briefly (bounded) for the watch so the pipeline decides with it,
and read afresh before every amplification, so a marker added after approval still stops it. A
bio that cannot be read then holds the work (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.telegram.profiles import Profiles
from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import BEA, CHANNEL, COMMUNITY, MARIA, TAG, Harness

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
harness_factory = world.harness_factory


def consent_of(engine: Engine, account_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(m.Account.consent).where(m.Account.platform_account_id == str(account_id))
        ).scalar_one_or_none()


def getchat_for(tg: TelegramSandbox, user: int) -> int:
    return sum(1 for c in tg.calls_to("getChat") if str(c.params.get("chat_id")) == str(user))


@pytest.mark.parametrize("marker", ["#nobot", "#NoBoost", "#nobots"])
async def test_a_marker_in_the_bio_keeps_the_message_out(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine, marker: str
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.set_bio(MARIA, f"Surgeon in Lima. {marker} please")
    tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    tg.user_sends(BEA, COMMUNITY, f"Me too! #{TAG}")
    report = await h.app.run_once()
    result = report.ingested[Platform.TELEGRAM]
    assert len(result.candidates) == 1  # Bea's
    assert result.skipped.get("opted_out") == 1
    assert [v.author_handle for v in h.app.queue.list("pending")] == ["@bea_ms"]
    assert consent_of(engine, MARIA) == "out"  # recorded, so earlier boosts are taken back too


async def test_a_marker_added_after_approval_stops_the_copy(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    h.app.queue.approve(cid, "ana", clock.now())
    tg.set_bio(MARIA, "#nobot")  # the watch's cache still holds the old bio: the amplifier asks again
    before = getchat_for(tg, MARIA)
    report = await h.app.run_once()
    assert report.outcomes == []
    assert h.state(cid) == "withdrawn"
    assert getchat_for(tg, MARIA) == before + 1
    assert tg.messages(CHANNEL, by_bot=True) == []


async def test_a_bio_that_cannot_be_read_holds_the_copy(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    h.app.queue.approve(cid, "ana", clock.now())
    tg.faults.server_error(502, method="getChat")
    await h.app.run_once()
    assert h.state(cid) == "approved"  # waits to be tried again: never copied on a stale profile
    assert tg.messages(CHANNEL, by_bot=True) == []
    clock.advance(hours=1)
    await h.app.run_once()
    assert h.state(cid) == "amplified"
    assert len(tg.messages(CHANNEL, by_bot=True)) == 1


async def test_the_watch_asks_once_per_author_while_the_cache_holds(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    for i in range(3):
        tg.user_sends(MARIA, COMMUNITY, f"News {i} #{TAG}")
    tg.user_sends(BEA, COMMUNITY, f"Mine #{TAG}")
    await h.app.run_once()
    assert (getchat_for(tg, MARIA), getchat_for(tg, BEA)) == (1, 1)
    tg.user_sends(MARIA, COMMUNITY, f"More #{TAG}")
    await h.app.run_once()
    assert getchat_for(tg, MARIA) == 1  # within profile_cache_seconds
    clock.advance(minutes=6)
    tg.set_bio(MARIA, "#nobot")
    tg.user_sends(MARIA, COMMUNITY, f"Even more #{TAG}")
    report = await h.app.run_once()
    assert getchat_for(tg, MARIA) == 2  # read again once the cached bio is old
    assert report.ingested[Platform.TELEGRAM].skipped.get("opted_out") == 1


async def test_the_cache_is_bounded_and_brief(clock: FakeClock) -> None:
    asked: list[int] = []

    async def fetch(chat_id: int | str) -> str:
        asked.append(chat_id)
        return f"bio {chat_id} #{len(asked)}"

    profiles = Profiles(fetch, clock, ttl=60, size=3)
    for chat_id in range(1, 11):
        await profiles.bio(chat_id)
    assert len(profiles) == 3  # bounded: the least recently used went
    assert await profiles.bio(10) == "bio 10 #10"  # kept
    assert await profiles.bio(1) == "bio 1 #11"  # evicted, so asked again
    clock.advance(61)
    assert await profiles.bio(1) == "bio 1 #12"  # stale, so asked again
    assert await profiles.bio(1, fresh=True) == "bio 1 #13"  # the amplifier's last look
    assert len(asked) == 13
