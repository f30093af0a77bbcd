"""The pacer keeps python-telegram-bot within Telegram's flood limits on the injected clock:
the sandbox, set to Telegram's real limits and driven by the same clock, never says 429."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from adapters.telegram.pacer import Pacer
from bot.clock import FakeClock
from bot.errors import RateLimited
from sandbox.telegram import TelegramSandbox

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

GROUP, OTHER, PERSON = -1001000000001, -1001000000002, 4242


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(realistic_limits=True, clock=lambda: clock.now().timestamp()) as sb:
        sb.add_user(PERSON, "Pat")
        sb.add_chat(PERSON, "private")
        sb.add_chat(GROUP, "supergroup", "Curators")
        sb.add_chat(OTHER, "supergroup", "Community")
        yield sb


@pytest.fixture
async def paced(sandbox: TelegramSandbox, clock: FakeClock) -> AsyncIterator[tuple[ExtBot[None], Pacer]]:
    pacer = Pacer(clock, group_per_minute=18, max_retries=2)
    bot: ExtBot[None] = ExtBot(
        sandbox.token,
        base_url=sandbox.bot_base_url,
        rate_limiter=pacer,
        # a few connections, reused: a burst of new ones overflows the loopback server's backlog
        request=HTTPXRequest(connection_pool_size=4, pool_timeout=30),
    )
    async with bot:
        yield bot, pacer


async def settle(clock: FakeClock, task: asyncio.Future[Any], waiting: int = 1) -> None:
    """Let ``task`` run until it waits on the clock (``waiting`` sleepers) or finishes. Bounded
    by 30 s, not 2: on a loaded CI machine the 40-message burst takes longer to queue up."""
    for _ in range(3000):
        if task.done() or clock.sleepers >= waiting:
            return
        await asyncio.sleep(0.01)


async def test_a_burst_to_one_group_is_spread_over_minutes_without_a_429(
    paced: tuple[ExtBot[None], Pacer], sandbox: TelegramSandbox, clock: FakeClock
) -> None:
    bot, pacer = paced
    burst = asyncio.gather(*(bot.send_message(GROUP, f"card {i}") for i in range(40)))
    await sandbox.wait_for_async(lambda: sandbox.sent_count(GROUP) == 18)
    await settle(clock, burst)
    assert clock.sleepers == 1  # a full minute's worth went at once; the rest wait for the clock
    assert sandbox.sent_count(GROUP) == 18
    await bot.send_message(OTHER, "another chat is not held up")
    await bot.send_message(PERSON, "nor is a private chat")
    for expected in (36, 40):
        clock.advance(seconds=60)
        await sandbox.wait_for_async(lambda expected=expected: sandbox.sent_count(GROUP) == expected)
        await settle(clock, burst)
    await burst
    assert sandbox.sent_count(GROUP) == 40
    assert sandbox.too_many_requests == 0
    assert pacer.retry_afters == 0
    stamps = [m.date for m in sandbox.messages(GROUP)]
    assert max(sum(1 for t in stamps if start <= t < start + 60) for start in stamps) <= 18


async def test_retry_after_pauses_that_chat_only_then_retries(
    paced: tuple[ExtBot[None], Pacer], sandbox: TelegramSandbox, clock: FakeClock
) -> None:
    bot, pacer = paced
    sandbox.faults.retry_after(30, method="sendMessage")
    held = asyncio.ensure_future(bot.send_message(GROUP, "after the pause"))
    await settle(clock, held)
    assert not held.done()
    assert pacer.retry_afters == 1
    await bot.send_message(OTHER, "unaffected")  # a different chat is not paused
    clock.advance(seconds=29)
    await settle(clock, held)
    assert sandbox.sent_count(GROUP) == 0
    clock.advance(seconds=1)
    sent = await asyncio.wait_for(held, 5)
    assert sent.text == "after the pause"
    assert sandbox.sent_count(GROUP) == 1


async def test_an_impatient_call_gets_rate_limited_at_once(
    paced: tuple[ExtBot[None], Pacer], sandbox: TelegramSandbox, clock: FakeClock
) -> None:
    bot, _ = paced
    sandbox.faults.retry_after(30, method="copyMessage")
    source = sandbox.user_sends(PERSON, OTHER, "hello")
    with pytest.raises(RetryAfter):
        await bot.copy_message(GROUP, OTHER, source.message_id, rate_limit_args=3.0)
    with pytest.raises(RateLimited) as caught:  # the chat is paused now: refused without a request
        await bot.copy_message(GROUP, OTHER, source.message_id, rate_limit_args=3.0)
    assert caught.value.retry_after == pytest.approx(30, abs=1)
    assert sandbox.too_many_requests == 1
    assert sandbox.sent_count(GROUP) == 0  # the second call never reached Telegram
    assert clock.sleepers == 0


async def test_edits_and_answers_never_queue_behind_cards(
    paced: tuple[ExtBot[None], Pacer], sandbox: TelegramSandbox, clock: FakeClock
) -> None:
    bot, _ = paced
    first = await bot.send_message(GROUP, "card 0")
    cards = asyncio.gather(*(bot.send_message(GROUP, f"card {i}") for i in range(1, 30)))
    await settle(clock, cards)
    assert clock.sleepers == 1  # the cards wait for the group's next minute…
    edited = await asyncio.wait_for(bot.edit_message_text("card 0: approved", GROUP, first.message_id), 5)
    assert edited.text == "card 0: approved"  # …the edit did not
    cards.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cards
