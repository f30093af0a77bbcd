"""What a member can ask the central account about themselves, read from the text of a message
(``optout``, ``Opt–out please 🙏``, ``darme de baja``, ``/link K7PQ-4MXA``…). Pure, shared by
every adapter.

The words understood, in any case, with any Unicode dash or none between "opt" and "out", with
"please" / "pls" / "por favor" / "thanks" / "gracias" before or after, and trailing emoji or
punctuation:

- opting out: ``optout``, ``opt out``, ``unsubscribe``, ``stop``; Spanish ``baja``, ``darme de
  baja``, ``dar de baja``, ``no compartir``, ``no compartas``, ``no me compartas``;
- opting in: ``optin``, ``opt in``; Spanish ``alta``, ``darme de alta``, ``dar de alta``;
- linking: ``link`` (a code is given in private), ``link CODE`` (entering one), ``link yes`` /
  ``link no`` (the account that asked for the code confirms or refuses); Spanish ``vincular``
  with the same arguments and ``sí``;
- ``help`` / ``ayuda``.

A short message that starts like one of these but says something else is unclear: it gets the
help text (``HELP``) rather than silence. In a private chat (:func:`parse_private`) anything that
is not a command is answered with the help text too.
"""

from __future__ import annotations

import re
import unicodedata

OPTOUT, OPTIN, LINK, LINK_YES, LINK_NO, HELP = "optout", "optin", "link", "link_yes", "link_no", "help"
KINDS = (OPTOUT, OPTIN, LINK)  # the slash commands a chat front-end registers
ALL_KINDS = (OPTOUT, OPTIN, LINK, LINK_YES, LINK_NO, HELP)

_OUT = {
    "optout",
    "unsubscribe",
    "stop",
    "baja",
    "darmedebaja",
    "dardebaja",
    "darsedebaja",
    "nocompartir",
    "nocompartas",
    "nomecompartas",
}
_IN = {"optin", "alta", "darmedealta", "dardealta", "darsedealta"}
_LINK = {"link", "vincular"}
_HELP = {"help", "ayuda", "?", "info"}
_YES = {"yes", "y", "ok", "confirm", "si", "sí", "vale", "confirmo"}
_NO = {"no", "cancel", "refuse", "cancelar", "rechazar"}
# Words around a command that change nothing ("optout please", "por favor, baja").
_POLITE = ("please", "pls", "plz", "por favor", "porfavor", "porfa", "thanks", "thank you", "gracias")
# Words that start a try at a command: a short message beginning with one is answered with help.
_STEMS = {"link", "unsubscribe", "stop", "baja", "alta", "darme", "vincular", "help", "ayuda"}

_DASHLIKE = "\u2212\u2043\u02d7"  # minus sign, hyphen bullet, modifier minus: typed as dashes too
_ADDRESSED = re.compile(r"(?<=\w)@\S+")  # "/optout@CoalesceBot": Telegram names the bot in groups
_CODE = re.compile(r"[a-z0-9][a-z0-9 -]{2,18}[a-z0-9]")
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed on phones
MAX_COMMAND = 60  # a command is short; a long message that mentions "opt out" is a post


def _said(text: str) -> str:
    """The message as a command is read: mentions gone, folded, every dash a '-', emoji and
    punctuation around it dropped."""
    text = unicodedata.normalize("NFKC", text)
    words = [_ADDRESSED.sub("", w) for w in text.split() if not w.startswith("@")]
    said = " ".join(words).casefold()
    said = "".join("-" if unicodedata.category(ch) == "Pd" or ch in _DASHLIKE else ch for ch in said)
    return _trim(said)


def _trim(said: str) -> str:
    """Drop what is neither a letter, a digit nor '?' at both ends (emoji, '!', '.', '¡', ZWJ…)."""
    start, end = 0, len(said)
    while start < end and not _kept(said[start]):
        start += 1
    while end > start and not _kept(said[end - 1]):
        end -= 1
    return said[start:end]


def _kept(ch: str) -> bool:
    return ch.isalnum() or ch == "?"


def _unpolite(said: str) -> str:
    """Peel "please"/"por favor"/"thanks" (and the punctuation beside them) off both ends."""
    changed = True
    while changed and said:
        changed = False
        for word in _POLITE:
            if said.startswith(word + " ") or said.startswith(word + ","):
                said, changed = _trim(said[len(word) :]), True
            elif said.endswith(" " + word) or said.endswith("," + word):
                said, changed = _trim(said[: -len(word)]), True
            elif said == word:
                return ""
    return said


def _key(words: str) -> str:
    """ "opt - out", "opt_out", "darme de  baja" -> one key to look up."""
    return re.sub(r"[\s_\-.]+", "", words)


def parse(text: str) -> tuple[str, str | None] | None:
    """``(kind, argument)`` when the whole message, mentions aside, is a member command; HELP when
    a short message starts like one but is unclear; None for conversation."""
    said = _said(text)
    if not said or len(said) > MAX_COMMAND:
        return None
    bare = said.lstrip("/")
    bare = _unpolite(bare)
    if not bare:
        return None
    key = _key(bare)
    if key in _OUT:
        return OPTOUT, None
    if key in _IN:
        return OPTIN, None
    if key in _HELP:
        return HELP, None
    first, _, rest = bare.partition(" ")
    if first in _LINK:
        rest = _unpolite(rest.strip())
        if not rest:
            return LINK, None
        if rest in _YES:
            return LINK_YES, None
        if rest in _NO:
            return LINK_NO, None
        if _CODE.fullmatch(rest):
            return LINK, normalize_code(rest)
        return HELP, None
    if first == "opt" or first.startswith(("opt-", "opt_", "optout", "optin")) or first in _STEMS:
        return HELP, None  # "opt out of this thread", "/optuot": answered with how to ask
    return None


def parse_private(text: str) -> tuple[str, str | None]:
    """A private message to the bot: a command, or else the help text."""
    return parse(text) or (HELP, None)


def normalize_code(code: str) -> str:
    """Codes compare without case, spaces or dashes (people type them on phones)."""
    return re.sub(r"[\s-]", "", code).upper()


def format_code(code: str) -> str:
    """``K7PQ4MXA`` as ``K7PQ-4MXA``: easier to read back."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code
