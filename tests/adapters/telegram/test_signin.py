"""/signin on Telegram: a curator asks the bot in her private chat and gets a single-use link to
the web console there; the curators' group, another group and a stranger get no link. The real
python-telegram-bot against the Bot API sandbox, the app running as ``run`` runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.ops import web_access
from bot.store import models as m
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.telegram.conftest import ANA, CURATORS, OTHER_GROUP, ROSA, SAM, Harness

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


async def answer(tg: TelegramSandbox, user: int, chat: int, text: str) -> StoredMessage:
    """The bot's reply, in ``chat``, to ``text`` sent there by ``user``."""
    asked = tg.user_sends(user, chat, text)

    def reply() -> StoredMessage | None:
        return next(
            (m for m in tg.messages(chat, by_bot=True) if m.reply_to_message_id == asked.message_id), None
        )

    found: StoredMessage = await tg.wait_for_async(reply)
    return found


def links(text: str) -> list[str]:
    return [word for word in text.split() if "://" in word]


async def test_signin_in_her_private_chat_gives_a_curator_a_link_that_works_once(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    reply = await answer(tg, ANA, ANA, "/signin")
    (url,) = links(reply.text)
    assert url.startswith(f"{h.app.settings.web.address}/sign-in/")
    assert "valid once for 15 minutes" in reply.text
    token = url.rsplit("/", 1)[1]
    opened = web_access.redeem(h.app.store, h.app.settings, token, h.clock.now())
    assert opened.ok
    assert opened.data is not None
    assert opened.data.curator == "ana"
    assert not web_access.redeem(h.app.store, h.app.settings, token, h.clock.now()).ok
    # a second ask is a second link: each works once (a second later: the bot keeps to
    # Telegram's pace of one message a second in a private chat, on the test's clock)
    h.clock.advance(seconds=1)
    again = await answer(tg, ANA, ANA, "/signin@CoalesceBot")
    assert links(again.text) != [url]
    assert len(links(again.text)) == 1
    # nothing of it was said in front of the group
    assert not any(links(m.text) for m in tg.messages(CURATORS, by_bot=True))


async def test_signin_gives_no_link_in_a_group_nor_to_a_stranger(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    in_group = await answer(tg, ROSA, CURATORS, "/signin")
    assert "private chat" in in_group.text
    assert not links(in_group.text)
    stranger = await answer(tg, SAM, SAM, "/signin")
    assert stranger.text == "Only the community's curators can do that."
    assert not links(stranger.text)
    # another group: no handler answers there. Updates are handled in order, so once a later
    # /signin in a private chat is answered, the group's was long dealt with.
    tg.user_sends(ANA, OTHER_GROUP, "/signin")
    await answer(tg, ANA, ANA, "/signin")
    assert tg.messages(OTHER_GROUP, by_bot=True) == []
    assert not any(links(m.text) for m in tg.messages(CURATORS, by_bot=True))
    assert not any(links(m.text) for m in tg.messages(SAM, by_bot=True))
    with h.engine.connect() as conn:
        made = conn.execute(select(m.WebSignInLink.curator, func.count()).group_by(m.WebSignInLink.curator))
        assert dict(made.all()) == {"ana": 1}  # only the link she was sent
