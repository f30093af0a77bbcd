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

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from bot.cli import main
from bot.clock import FakeClock
from bot.queue import Queue
from tests.attacks.bots_world import AUTOMATED, AUTOMATION_NOTE, CURATORS, HUMAN, running
from tests.conftest import BASE_CONFIG, make_settings

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
