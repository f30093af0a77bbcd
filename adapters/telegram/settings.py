"""What a community sets for Telegram in ``platforms.telegram``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.errors import ConfigError
from bot.ports import Timings
from bot.schema import number, secret_field

CHAT_ID_MAX = 2**53 - 1  # Telegram: ids have at most 52 significant bits


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str = secret_field()
    enabled: bool = True
    # the curators' group: cards, taps, /queue /stats /freeze
    curator_chat_id: int | None = number(None, -CHAT_ID_MAX, CHAT_ID_MAX)
    # member groups whose hashtag messages are watched
    community_chat_ids: tuple[int, ...] = number((), -CHAT_ID_MAX, CHAT_ID_MAX)
    # the community channel: -100… or @name
    channel_id: int | str | None = number(None, -CHAT_ID_MAX, CHAT_ID_MAX)
    spotlight_on_channel: bool = False  # approved posts from other platforms get a card there
    # a card still undecided is re-surfaced once after this
    nudge_after_hours: float = number(12.0, 0, 24 * 366, above=True, unit="hours")
    # then the candidate expires (audit: "expire" by "system")
    expire_after_days: float = number(7.0, 0, 3650, above=True, unit="days")
    # how soon decisions made elsewhere (the CLI) show on the cards
    sync_seconds: float = number(10.0, 0, 86_400, above=True, unit="seconds")
    # Telegram allows 20 a minute in a group or channel
    group_messages_per_minute: int = number(18, 1, 20)
    private_messages_per_second: float = number(1.0, 0, 1, above=True)  # Telegram allows about 1
    messages_per_second: int = number(25, 1, 30)  # all chats together (Telegram allows about 30)
    # for the console; amplifications report back instead
    retry_after_max_retries: int = number(3, 0, 100)
    # long polling: seconds one getUpdates request may wait
    poll_timeout: float = number(30.0, 0, 600, unit="seconds")
    # seconds between two getUpdates, however fast the answer
    poll_min_interval: float = number(0.5, 0, 60, unit="seconds")
    # how long a member's bio (#nobot) is trusted by the watch
    profile_cache_seconds: float = number(300.0, 0, 3600, unit="seconds")
    request_timeout: float = number(30.0, 0, 3600, above=True, unit="seconds")
    base_url: str = "https://api.telegram.org/bot"

    def validate(self, key: str) -> None:
        if isinstance(self.channel_id, str) and not self.channel_id.startswith("@"):
            raise ConfigError(f"{key}.channel_id", "expected the channel's id (-100…) or its @name")
        if self.curator_chat_id is not None and self.curator_chat_id in self.community_chat_ids:
            raise ConfigError(
                f"{key}.community_chat_ids", "the curators' chat cannot also be a community group"
            )
        if self.spotlight_on_channel and self.channel_id is None:
            raise ConfigError(f"{key}.spotlight_on_channel", "needs channel_id")
        if self.expire_after_days * 24 <= self.nudge_after_hours:
            raise ConfigError(f"{key}.expire_after_days", "expected longer than nudge_after_hours")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.base_url", "expected a URL starting with https://")

    @property
    def timings(self) -> Timings:
        return Timings(
            nudge_after=timedelta(hours=self.nudge_after_hours),
            expire_after=timedelta(days=self.expire_after_days),
            sync_every=timedelta(seconds=self.sync_seconds),
        )
