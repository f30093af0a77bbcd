"""What a community sets for Telegram in ``platforms.telegram``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.console import Timings
from bot.errors import ConfigError
from bot.schema import secret_field


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str = secret_field()
    enabled: bool = True
    curator_chat_id: int | None = None  # the curators' group: cards, taps, /queue /stats /freeze
    community_chat_ids: tuple[int, ...] = ()  # member groups whose hashtag messages are watched
    channel_id: int | str | None = None  # the community channel: -100… or @name
    spotlight_on_channel: bool = False  # approved posts from other platforms get a card there
    nudge_after_hours: float = 12.0  # a card still undecided is re-surfaced once after this
    expire_after_days: float = 7.0  # then the candidate expires (audit: "expire" by "system")
    sync_seconds: float = 10.0  # how soon decisions made elsewhere (the CLI) show on the cards
    group_messages_per_minute: int = 18  # Telegram allows 20 a minute in a group or channel
    private_messages_per_second: float = 1.0
    messages_per_second: int = 25  # all chats together (Telegram allows about 30)
    retry_after_max_retries: int = 3  # for the console; amplifications report back instead
    poll_timeout: float = 30.0  # long polling: seconds one getUpdates request may wait
    poll_min_interval: float = 0.5  # seconds between two getUpdates, however fast the answer
    profile_cache_seconds: float = 300.0  # how long a member's bio (#nobot) is trusted by the watch
    request_timeout: float = 30.0
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
        if self.nudge_after_hours <= 0:
            raise ConfigError(f"{key}.nudge_after_hours", "expected a positive number of hours")
        if self.expire_after_days * 24 <= self.nudge_after_hours:
            raise ConfigError(f"{key}.expire_after_days", "expected longer than nudge_after_hours")
        if self.sync_seconds <= 0:
            raise ConfigError(f"{key}.sync_seconds", "expected a positive number")
        if not 1 <= self.group_messages_per_minute <= 20:
            raise ConfigError(f"{key}.group_messages_per_minute", "expected 1 to 20 (Telegram's limit)")
        if not 0 < self.private_messages_per_second <= 1:
            raise ConfigError(f"{key}.private_messages_per_second", "expected more than 0, at most 1")
        if not 1 <= self.messages_per_second <= 30:
            raise ConfigError(f"{key}.messages_per_second", "expected 1 to 30 (Telegram's limit)")
        if self.retry_after_max_retries < 0:
            raise ConfigError(f"{key}.retry_after_max_retries", "expected 0 or more")
        if self.poll_timeout < 0 or self.request_timeout <= 0:
            raise ConfigError(f"{key}.poll_timeout", "expected a positive number of seconds")
        if not 0 <= self.poll_min_interval <= 60:
            raise ConfigError(f"{key}.poll_min_interval", "expected 0 to 60 seconds")
        if not 0 <= self.profile_cache_seconds <= 3600:
            raise ConfigError(f"{key}.profile_cache_seconds", "expected 0 to 3600 seconds")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.base_url", "expected a URL starting with https://")

    @property
    def timings(self) -> Timings:
        return Timings(
            nudge_after=timedelta(hours=self.nudge_after_hours),
            expire_after=timedelta(days=self.expire_after_days),
            sync_every=timedelta(seconds=self.sync_seconds),
        )
