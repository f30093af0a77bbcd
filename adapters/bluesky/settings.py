"""What a community sets for Bluesky in ``platforms.bluesky``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import ConfigError
from bot.schema import number, secret_field

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
    # search mode: how often to ask again
    poll_seconds: float = number(60.0, 0, 86_400, above=True, unit="seconds")
    # search mode: re-read this far behind the cursor
    search_lookback_minutes: float = number(10.0, 0, 7 * 24 * 60, unit="minutes")
    search_page_size: int = number(100, 1, 100)  # Bluesky's page limit
    # run --once: a stream that is quiet this long is caught up
    caught_up_idle_seconds: float = number(2.0, 0, 3600, above=True, unit="seconds")
    # stream events handed to the store in one transaction
    max_batch_events: int = number(2000, 1, 1_000_000)
    # Bluesky allows 5,000; creates cost 3, deletes 1
    write_points_per_hour: int = number(1500, 3, 5000)
    request_timeout: float = number(30.0, 0, 3600, above=True, unit="seconds")

    def validate(self, key: str) -> None:
        handle = self.handle.lstrip("@")
        if not handle.startswith("did:") and ("." not in handle or any(c.isspace() for c in handle)):
            raise ConfigError(f"{key}.handle", "expected a handle such as name.bsky.social, or a DID")
        if not self.service_url.startswith(("https://", "http://")):
            raise ConfigError(f"{key}.service_url", "expected a URL starting with https://")
        for name in ("jetstream_url", "firehose_url"):
            if not getattr(self, name).startswith(("wss://", "ws://")):
                raise ConfigError(f"{key}.{name}", "expected a WebSocket URL starting with wss://")

    @property
    def account(self) -> str:
        return self.handle.lstrip("@")
