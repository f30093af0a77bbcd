"""What a community sets for Bluesky in ``platforms.bluesky``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import ConfigError
from bot.schema import secret_field

Watch = Literal["jetstream", "firehose", "search"]


@dataclass(frozen=True)
class BlueskySettings:
    handle: str  # the central account, e.g. latinasinmed.bsky.social
    app_password: str = secret_field()  # Settings → Privacy and security → App passwords
    enabled: bool = True
    watch: Watch = "jetstream"
    # The central account's PDS (or an entryway such as https://bsky.social); XRPC calls go here.
    service_url: str = "https://bsky.social"
    jetstream_url: str = "wss://jetstream.us-east.bsky.network/xrpc"
    firehose_url: str = "wss://bsky.network/xrpc"  # a relay, or a PDS's own /xrpc
    web_url: str = "https://bsky.app"  # where post links for curators point
    jetstream_compress: bool = True
    poll_seconds: float = 60.0  # search mode: how often to ask again
    search_lookback_minutes: float = 10.0  # search mode: re-read this far behind the cursor
    search_page_size: int = 100
    caught_up_idle_seconds: float = 2.0  # run --once: a stream that is quiet this long is caught up
    max_batch_events: int = 2000  # stream events handed to the store in one transaction
    write_points_per_hour: int = 1500  # Bluesky allows 5,000; creates cost 3, deletes 1
    request_timeout: float = 30.0

    def validate(self, key: str) -> None:
        handle = self.handle.lstrip("@")
        if not handle.startswith("did:") and ("." not in handle or any(c.isspace() for c in handle)):
            raise ConfigError(f"{key}.handle", "expected a handle such as name.bsky.social, or a DID")
        if not self.service_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.service_url", "expected a URL starting with https://")
        for name in ("jetstream_url", "firehose_url"):
            if not getattr(self, name).startswith(("wss://", "ws://")):
                raise ConfigError(f"{key}.{name}", "expected a WebSocket URL starting with wss://")
        if not 1 <= self.search_page_size <= 100:
            raise ConfigError(f"{key}.search_page_size", "expected 1 to 100 (Bluesky's page limit)")
        for name in ("poll_seconds", "caught_up_idle_seconds", "request_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{key}.{name}", "expected a positive number of seconds")
        if self.search_lookback_minutes < 0:
            raise ConfigError(f"{key}.search_lookback_minutes", "expected 0 or more minutes")
        if self.max_batch_events < 1:
            raise ConfigError(f"{key}.max_batch_events", "expected 1 or more")
        if not 3 <= self.write_points_per_hour <= 5000:
            raise ConfigError(f"{key}.write_points_per_hour", "expected 3 to 5000 (Bluesky's hourly limit)")

    @property
    def account(self) -> str:
        return self.handle.lstrip("@")
