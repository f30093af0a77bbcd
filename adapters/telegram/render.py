"""Rich text (``bot.richtext``) as Telegram HTML, with what members wrote kept inert.

Telegram parses the HTML we send and then finds @mentions, /commands and links in the plain
text on its own. Member text is escaped, so no tag of theirs survives, and a word joiner goes
after any ``@`` or ``/`` that would start a mention or a command: "@alice" in a Mastodon post
must not become a link to whoever owns @alice on Telegram, nor "/freeze" a command a curator
sends by tapping it. Web links a member wrote stay links: they wrote them.
"""

from __future__ import annotations

import html
import re

from bot.domain import TextLimits
from bot.richtext import Doc, Span
from bot.text import URL

LIMITS = TextLimits(max_length=4096, counting="utf16")  # counted after the HTML is parsed
WORD_JOINER = "\u2060"
_MENTION_OR_COMMAND = re.compile(r"(?<![\w@/.:])([@/])(?=[A-Za-z0-9_])")
_TAGS = {"bold": "b", "italic": "i", "code": "code", "quote": "blockquote", "spoiler": "tg-spoiler"}


def inert(text: str) -> str:
    """``text`` as Telegram will show it, minus the mentions and commands it would invent."""
    out: list[str] = []
    last = 0
    for link in URL.finditer(text):
        out.append(_MENTION_OR_COMMAND.sub(r"\1" + WORD_JOINER, text[last : link.start()]))
        out.append(link.group())
        last = link.end()
    out.append(_MENTION_OR_COMMAND.sub(r"\1" + WORD_JOINER, text[last:]))
    return "".join(out)


def _span(span: Span) -> str:
    out = html.escape(span.text, quote=False)
    if span.url:
        out = f'<a href="{html.escape(span.url, quote=True)}">{out}</a>'
    tag = _TAGS.get(span.style)
    return f"<{tag}>{out}</{tag}>" if tag else out


def to_html(doc: Doc, limits: TextLimits = LIMITS) -> str:
    """``doc`` made inert, cut to fit one message, in Telegram's HTML."""
    safe = Doc(
        tuple(
            tuple(
                Span(inert(s.text), s.style, s.url, s.untrusted, s.cuttable) if s.untrusted else s
                for s in line
            )
            for line in doc.lines
        )
    )
    fitted = safe.fit(limits)
    return "\n".join("".join(_span(s) for s in line) for line in fitted.lines)
