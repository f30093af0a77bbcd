"""getUpdates keeps a minimum interval (``poll_min_interval``) even when the server answers at
once — an empty long poll cut short, a proxy, a page after page — so a fast answer never turns
the watch into a busy loop. Measured on the sandbox's request log, on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from adapters.telegram.settings import TelegramSettings
from bot.clock import FakeClock
from bot.domain import Platform
from bot.errors import ConfigError
from bot.schema import Environment, build
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import COMMUNITY, MARIA, TAG, Harness, make_telegram

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
harness_factory = world.harness_factory


def poll_times(tg: TelegramSandbox) -> list[float]:
    return [c.at for c in tg.calls_to("getUpdates")]


async def test_an_instant_empty_answer_is_not_asked_again_before_the_interval(
    tg: TelegramSandbox, clock: FakeClock
) -> None:
    # poll_timeout 0: the server answers every getUpdates at once, as a broken long poll would.
    adapter = make_telegram(tg, clock, curator_chat_id=None, poll_timeout=0, poll_min_interval=5.0)
    watch = adapter.watch([TAG], {}, follow=True)
    task = asyncio.create_task(anext(watch))
    try:
        await tg.wait_for_async(lambda: len(poll_times(tg)) == 1 and clock.sleepers == 1)
        clock.advance(4.9)
        await asyncio.sleep(0)  # the gate had its chance to run: it must still be waiting
        assert len(poll_times(tg)) == 1
        for expected in (2, 3, 4):
            clock.advance(0.1 if expected == 2 else 5.0)
            await tg.wait_for_async(lambda n=expected: len(poll_times(tg)) == n and clock.sleepers == 1)
        times = poll_times(tg)
        assert all(b - a >= 5.0 for a, b in itertools.pairwise(times)), times
        assert not task.done()  # nothing came: still watching
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await watch.aclose()
        await adapter.close()


async def test_a_once_run_spaces_its_pages_and_its_confirmation(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False, poll_min_interval=3.0)
    for i in range(119):  # two pages of updates, then the confirmation of the last one
        tg.user_sends(MARIA, COMMUNITY, f"Chatter {i}")
    tg.user_sends(MARIA, COMMUNITY, f"News #{TAG}")
    run = asyncio.create_task(h.app.run_once())
    for polls in (2, 3):
        await tg.wait_for_async(lambda n=polls - 1: len(poll_times(tg)) == n and clock.sleepers >= 1)
        clock.advance(3.0)
    report = await asyncio.wait_for(run, 30)
    assert len(report.ingested[Platform.TELEGRAM].candidates) == 1
    times = poll_times(tg)
    assert len(times) == 3
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(times)), times
    assert tg.pending_updates == 0


def test_the_interval_is_checked_at_start_up(tg: TelegramSandbox) -> None:
    assert TelegramSettings(bot_token=tg.token).poll_min_interval == 0.5  # a sensible default
    for wrong in (-1.0, 61.0, float("nan")):
        with pytest.raises(ConfigError, match="poll_min_interval"):
            build(
                TelegramSettings,
                {"bot_token": "${TG_TOKEN}", "poll_min_interval": wrong},
                "platforms.telegram",
                Environment({"TG_TOKEN": tg.token}),
            )
