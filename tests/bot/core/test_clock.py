"""`sleep_or_stop`: a service's wait ends at its deadline on the clock, or at once when stopped."""

from __future__ import annotations

import asyncio

from bot.clock import FakeClock, sleep_or_stop


async def _settle() -> None:
    """Let the tasks just started run to their first wait (the loop runs ready tasks in order)."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_the_wait_ends_when_the_clock_passes_its_deadline() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    waiting = asyncio.create_task(sleep_or_stop(clock, 60, stop))
    await _settle()
    assert clock.sleepers == 1
    clock.advance(59)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(1)
    await asyncio.wait_for(waiting, 5)
    assert clock.sleepers == 0


async def test_the_wait_ends_at_once_when_stopped_and_leaves_no_sleeper() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    waiting = asyncio.create_task(sleep_or_stop(clock, 3600, stop))
    await _settle()
    assert clock.sleepers == 1
    stop.set()
    await asyncio.wait_for(waiting, 5)
    clock.advance(3600)  # the cancelled sleep is not woken into a closed task
    assert waiting.exception() is None
