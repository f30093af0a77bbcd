"""Text made inert before the central account publishes it: whatever a member (or any stranger)
typed must not make the account mention someone, post a foreign hashtag, send a command or
produce a link the member did not write as one.

The account never means to mention anyone in what it publishes, so the rule is "deny unless
intended", applied to the whole composed text: every ``@handle``, every hashtag that is not the
community's own, and, on platforms that find them on their own, every ``/command``, ``$CASHTAG``
and bare domain (``evil.com``, ``tg://…``) is broken with a WORD JOINER (U+2060) after its sign.
A word joiner is invisible, never breaks a line, survives copy-paste as nothing, and is not a
word character for Mastodon's, Telegram's or Bluesky's parsers, so ``@⁠alice`` reads as written
and links no one. Web links written with ``http(s)://`` stay whole: the member wrote them.

Pure and idempotent (``inert(inert(t)) == inert(t)``), so composers may apply it before they
measure a text and adapters apply it again, as the last step before the platform, without the
text changing twice. A direct answer's addressee is added by the adapter after this step.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import regex

from bot.domain import normalize_tag

if TYPE_CHECKING:
    from bot.config import Settings

WORD_JOINER = "\u2060"

# A web link as the platforms find one. Only printable ASCII: where a platform's own pattern
# would stop earlier (at a format character, say), the rest must not be spared as "link". And only
# after a space, an opening bracket or quote: "@https://…" or "xhttps://…" is no link to Telegram,
# which would read "@https" as a mention instead.
_ASCII_OUT = r"\s<>\"\x00-\x20\x7f-\U0010ffff"
_WEB_LINK = regex.compile(
    rf"(?<![^\s(\[{{<\"'«“‘])(?i:https?)://[^{_ASCII_OUT}]*[^{_ASCII_OUT}'.,;:!?)\]}}]"
)  # case-blind for the scheme alone: under IGNORECASE 's' would match 'ſ' and leave the class
# Markup between pieces of visible text: a link the composer made, whole, or any other tag.
_MARKUP = regex.compile(r"(<a\s[^>]*>.*?</a\s*>|<[^>]*>)", regex.I | regex.S)
_SEAM = "\uffff"  # a noncharacter: stands for the markup between two pieces of text

# Signs that start a mention: '@', and the fullwidth and small forms some software folds to it.
# After a letter, digit or '_' no platform starts a mention ("maria@med.example" stays as written).
_AT = regex.compile(r"(?<![\p{L}\p{N}_])([@＠﹫])(?=[^\s\u2060])")
# A hashtag: the sign, then what any of our platforms counts as part of the tag (letters, marks,
# digits, '_', ZWNJ, middle dots). Compared with the community's tags after normalize_tag.
_TAG = regex.compile(r"([#＃﹟])([\w\p{M}\u200c\u00b7\u30fb]*)(?=(\uffff*.?))", regex.S)
_TAG_GOES_ON = regex.compile(r"[\w\p{M}\u200c\u00b7\u30fb#＃﹟]")
# The noncharacter U+FFFF is where HTML tags sat (``inert_html``): what follows may continue it.
_COMMAND = regex.compile(r"(?<![\p{L}\p{N}_/])(/)(?=[A-Za-z0-9_\uffff])")  # "and/or" is none
_CASHTAG = regex.compile(r"([$＄﹩])(?=[A-Za-z0-9\uffff])")
# A dot between characters could join a bare domain ("evil.com", "1.2.3.4"); a scheme could be
# Telegram's own (tg://, ton://).
_DOT = regex.compile(r"([.．。｡])(?=[^\s.\u2060])")
_WWW = regex.compile(r"(?i)(www)(?=[.．。｡\uffff])")  # "www." starts a link on its own
_SCHEME = regex.compile(r"(?<![\w])((?:tg|ton|tonsite|mailto|tel):)(?=[^\s\u2060])", regex.I)


@dataclass(frozen=True, slots=True)
class InertRules:
    """What a platform would make live in plain text, and what the account may keep live there."""

    keep_tags: frozenset[str] = frozenset()  # normalised tags that stay hashtags: the community's
    tags: bool = True  # break every other hashtag (False: leave tags, for a private chat's cards)
    commands: bool = False  # "/start" becomes a command (Telegram)
    cashtags: bool = False  # "$ABC" becomes a cashtag (Telegram)
    bare_links: bool = False  # "evil.com" becomes a link with a preview (Telegram)

    def with_tags(self, tags: frozenset[str] | set[str] | tuple[str, ...]) -> InertRules:
        kept = frozenset(normalize_tag(t) for t in tags)
        return InertRules(kept, self.tags, self.commands, self.cashtags, self.bare_links)


def _tag(m: regex.Match[str], keep: frozenset[str]) -> str:
    sign, name, after = m.group(1), m.group(2), m.group(3)
    if not name and (not after or after.isspace() or after == WORD_JOINER):
        return m.group(0)  # a lone sign ("C# is", "#" at the end): nothing to break
    # A kept tag stays live unless what follows it (past any markup) would lengthen it into
    # another: "#LatinasInMedicine<b>X" is #LatinasInMedicineX to the reader's app.
    if name and normalize_tag(name) in keep and not _TAG_GOES_ON.match(after.lstrip(_SEAM)):
        return m.group(0)
    return sign + WORD_JOINER + name


def _words(text: str, rules: InertRules) -> str:
    """``text`` (no web link in it) with every live sign broken."""
    text = _AT.sub(lambda m: m.group(1) + WORD_JOINER, text)
    if rules.tags:
        text = _TAG.sub(lambda m: _tag(m, rules.keep_tags), text)
    if rules.commands:
        text = _COMMAND.sub(lambda m: m.group(1) + WORD_JOINER, text)
    if rules.cashtags:
        text = _CASHTAG.sub(lambda m: m.group(1) + WORD_JOINER, text)
    if rules.bare_links:
        text = _SCHEME.sub(lambda m: m.group(1) + WORD_JOINER, text)
        text = _DOT.sub(lambda m: m.group(1) + WORD_JOINER, text)
        text = _WWW.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return text


def inert(text: str, rules: InertRules) -> str:
    """``text`` with nothing live in it but web links and the tags ``rules`` keep."""
    out: list[str] = []
    last = 0
    for link in _WEB_LINK.finditer(text):
        out.append(_words(text[last : link.start()], rules))
        out.append(link.group())
        last = link.end()
    out.append(_words(text[last:], rules))
    return "".join(out)


def inert_html(markup: str, rules: InertRules) -> str:
    """Like ``inert`` for Telegram-style HTML. The platform reads the visible text as one, so
    that is what is made inert: "@<b>alice</b>" is a mention of alice once the tags are gone,
    and "&#64;alice" is one too. Tags are left as they are, and so is a link the composer made
    (``<a href>…</a>``); a piece of text that needs no change keeps its own escaping."""
    markup = markup.replace(_SEAM, "")
    parts = _MARKUP.split(markup)
    texts, marks = parts[0::2], parts[1::2]
    shown = [html.unescape(t) for t in texts]
    done = inert(_SEAM.join(shown), rules).split(_SEAM)
    out: list[str] = []
    for i, text in enumerate(done):
        out.append(texts[i] if text == shown[i] else html.escape(text, quote=False))
        if i < len(marks):
            out.append(marks[i])
    return "".join(out)


def own_tags(settings: Settings) -> frozenset[str]:
    """The hashtags the account's own posts may keep live: the community's, and the tag its
    members use for opportunities (the digest invites them to use it)."""
    return frozenset((*settings.community.tags, settings.series.opportunities.normalized_tag))
