"""A per-sender budget for work a front-end does on its own for strangers (answering /start,
looking up links sent in private), with bounded memory: at most ``senders`` senders are
remembered, the least recently seen forgotten first, whatever a flood does. Pure; time is given."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta


class SenderBudget:
    def __init__(self, limit: int, window: timedelta, *, senders: int = 4096) -> None:
        self.limit = limit
        self.window = window
        self.senders = senders
        self._seen: OrderedDict[str, tuple[datetime, int]] = OrderedDict()

    def allow(self, sender: str, now: datetime) -> bool:
        """Count one event from ``sender`` at ``now``; False once the window's budget is spent."""
        start, used = self._seen.pop(sender, (now, 0))
        if now - start >= self.window or now < start:
            start, used = now, 0
        self._seen[sender] = (start, used + 1)
        while len(self._seen) > self.senders:
            self._seen.popitem(last=False)
        return used < self.limit

    def __len__(self) -> int:
        return len(self._seen)
