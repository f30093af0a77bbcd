"""How the demo speaks: one line at a time to the terminal, in a curator's words."""

from __future__ import annotations

import re

from bot.domain import Platform


def say(text: str = "", end: str = "\n") -> None:
    print(text, end=end, flush=True)


def what_went_out(platform: Platform, action: str) -> str:
    """An amplification in a curator's words: a Telegram channel copy is a copy, not a boost."""
    if action == "spotlight":
        return "spotlight card on the Telegram channel"
    words = {Platform.MASTODON: "boosted on Mastodon", Platform.BLUESKY: "reposted on Bluesky"}
    return words.get(platform, "copied to the Telegram channel")


def plain(html_text: str) -> str:
    """A status's HTML as a person reads it: paragraphs and line breaks as spaces, links and
    hashtags as their words."""
    spaced = re.sub(r"<br\s*/?>|</p>", " ", html_text)
    return " ".join(re.sub(r"<[^>]+>", "", spaced).replace("&amp;", "&").split())
