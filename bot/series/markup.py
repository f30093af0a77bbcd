"""Writing series text for a platform: plain text, or HTML for adapters that publish HTML
(member-written text escaped, nothing but <b> and <a href> added), measured as readers see it.

With ``inert`` (the adapter's, ``bot.inert``) every text it writes is made inert as it is
written, so what a composer measures and splits is exactly what the adapter sends: the adapter
applies the same step again before publishing, and it changes nothing the second time."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import TextLimits
from bot.series.templates import Templates
from bot.text import length

_TAG = re.compile(r"<[^>]+>")
LINK_SHOWN = 40  # characters of an address shown in an HTML link


@dataclass(frozen=True)
class Markup:
    """How a composer writes for one adapter: ``plain`` or ``html``."""

    kind: str = "plain"
    inert: Callable[[str], str] | None = None

    def _inert(self, value: str) -> str:
        return self.inert(value) if self.inert is not None else value

    @property
    def is_html(self) -> bool:
        return self.kind == "html"

    def text(self, value: str) -> str:
        return self._inert(html.escape(value, quote=False) if self.is_html else value)

    def bold(self, value: str) -> str:
        """``value`` (already written in this markup) in bold."""
        return f"<b>{value}</b>" if self.is_html else value

    def link(self, url: str) -> str:
        """A link. In HTML the reader sees a short form (``example.org/path…``) that links to the
        whole address; in plain text the address itself, which platforms make clickable."""
        if self.is_html:
            shown = url.split("://", 1)[-1]
            shown = shown if len(shown) <= LINK_SHOWN else shown[: LINK_SHOWN - 1] + "…"
            return f'<a href="{html.escape(url, quote=True)}">{html.escape(shown, quote=False)}</a>'
        return url

    def visible(self, value: str) -> str:
        """What a reader sees, which is what platforms count."""
        return html.unescape(_TAG.sub("", value)) if self.is_html else value

    def fill(self, templates: Templates, name: str, **values: str) -> str:
        """Template ``name`` with ``values`` (already in this markup); its own words escaped."""
        if not self.is_html:
            return self._inert(templates.render(name, **values))
        out = []
        for literal, field, _, _ in string.Formatter().parse(templates.texts[name]):
            out.append(self.text(literal))
            if field is not None:
                out.append(values[field])
        return "".join(out)

    def measure(self, limits: TextLimits) -> Callable[[str], int]:
        if self.is_html:
            return lambda value: length(self.visible(value), limits)
        return lambda value: length(value, limits)
