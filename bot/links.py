"""Which links from members may become links: a pure check with no other dependencies, shared by
the console cards, the adapters and (next) the web console."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: str | None) -> str | None:
    """Only web links become links: a platform's odd URL scheme, a link with no host or a port
    out of range (which would make the platform refuse the whole message) is shown as text, if
    at all. Never raises."""
    if not url or not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return None
    return url if parts.hostname else None
