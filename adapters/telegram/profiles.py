"""What Telegram members say about themselves (a user's bio, a chat's description), read with
``getChat`` and kept for a short while, so a page of messages from the same few people costs a
few requests rather than one per message.

The bio is where a member writes ``#nobot``, as on the other platforms. The watch reads it through
this cache before the pipeline decides; the amplifier's last look reads it afresh (``fresh=True``).
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable

from bot.clock import Clock

Fetch = Callable[[int | str], Awaitable[str]]  # a chat id, or a public chat's @name


class Profiles:
    """At most ``size`` profiles, each trusted for ``ttl`` seconds on the injected clock."""

    def __init__(self, fetch: Fetch, clock: Clock, *, ttl: float = 300.0, size: int = 2048) -> None:
        self._fetch = fetch
        self._clock = clock
        self.ttl = ttl
        self.size = size
        self._kept: collections.OrderedDict[int | str, tuple[float, str]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    async def bio(self, chat_id: int | str, *, fresh: bool = False) -> str:
        """The profile text of ``chat_id``; errors are the fetch's (``bot.errors``)."""
        now = self._clock.now().timestamp()
        kept = self._kept.get(chat_id)
        if kept is not None and not fresh and now - kept[0] < self.ttl:
            self._kept.move_to_end(chat_id)
            return kept[1]
        text = await self._fetch(chat_id)
        self._kept[chat_id] = (self._clock.now().timestamp(), text)
        self._kept.move_to_end(chat_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)  # the least recently used goes first
        return text
