"""A sign-in link delivered in private by the bot: the curator's Telegram private chat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.telegram.adapter import TelegramAdapter
from bot.clock import FakeClock
from bot.domain import Platform
from bot.ops import web_access
from bot.store.store import Store
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import ANA, make_telegram
from tests.adapters.telegram.conftest import tg as tg
from tests.conftest import make_settings

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


@pytest.fixture
async def telegram(tg: TelegramSandbox, clock: FakeClock) -> AsyncIterator[TelegramAdapter]:
    made = make_telegram(tg, clock)
    await made.start()
    yield made
    await made.close()


async def test_the_link_goes_to_the_curators_private_chat_and_works_once(
    telegram: TelegramAdapter,
    tg: TelegramSandbox,
    store: Store,
    clock: FakeClock,
) -> None:
    settings = make_settings(curators=[{"name": "ana", "telegram": ANA}, {"name": "rosa"}])
    tg.user_sends(ANA, ANA, "/start")
    clock.advance(seconds=1)
    adapters = {Platform.TELEGRAM: telegram}
    sent = await web_access.send_sign_in_link(store, settings, "ana", clock.now(), adapters)
    assert sent.ok, sent.message
    assert "http" not in sent.message  # the link is hers alone
    message = tg.last_message(ANA)
    assert message is not None
    url = next(word for word in message.text.split() if word.startswith("http"))
    token = url.rsplit("/", 1)[1]
    assert web_access.redeem(store, settings, token, clock.now()).ok
    assert not web_access.redeem(store, settings, token, clock.now()).ok
    nowhere = await web_access.send_sign_in_link(store, settings, "rosa", clock.now(), adapters)
    assert nowhere.exit_code == 1
    assert "no private way" in nowhere.message
