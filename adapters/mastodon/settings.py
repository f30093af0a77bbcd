"""What a community sets for Mastodon in ``platforms.mastodon``."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ConfigError
from bot.schema import number, secret_field


@dataclass(frozen=True)
class MastodonSettings:
    api_base_url: str
    access_token: str = secret_field()
    enabled: bool = True
    poll_seconds: float = number(60.0, 0, 86_400, above=True, unit="seconds")
    request_timeout: float = number(30.0, 0, 3600, above=True, unit="seconds")
    page_size: int = number(40, 1, 40)  # Mastodon's page limit
    local_only: bool = False
    # re-read window for posts that federate in late
    lookback_minutes: float = number(15.0, 0, 7 * 24 * 60, unit="minutes")

    def validate(self, key: str) -> None:
        if not self.api_base_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.api_base_url", "expected a URL starting with https://")
