"""The real Mastodon adapter on the real Mastodon.py, pointed at a loopback sandbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.mastodon.adapter import MastodonAdapter, client_for
from adapters.mastodon.settings import MastodonSettings
from bot.clock import FakeClock


def sandbox_adapter(
    base_url: str,
    token: str,
    clock: FakeClock,
    *,
    cls: type[MastodonAdapter] = MastodonAdapter,
    **settings: Any,
) -> MastodonAdapter:
    """An adapter with a short request timeout (a hung sandbox fails a test fast)."""
    cfg = MastodonSettings(api_base_url=base_url, access_token=token, request_timeout=5, **settings)
    return cls(client_for(cfg), cfg, backfill=timedelta(hours=72), clock=clock)
