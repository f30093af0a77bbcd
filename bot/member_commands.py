"""What a member can ask the central account about themselves, read from the text of a message
(``optout``, ``opt in``, ``/link K7PQ-4MXA``…). Pure, shared by every adapter."""

from __future__ import annotations

import re
import unicodedata

OPTOUT, OPTIN, LINK = "optout", "optin", "link"
KINDS = (OPTOUT, OPTIN, LINK)

_COMMAND = re.compile(
    r"/?(?:(?P<out>opt[\s_-]?out)|(?P<in>opt[\s_-]?in)|(?P<link>link))"
    r"(?:\s+(?P<code>[a-z0-9][a-z0-9 -]{2,18}[a-z0-9]))?[\s.!]*",
)
_ADDRESSED = re.compile(r"(?<=\w)@\S+")  # "/optout@CoalesceBot": Telegram names the bot in groups
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed on phones


def parse(text: str) -> tuple[str, str | None] | None:
    """``(kind, argument)`` when the whole message, mentions aside, is a member command."""
    text = unicodedata.normalize("NFKC", text)
    words = [_ADDRESSED.sub("", w) for w in text.split() if not w.startswith("@")]
    said = " ".join(words).strip().casefold()
    if len(said) > 40:  # a command is short; a long message that mentions "opt out" is a post
        return None
    m = _COMMAND.fullmatch(said)
    if m is None:
        return None
    if m.group("link"):
        code = m.group("code")
        return LINK, normalize_code(code) if code else None
    if m.group("code"):
        return None  # "opt out of this thread" is conversation, not a command
    return (OPTOUT if m.group("out") else OPTIN), None


def normalize_code(code: str) -> str:
    """Codes compare without case, spaces or dashes (people type them on phones)."""
    return re.sub(r"[\s-]", "", code).upper()


def format_code(code: str) -> str:
    """``K7PQ4MXA`` as ``K7PQ-4MXA``: easier to read back."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code
