"""Say who is speaking: a post by a bot or automated account, or sent through a bot, is flagged on
the curators' card and in ``queue show`` on every platform (a Telegram bot's message and a
Mastodon ``bot: true`` account used to be queued with no flag). What each platform can tell:

- Mastodon: the account's ``bot`` attribute ("automated account" in its profile settings).
- Bluesky: the ``bot`` self-label on the account's profile (the Bluesky app's "automation
  label", a well-known label value in ``com.atproto.label.defs``); a post made by a script from
  a person's account carries no mark, so it cannot be told apart.
- Telegram: ``from.is_bot``; ``via_bot`` (a person's message sent through an inline bot); an
  automatic forward from a linked channel. A message sent on behalf of a chat (an anonymous
  admin, a channel) comes "from" Telegram's placeholder bot: the chat is credited, no flag.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from atproto import AsyncClient, client_utils
from sqlalchemy import Engine
from telegram import Message

from adapters.bluesky.adapter import Position
from adapters.telegram.normalize import to_post
from bot.cli.main import main
from bot.clock import FakeClock, SystemClock
from bot.curation.flags import bot_flag
from bot.curation.queue import Queue
from tests.adapters.bluesky.conftest import build_adapter, network_settings, vault_engine
from tests.atproto_network.fixture import AtprotoNetwork
from tests.attacks.bots_world import AUTOMATED, AUTOMATION_NOTE, CURATORS, HUMAN, running
from tests.conftest import BASE_CONFIG, make_settings

__all__ = ["vault_engine"]  # a session vault, as a fixture
NETWORK_TAG = "LatinasInMedicine"

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

BOT_FLAG = ("posted by a bot", "automated:")


async def test_bots_are_flagged_on_the_card_and_in_queue_show(
    engine: Engine, db_url: str, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    async with running(settings, engine, clock) as (world, app):
        report = await app.run_once()
        assert not report.errors
        queue = Queue(app.store, settings)
        views = {v.text.split(" #")[0]: v for v in queue.list(limit=100)}
        # Every post reached the queue (skip_bots is off by default), each with the right flag.
        assert set(views) == set(HUMAN.values()) | set(AUTOMATED.values())

        assert app.console is not None
        await app.console.send_new(clock.now())
        cards = {
            msg.text.split("candidate #")[1].split("\n")[0]: msg.text
            for msg in world.tg.messages(CURATORS, by_bot=True)
            if "candidate #" in msg.text
        }
        for key, text in AUTOMATED.items():
            card = cards[str(views[text].id)]
            assert AUTOMATION_NOTE[key] in card, (key, card)
        for key, text in HUMAN.items():
            card = cards[str(views[text].id)]
            assert not any(flag in card for flag in BOT_FLAG), (key, card)

        channel_post = views[HUMAN["telegram-channel"]]
        assert channel_post.author_name == "Journal club"  # the channel is credited, not a placeholder
        assert not channel_post.author_is_bot

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**BASE_CONFIG, "database": {"url": db_url}}))
    for key, text in AUTOMATED.items():
        assert main(["queue", "show", str(views[text].id), "--config", str(config)]) == 0
        shown = capsys.readouterr().out
        assert f"⚑ {AUTOMATION_NOTE[key]}" in shown, (key, shown)
    for key, text in HUMAN.items():
        assert main(["queue", "show", str(views[text].id), "--config", str(config)]) == 0
        shown = capsys.readouterr().out
        assert not any(f"⚑ {flag}" in shown for flag in BOT_FLAG), (key, shown)


def _message(**fields: object) -> Message:
    data: dict[str, object] = {
        "message_id": 5,
        "date": 1764900000,
        "chat": {"id": -1002, "type": "supergroup", "title": "Discussion"},
        "text": "New issue #LatinasInMedicine",
        "entities": [{"type": "hashtag", "offset": 10, "length": 18}],
        **fields,
    }
    message = Message.de_json(data, None)
    assert message is not None
    return message


CHANNEL = {"id": -1003, "type": "channel", "title": "Journal club", "username": "journalclub"}
GROUP = {"id": -1002, "type": "supergroup", "title": "Discussion"}


@pytest.mark.parametrize(
    ("fields", "credited", "flag"),
    [
        # a linked channel's post, forwarded into its discussion group by Telegram itself
        (
            {
                "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
                "sender_chat": CHANNEL,
                "is_automatic_forward": True,
            },
            "Journal club",
            "automated: automatic forward from the linked channel",
        ),
        # an anonymous admin: "from" is Telegram's placeholder bot, the group speaks
        (
            {
                "from": {
                    "id": 1087968824,
                    "is_bot": True,
                    "first_name": "Group",
                    "username": "GroupAnonymousBot",
                },
                "sender_chat": GROUP,
            },
            "Discussion",
            None,
        ),
        # an inline bot without a username, used by a person
        (
            {
                "from": {"id": 3001, "is_bot": False, "first_name": "María"},
                "via_bot": {"id": 99, "is_bot": True, "first_name": "Poll"},
            },
            "María",
            "automated: sent via the bot 99",
        ),
        (
            {"from": {"id": 4001, "is_bot": True, "first_name": "News"}},
            "News",
            "posted by a bot or automated account",
        ),
    ],
)
def test_telegram_messages_as_the_real_library_parses_them(
    fields: dict[str, object], credited: str, flag: str | None
) -> None:
    post = to_post(_message(**fields))
    assert post.author.display_name == credited
    found = bot_flag(post.author.is_bot, post.automated)
    assert (found.text if found else None) == flag


@pytest.mark.atproto_network
async def test_bluesky_bot_self_label_on_the_reference_network(
    atproto_network: AtprotoNetwork, vault_engine: Engine
) -> None:
    """The reference AppView hands the ``bot`` self-label of an account's profile record to the
    adapter with the author of its posts; an account without it is no bot."""
    token = uuid.uuid4().hex[:8]
    clients = {}
    for name, labels in (("robo", [{"val": "bot"}]), ("human", [])):
        handle, password = f"{name}{token}.test", f"{name}-pass-{token}"
        client = AsyncClient(base_url=atproto_network.pds_url)
        created = await client.com.atproto.server.create_account(
            {"handle": handle, "email": f"{name}{token}@coalesce.test", "password": password}
        )
        await client.login(handle, password, fetch_bsky_profile=False)  # the AppView has no profile yet
        profile: dict[str, Any] = {"$type": "app.bsky.actor.profile", "displayName": name}
        if labels:
            profile["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": labels}
        await client.com.atproto.repo.put_record(
            {"repo": created.did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": profile}
        )
        text = client_utils.TextBuilder().text(f"{name} {token} ").tag(f"#{NETWORK_TAG}", NETWORK_TAG)
        await client.send_post(text, profile_identify=created.did)
        clients[name] = client
    await atproto_network.process_all()
    adapter = build_adapter(network_settings(atproto_network), SystemClock(), vault_engine)
    try:
        await adapter.start()
        batches = [
            b async for b in adapter.watch([NETWORK_TAG], {"firehose": str(Position(0, None))}, follow=False)
        ]
    finally:
        await adapter.close()
    authors = {p.author.handle: p.author for b in batches for p in b.posts if token in p.text}
    assert authors[f"robo{token}.test"].is_bot
    assert not authors[f"human{token}.test"].is_bot
    post = next(p for b in batches for p in b.posts if p.author.handle == f"robo{token}.test")
    flag = bot_flag(post.author.is_bot, post.automated)
    assert flag is not None
    assert flag.text == "posted by a bot or automated account"
