"""The demo's last word: where the curators' web console is, how to start it, and a sign-in
link for the demo's curator (made the way ``web login-link`` makes one)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.demo.world import CURATOR
from bot.config import Settings
from bot.ops import web_access

if TYPE_CHECKING:
    from bot.app import Coalesce


def web_console(app: Coalesce, settings: Settings, config_file: Path) -> list[str]:
    """The lines that tell a newcomer how to open the console, with a link that signs the
    curator in. Made while the demo's store is open; said last, where the eye lands."""
    made = web_access.sign_in_link(app.store, settings, CURATOR, app.clock.now())
    minutes = int(web_access.LINK_LIFETIME.total_seconds() // 60)
    lines = [
        f"\nThe curators' web console, at {settings.web.address}:",
        "   Start it (it runs until you press Ctrl-C):",
        f"      python -m bot web --config {config_file}",
    ]
    if made.data is None:  # the demo's curator is in its config: this says what went wrong
        return [*lines, f"   {made.message}"]
    return [
        *lines,
        f"   Then open this link to sign in as {CURATOR}; it works once, within {minutes} minutes:",
        f"      {made.data.url}",
        "   Another link, whenever you need one:",
        f"      python -m bot web login-link --as {CURATOR} --config {config_file}",
    ]
