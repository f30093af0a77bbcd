"""Hostile text for the inert tests: what a stranger types to make the central account mention,
tag, command or link someone, and independent readings of Mastodon's and Telegram's parsers.

The parser readings follow the platforms' published rules (Mastodon 4's ``Account::MENTION_RE``
and ``Tag::HASHTAG_RE``; tdlib's matchers for mentions, commands, hashtags, cashtags and bare
domains) written afresh here, so a test does not only check our code against itself or against
our sandboxes' simplifications.
"""

from __future__ import annotations

import regex
from hypothesis import strategies as st

COMMUNITY = "LatinasInMedicine"
ALLOWED = frozenset({"latinasinmedicine", "opportunity"})

# Pieces an attacker strings together.
HANDLES = [
    "@victim",
    "@victim@med.example",
    "@victim.test",
    "@Victim_2@other.example",
    "＠victim",
    "﹫victim",
    "@\u200bvictim",
    "\u202e@victim",
    "@victim\u2060",
    "x@victim",
    "(@victim)",
    "e\u0301@victim",
]
TAGS = [
    "#SpamTag",
    "＃SpamTag",
    "﹟SpamTag",
    "#spam_tag",
    "#LatinasInMedicine",
    "#latinasinmedicine",
    "#LatinasInMedicine\u0301",
    "#LatinasInMedicineX",
    "#LatinasInMedicine#Spam",
    "#\u200cSpam",
    "#\u0301Spam",
    "#Spam·Tag",
    "#opportunity",
    "#１２３abc",
]
COMMANDS = ["/start", "/optout", "/freeze@CoalesceBot", " /block victim", "\n/approve 1", "</b>"]
LINKS = [
    "evil.com",
    "www.evil.com",
    "evil.com/path?q=1",
    "1.2.3.4",
    "tg://resolve?domain=victim",
    "mailto:victim@evil.com",
    "https://med.example/@victim",
    "https://med.example/tags/x#SpamTag",
    "https://med.example/\u2060@victim",
    "$SPAM",
]
NOISE = [" ", "\n", "\n\n", ", ", ". ", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff"]
NOISE += ["é", "👩🏽‍⚕️", "&amp;", "<b>"]

pieces = st.sampled_from(HANDLES + TAGS + COMMANDS + LINKS + NOISE)
# Free text too: letters, digits and the signs that matter, in any order, with format characters.
signs = st.text(
    alphabet=st.sampled_from([*"@#/$.:_-aZ9 \n", "＠", "＃", "\u200b", "\u2060", "\u0301", "é"]),
    max_size=30,
)
hostile = st.lists(st.one_of(pieces, signs), max_size=12).map("".join)


# -- how Mastodon 4 reads a status text --------------------------------------------------------

_M_USERNAME = r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*"
_W = r"\p{L}\p{M}\p{Nd}\p{Pc}"  # Onigmo's [[:word:]]
_S = "_\u00b7\u30fb\u200c"  # Mastodon's HASHTAG_SEPARATORS
_A = r"\p{Alphabetic}"  # Onigmo's [[:alpha:]]
MASTODON_MENTION = regex.compile(rf"(?<![=/{_W}])@({_M_USERNAME})(?:@[{_W}]+(?:[.-]+[{_W}]+)*)?", regex.I)
MASTODON_TAG = regex.compile(
    rf"(?<=^|\s)[#＃]((?:[{_W}_][{_W}{_S}]*[{_A}{_S}][{_W}{_S}]*[{_W}_])|(?:[{_W}_]*[{_A}][{_W}_]*))"
)
# Links are found first and nothing inside them is a mention or a tag. Only printable ASCII is
# taken as link here: wherever a platform's own link pattern stops, what follows is still read.
WEB_URL = regex.compile(r"https?://[^\s<>\"\x00-\x20\x7f-\U0010ffff]+")


def mastodon_mentions(text: str) -> list[str]:
    return [m.group(0) for m in MASTODON_MENTION.finditer(_outside_urls(text))]


def mastodon_tags(text: str) -> list[str]:
    return [m.group(1) for m in MASTODON_TAG.finditer(_outside_urls(text))]


def _outside_urls(text: str) -> str:
    return WEB_URL.sub(lambda m: " " * len(m.group(0)), text)


# -- how Telegram (tdlib) reads a message text -------------------------------------------------

_T_WORD = r"[\p{L}\p{Nd}\p{N}_]"
TELEGRAM_MENTION = regex.compile(rf"(?<!{_T_WORD})@[A-Za-z0-9_]{{2,32}}(?!{_T_WORD})")
TELEGRAM_COMMAND = regex.compile(
    r"(?<![\p{L}\p{N}_/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\p{L}\p{N}_/<>])"
)
_T_TAG_LETTER = r"[\p{L}\p{Nd}_\u200c\u00b7\u0d80-\u0dff]"
TELEGRAM_TAG = regex.compile(rf"(?<!{_T_TAG_LETTER})#({_T_TAG_LETTER}{{1,256}})(?!{_T_TAG_LETTER}*#)")
TELEGRAM_CASHTAG = regex.compile(r"(?<![$\p{L}\p{Nd}_\u200c])\$[A-Z]{1,8}(?![$\p{L}\p{Nd}_\u200c])")
# A bare domain: a dot with domain characters on both sides (tdlib then checks the top-level
# domain against its list; here any letters count, which is stricter).
TELEGRAM_DOMAIN = regex.compile(r"[\w~-]\.[\p{L}\p{N}]")
TELEGRAM_SCHEME = regex.compile(r"(?i)\b(?:tg|ton|tonsite)://")


def telegram_live(text: str) -> list[str]:
    """Everything Telegram would make live in ``text`` outside its http(s) links, but hashtags
    (reported apart by :func:`telegram_tags`)."""
    plain = _outside_urls(text)
    found = [m.group(0) for m in TELEGRAM_MENTION.finditer(plain)]
    found += [m.group(0) for m in TELEGRAM_COMMAND.finditer(plain)]
    found += [m.group(0) for m in TELEGRAM_CASHTAG.finditer(plain)]
    found += [m.group(0) for m in TELEGRAM_DOMAIN.finditer(plain)]
    found += [m.group(0) for m in TELEGRAM_SCHEME.finditer(plain)]
    return found


def telegram_tags(text: str) -> list[str]:
    return [
        m.group(1) for m in TELEGRAM_TAG.finditer(_outside_urls(text)) if regex.search(r"\p{L}", m.group(1))
    ]
