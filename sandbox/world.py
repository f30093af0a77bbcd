"""One sandbox world: the Mastodon, Bluesky and Telegram emulators started together, with the
Telegram rooms Coalesce works in, and the addresses and secrets a bot needs to reach them.

The demo, the benchmarks and the tests build their worlds here; each seeds its own community
after :meth:`SandboxWorld.start` (the rooms are the only seed they share).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox

__all__ = ["Rooms", "SandboxWorld"]


@dataclass(frozen=True)
class Rooms:
    """The Telegram chats Coalesce works in: the curators' group, the community group, the channel."""

    curators: int = -1001000000001
    community: int = -1001000000002
    channel: int = -1001000000003


class SandboxWorld:
    """The three sandboxes, started and stopped together.

    ``clock`` (aware UTC datetimes) drives Mastodon and Bluesky, and Telegram in seconds; without
    it each keeps the wall clock. ``mastodon``, ``bluesky`` and ``telegram`` are passed on to each
    sandbox's constructor (domain, account names, limits...).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        rooms: Rooms = Rooms(),
        mastodon: dict[str, Any] | None = None,
        bluesky: dict[str, Any] | None = None,
        telegram: dict[str, Any] | None = None,
    ) -> None:
        self.rooms = rooms
        masto_kw, sky_kw, tg_kw = dict(mastodon or {}), dict(bluesky or {}), dict(telegram or {})
        if clock is not None:
            masto_kw.setdefault("clock", clock)
            sky_kw.setdefault("clock", clock)
            tg_kw.setdefault("clock", lambda: clock().timestamp())
        self.mastodon = MastodonSandbox(**masto_kw)
        self.bluesky = BlueskySandbox(**sky_kw)
        self.telegram = TelegramSandbox(**tg_kw)

    @property
    def sandboxes(self) -> tuple[MastodonSandbox, BlueskySandbox, TelegramSandbox]:
        return self.mastodon, self.bluesky, self.telegram

    def start(self) -> SandboxWorld:
        """Start all three; if one cannot start, the ones already started stop again."""
        started: list[Any] = []
        try:
            for sandbox in self.sandboxes:
                sandbox.start()
                started.append(sandbox)
        except BaseException:
            for sandbox in reversed(started):
                with contextlib.suppress(Exception):
                    sandbox.stop()
            raise
        return self

    def stop(self) -> None:
        for sandbox in self.sandboxes:
            with contextlib.suppress(Exception):
                sandbox.stop()

    def __enter__(self) -> SandboxWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- seeding

    def open_rooms(
        self,
        curators: Iterable[SandboxUser],
        community: Iterable[SandboxUser],
        *,
        name: str = "Latinas in Medicine",
        curators_title: str | None = None,
        channel_username: str = "latinasinmed",
    ) -> None:
        """The curators' group, the community group and the channel, with their members."""
        t, rooms = self.telegram, self.rooms
        title = curators_title or f"{name} · curators"
        t.add_chat(rooms.curators, "supergroup", title, members=list(curators))
        t.add_chat(rooms.community, "supergroup", name, members=list(community))
        t.add_chat(rooms.channel, "channel", name, username=channel_username)

    # ---------------------------------------------------------------- what the bot needs

    def secrets(self, prefix: str) -> dict[str, str]:
        """The three credentials as environment variables named ``{prefix}_MASTODON_TOKEN``..."""
        return {
            f"{prefix}_MASTODON_TOKEN": self.mastodon.token,
            f"{prefix}_BLUESKY_PASSWORD": self.bluesky.password,
            f"{prefix}_TELEGRAM_TOKEN": self.telegram.token,
        }

    def platforms_config(self, secrets_prefix: str | None = None) -> dict[str, dict[str, Any]]:
        """The ``platforms:`` section of a config for this world. With ``secrets_prefix`` the
        credentials are ``${...}`` references to :meth:`secrets` instead of the values."""

        def secret(name: str, value: str) -> str:
            return f"${{{secrets_prefix}_{name}}}" if secrets_prefix else value

        handle = self.bluesky.handle_of(self.bluesky.central)
        return {
            "mastodon": {
                "api_base_url": self.mastodon.base_url,
                "access_token": secret("MASTODON_TOKEN", self.mastodon.token),
            },
            "bluesky": {
                "handle": handle,
                "app_password": secret("BLUESKY_PASSWORD", self.bluesky.password),
                "service_url": self.bluesky.base_url,
                "jetstream_url": self.bluesky.ws_url,
                "jetstream_compress": False,
            },
            "telegram": {
                "bot_token": secret("TELEGRAM_TOKEN", self.telegram.token),
                "base_url": self.telegram.bot_base_url,
                "curator_chat_id": self.rooms.curators,
                "community_chat_ids": [self.rooms.community],
                "channel_id": self.rooms.channel,
            },
        }

    def injected(self) -> int:
        """Faults the three sandboxes have injected so far."""
        return sum(s.faults.injected for s in self.sandboxes)
