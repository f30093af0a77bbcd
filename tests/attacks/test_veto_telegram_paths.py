"""The same last look on Telegram: a channel copy of a member's message, a spotlight card of her
Mastodon post on the channel, and the bot's private answers to her (her consent answers always
go). After she opts out, is frozen or blocked, or the curators freeze the account, the Bot API
sandbox records no such message.

The real python-telegram-bot and Mastodon.py against the sandboxes; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.trust.safety import Blocklist, Freezer
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import BEA, CHANNEL, COMMUNITY, MARIA, Harness, make_mastodon

# The Telegram test world's fixtures (the sandboxes and the running app), used here by name.
tg = telegram_world.tg
masto = telegram_world.masto
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"
EVERY = ("opted_out", "frozen", "blocked", "global_freeze")


def veto(
    condition: str, app: Coalesce, platform: Platform, account_id: str, ref: str, clock: FakeClock
) -> None:
    now = clock.now()
    if condition == "opted_out":
        app.trust.consent.opt_out(platform, account_id, "cli", "ana", now)
    elif condition == "frozen":
        Freezer(app.store, app.settings, app.trust.consent).freeze(ref, "ana", now)
    elif condition == "blocked":
        Blocklist(app.store, app.settings, app.trust.consent).add(
            "account", ref.partition(":")[2], "ana", now
        )
    elif condition == "global_freeze":
        app.amplifier.freeze("ana", now)
    else:  # pragma: no cover
        raise AssertionError(condition)


def approve_pending(app: Coalesce, clock: FakeClock) -> list[int]:
    queue = Queue(app.store, app.settings)
    ids = [c.id for c in queue.list("pending")]
    for cid in ids:
        queue.approve(cid, "ana", clock.now())
    return ids


def channel_posts(tg: TelegramSandbox) -> list[str]:
    return [msg.text for msg in tg.messages(CHANNEL, by_bot=True)]


@pytest.mark.parametrize("condition", EVERY)
async def test_no_channel_copy(
    condition: str, harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Passed my boards! #{TAG}")
    await h.app.run_once()
    approve_pending(h.app, clock)
    veto(condition, h.app, Platform.TELEGRAM, str(MARIA), f"telegram:{MARIA}", clock)

    await h.app.amplifier.run_due()

    assert tg.calls_to("copyMessage") == []
    assert channel_posts(tg) == []
    if condition == "global_freeze":  # the control: unfrozen, the copy goes out
        h.app.amplifier.freeze("ana", clock.now(), frozen=False)
        await h.app.amplifier.run_due()
        assert len(tg.calls_to("copyMessage")) == 1


@pytest.mark.parametrize("condition", EVERY)
async def test_no_spotlight_card(
    condition: str,
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    masto: MastodonSandbox,
    clock: FakeClock,
) -> None:
    h: Harness = await harness_factory(
        run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)}, spotlight_on_channel=True
    )
    maria = masto.add_account("maria")
    status = masto.post(maria, f"Matched into surgery! #{TAG}")
    await h.app.run_once()
    approve_pending(h.app, clock)
    veto(condition, h.app, Platform.MASTODON, str(maria["id"]), "mastodon:maria@med.example", clock)

    await h.app.amplifier.run_due()

    assert channel_posts(tg) == []
    assert masto.reblogs_of(status) == []
    if condition == "global_freeze":
        h.app.amplifier.freeze("ana", clock.now(), frozen=False)
        await h.app.amplifier.run_due()
        assert len(channel_posts(tg)) == 1
        assert "From the community on Mastodon" in channel_posts(tg)[0]


def private_answers(tg: TelegramSandbox, user: int) -> list[str]:
    return [msg.text for msg in tg.messages(user, by_bot=True)]


@pytest.mark.parametrize("condition", EVERY)
async def test_no_answer_to_a_vetoed_member_but_her_consent_answers(
    condition: str, harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Hello all #{TAG}")
    await h.app.run_once()  # her account is known
    veto(condition, h.app, Platform.TELEGRAM, str(MARIA), f"telegram:{MARIA}", clock)
    tg.user_sends(MARIA, MARIA, "what is this bot?")  # plain private text: the help answer
    tg.user_sends(BEA, BEA, "what is this bot?")  # the control: Bea is answered
    await h.app.run_once()
    if condition == "global_freeze":  # everyone's answers wait for /unfreeze…
        assert private_answers(tg, BEA) == []
        h.app.amplifier.freeze("ana", clock.now(), frozen=False)
        clock.advance(minutes=6)
        await h.app.run_once()
        await tg.wait_for_async(lambda: private_answers(tg, MARIA) or None)  # …then go
    else:
        await tg.wait_for_async(lambda: private_answers(tg, BEA) or None)
        assert private_answers(tg, MARIA) == []
        await h.app.run_once()
        clock.advance(minutes=20)  # a frozen member's answer is looked at again: still held
        await h.app.run_once()
        assert private_answers(tg, MARIA) == []
    if condition == "global_freeze":
        return
    # her consent answers are never held back, whatever her standing
    clock.advance(seconds=2)
    tg.user_sends(MARIA, MARIA, "/optout")
    await h.app.run_once()
    (answer,) = await tg.wait_for_async(lambda: private_answers(tg, MARIA) or None)
    assert "will not share your posts" in answer


def thanks_to(tg: TelegramSandbox, command: Any) -> list[str]:
    return [
        x.text
        for x in tg.messages(COMMUNITY, by_bot=True)
        if x.reply_to_message_id == command.message_id and "Thank you" in x.text
    ]


@pytest.mark.parametrize("condition", EVERY)
async def test_no_thanks_in_the_group_for_a_vetoed_member(
    condition: str, harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    """The adapter's own answers (a thank-you under a nomination) ask the last look too."""
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Hello all #{TAG}")
    await h.app.run_once()  # her account is known
    veto(condition, h.app, Platform.TELEGRAM, str(MARIA), f"telegram:{MARIA}", clock)
    news = tg.user_sends(BEA, COMMUNITY, "Our dean just announced a new scholarship!")
    hers = tg.user_sends(MARIA, COMMUNITY, "/nominate", reply_to=news)
    clock.advance(seconds=5)
    bea = tg.user_sends(BEA, COMMUNITY, "/nominate", reply_to=hers)

    await h.app.run_once()
    await asyncio.gather(*h.app.adapters[Platform.TELEGRAM]._replies)  # the answers on their way

    assert thanks_to(tg, hers) == []
    assert thanks_to(tg, bea) == (
        [] if condition == "global_freeze" else ["Thank you! The curators will have a look."]
    )
