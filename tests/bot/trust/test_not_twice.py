"""A platform whose amplification cannot be asked for twice (a Telegram channel copy): when the
answer is lost after the platform may have acted, the bot does not post again; the candidate is
failed with the reason, for a curator to check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.domain import Platform
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import CHANNEL, COMMUNITY, MARIA, console_settings, make_telegram
from tests.bot.trust.conftest import TAG, states

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


@pytest.fixture
def tg(clock: FakeClock) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(clock=lambda: clock.now().timestamp()) as sandbox:
        maria = sandbox.add_user(MARIA, "María", "maria_md")
        sandbox.add_chat(COMMUNITY, "supergroup", "Latinas in Medicine", members=[maria])
        sandbox.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
        yield sandbox


async def test_a_copy_whose_answer_was_lost_is_not_made_again(
    engine: Engine, tg: TelegramSandbox, clock: FakeClock
) -> None:
    adapter = make_telegram(tg, clock, curator_chat_id=None, request_timeout=1.0)
    app = Coalesce(console_settings(), engine=engine, adapters={Platform.TELEGRAM: adapter}, clock=clock)
    await app.start()
    try:
        tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")
        await app.run_once()
        (cid,) = states(engine)
        app.queue.approve(cid, "ana", clock.now())
        tg.faults.delay_after(3.0, method="copyMessage")  # copied, then the answer comes too late
        first = await app.run_once()
        clock.advance(hours=1)
        again = await app.run_once()
    finally:
        await app.stop()
    assert [o.ok for o in first.outcomes] == [False]
    assert again.outcomes == []
    copies = tg.messages(CHANNEL, by_bot=True)
    assert len(copies) == 1
    (view,) = app.queue.list("failed")
    assert view.last_error is not None
    assert "check before retrying by hand" in view.last_error
