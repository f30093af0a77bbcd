"""The three sandboxes with people and automated accounts posting the community hashtag, and a
Coalesce on the real libraries watching them (shared by the tests of ``test_bots_*``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Engine

from adapters.bluesky.adapter import BlueskyAdapter
from adapters.mastodon.adapter import MastodonAdapter
from adapters.telegram.adapter import TelegramAdapter, build_application
from adapters.telegram.settings import TelegramSettings
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from sandbox.world import Rooms
from tests.adapters.bluesky.conftest import build_adapter, sandbox_settings
from tests.conftest import build_world
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"
CURATORS, COMMUNITY, CHANNEL = Rooms().curators, Rooms().community, Rooms().channel
MARIA, NEWSBOT, GAMEBOT, ANA = 3001, 4001, 4002, 1001

# What each post says, and whether a bot or automation is behind it.
HUMAN = {
    "mastodon": "Matched into cardiology",
    "bluesky": "First day of residency",
    "telegram": "Passed my boards",
    "telegram-channel": "Our journal club is open to everyone",
}
AUTOMATED = {
    "mastodon": "Daily digest of residency tips",  # an account marked bot: true
    "bluesky": "Automated reminder: abstracts due Friday",  # the bot self-label
    "telegram": "Scheduled post from the news bot",  # from a bot account
    "telegram-via": "Shared a poll through an inline bot",  # a person, via an inline bot
}
AUTOMATION_NOTE = {
    "mastodon": "posted by a bot or automated account",
    "bluesky": "posted by a bot or automated account",
    "telegram": "posted by a bot or automated account",
    "telegram-via": "automated: sent via @pollbot",
}


@dataclass
class World:
    masto: MastodonSandbox
    bsky: BlueskySandbox
    tg: TelegramSandbox

    def post_everything(self) -> None:
        """A person and an automated account (or post) on each platform, all with the hashtag."""
        maria = self.masto.add_account("maria", display_name="María")
        digest = self.masto.add_account("tipsbot", display_name="Residency tips", bot=True)
        self.masto.post(maria, f"{HUMAN['mastodon']} #{TAG}")
        self.masto.post(digest, f"{AUTOMATED['mastodon']} #{TAG}")

        ana = self.bsky.add_account("ana.test")
        reminder = self.bsky.add_account("reminders.test", labels=["bot"])
        self.bsky.post(ana, f"{HUMAN['bluesky']} #{TAG}")
        self.bsky.post(reminder, f"{AUTOMATED['bluesky']} #{TAG}")

        tg = self.tg
        maria_tg = tg.add_user(MARIA, "María", "maria_md")
        news = tg.add_user(NEWSBOT, "News", "newsbot", is_bot=True)
        poll = tg.add_user(GAMEBOT, "Poll", "pollbot", is_bot=True)
        curator = tg.add_user(ANA, "Ana", "ana_md")
        tg.add_chat(CURATORS, "supergroup", "Curators", members=[curator])
        tg.add_chat(COMMUNITY, "supergroup", "Community", members=[maria_tg, news])
        tg.add_chat(CHANNEL, "channel", "Journal club", username="journalclub")
        tg.user_sends(maria_tg, COMMUNITY, f"{HUMAN['telegram']} #{TAG}")
        # Bots never see each other's messages in a group: a bot's post reaches us when a member
        # nominates it (the reply carries the bot's message, ``from.is_bot`` and all).
        bot_post = tg.user_sends(news, COMMUNITY, f"{AUTOMATED['telegram']} #{TAG}")
        tg.user_sends(maria_tg, COMMUNITY, "/nominate@CoalesceBot", reply_to=bot_post)
        tg.user_sends(maria_tg, COMMUNITY, f"{AUTOMATED['telegram-via']} #{TAG}", via_bot=poll)
        # A channel speaking in the group: "from" is Telegram's placeholder bot, the channel speaks.
        tg.user_sends(maria_tg, COMMUNITY, f"{HUMAN['telegram-channel']} #{TAG}", on_behalf_of=CHANNEL)


@contextlib.asynccontextmanager
async def running(
    settings: Settings, engine: Engine, clock: FakeClock
) -> AsyncIterator[tuple[World, Coalesce]]:
    with build_world(clock) as sandboxes:
        masto, bsky, tg = sandboxes.sandboxes
        world = World(masto, bsky, tg)
        world.post_everything()
        tg_settings = TelegramSettings(
            bot_token=tg.token,
            curator_chat_id=CURATORS,
            community_chat_ids=(COMMUNITY,),
            base_url=tg.bot_base_url,
            poll_timeout=0.5,
            poll_min_interval=0.0,  # the clock is a fake one: nothing would move it on
            request_timeout=5.0,
        )
        mastodon: MastodonAdapter = sandbox_adapter(masto.base_url, masto.token, clock)
        bluesky: BlueskyAdapter = build_adapter(sandbox_settings(bsky), clock, engine)
        telegram = TelegramAdapter(build_application(tg_settings, clock), tg_settings, community="LIM")
        app = Coalesce(
            settings,
            engine=engine,
            adapters={Platform.MASTODON: mastodon, Platform.BLUESKY: bluesky, Platform.TELEGRAM: telegram},
            clock=clock,
        )
        await app.start()
        try:
            yield world, app
        finally:
            await app.stop()
