"""The check that our own text never names a curator: the central account speaks as "the
curators", so nothing it posts may single one of them out."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


def names_a_curator(text: str, settings: Settings) -> str | None:
    """The curator whose name or account ``text`` contains, if any. The central account speaks
    as "the curators": nothing it posts may single one of them out (the harassment risk moves
    from the member to the volunteer otherwise)."""
    folded = text.casefold()
    for curator in settings.curators:
        needles = [curator.name, *(v for v in curator.identities().values() if not v.isdigit())]
        for needle in needles:
            needle = needle.lstrip("@").casefold()
            if len(needle) >= 3 and re.search(rf"(?<![\w.-]){re.escape(needle)}(?![\w-])", folded):
                return curator.name
    return None
