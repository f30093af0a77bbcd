"""Who may act: an operation names its curator, and an unknown name is the caller's mistake."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.ops import messages
from bot.ops.result import Result, usage


def unknown_curator(settings: Settings, name: str) -> Result[Any] | None:
    """A usage result naming the known curators when ``name`` is not one of them, else None."""
    if any(c.name == name for c in settings.curators):
        return None
    return usage(messages.no_curator(name, [c.name for c in settings.curators]))
