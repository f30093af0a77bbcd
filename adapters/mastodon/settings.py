"""What a community sets for Mastodon in ``platforms.mastodon``."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ConfigError
from bot.schema import secret_field


@dataclass(frozen=True)
class MastodonSettings:
    api_base_url: str
    access_token: str = secret_field()
    enabled: bool = True
    poll_seconds: float = 60.0
    request_timeout: float = 30.0
    page_size: int = 40
    local_only: bool = False
    lookback_minutes: float = 15.0  # re-read window for posts that federate in late

    def validate(self, key: str) -> None:
        if not self.api_base_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.api_base_url", "expected a URL starting with https://")
        if not 1 <= self.page_size <= 40:
            raise ConfigError(f"{key}.page_size", "expected 1 to 40 (Mastodon's page limit)")
        if self.poll_seconds <= 0:
            raise ConfigError(f"{key}.poll_seconds", "expected a positive number")
