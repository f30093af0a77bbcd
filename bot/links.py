"""Which links from members may become links: a pure check with no other dependencies, shared by
the console cards, the adapters and (next) the web console."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# Query parameters that only tell an advertiser where a click came from.
TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|mc_cid|mc_eid|igshid|ref_src|_hsenc|_hsmi|si)$", re.I)

_SPACE = re.compile(r"\s")  # str.isspace's characters: a space anywhere and it is no link


def safe_url(url: str | None) -> str | None:
    """Only web links become links: a platform's odd URL scheme, a link with no host or a port
    out of range (which would make the platform refuse the whole message) is shown as text, if
    at all. Never raises."""
    if not url or not url.startswith(("https://", "http://")) or _SPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return None
    return url if parts.hostname else None


def without_tracking(url: str) -> str:
    """``url`` without its tracking parameters (``utm_…``, ``fbclid``, ``gclid`` …); everything
    else — the other parameters in their order and spelling, the fragment — stays as written.
    A link that cannot be read is returned unchanged. Never raises."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    kept = [p for p in parts.query.split("&") if not TRACKING.match(p.split("=", 1)[0])]
    if len(kept) == len(parts.query.split("&")):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))
