"""Rich text (``bot.richtext``) as Telegram HTML, with what members wrote kept inert.

Telegram parses the HTML we send and then finds @mentions, #hashtags, $cashtags, /commands and
links (even bare domains, which it previews) in the plain text on its own. Member text is
escaped, so no tag of theirs survives, and ``bot.inert`` breaks every sign that would start one
of those with a word joiner: "@alice" in a Mastodon post must not become a link to whoever owns
@alice on Telegram, nor "/freeze" a command a curator sends by tapping it, nor "evil.com" in a
name a link with a preview. Web links a member wrote with http(s):// stay links: they wrote them.
"""

from __future__ import annotations

import html

from bot.domain import TextLimits
from bot.inert import WORD_JOINER, InertRules
from bot.inert import inert as _inert
from bot.richtext import Doc, Span

LIMITS = TextLimits(max_length=4096, counting="utf16")  # counted after the HTML is parsed
RULES = InertRules(commands=True, cashtags=True, bare_links=True)  # what Telegram finds on its own
# Cards and answers in the curators' chat (previews off, nobody else reads it): no mention, no
# command a curator could tap by mistake; tags and domains stay as the member wrote them.
CARD_RULES = InertRules(tags=False, commands=True)
__all__ = ["CARD_RULES", "LIMITS", "RULES", "WORD_JOINER", "inert", "to_html"]
_TAGS = {"bold": "b", "italic": "i", "code": "code", "quote": "blockquote", "spoiler": "tg-spoiler"}


def inert(text: str, rules: InertRules = RULES) -> str:
    """``text`` as Telegram will show it, minus the mentions, tags, commands and links it would
    invent (by ``rules``; hashtags in its ``keep_tags``, the community's own, stay live)."""
    return _inert(text, rules)


def _span(span: Span) -> str:
    out = html.escape(span.text, quote=False)
    if span.url:
        out = f'<a href="{html.escape(span.url, quote=True)}">{out}</a>'
    tag = _TAGS.get(span.style)
    return f"<{tag}>{out}</{tag}>" if tag else out


def to_html(doc: Doc, limits: TextLimits = LIMITS, rules: InertRules = CARD_RULES) -> str:
    """``doc`` made inert (its untrusted spans, by ``rules``), cut to fit one message, in
    Telegram's HTML. The default suits the curators' chat; a channel post passes ``RULES``."""
    safe = Doc(
        tuple(
            tuple(
                Span(inert(s.text, rules), s.style, s.url, s.untrusted, s.cuttable) if s.untrusted else s
                for s in line
            )
            for line in doc.lines
        )
    )
    fitted = safe.fit(limits)
    return "\n".join("".join(_span(s) for s in line) for line in fitted.lines)
