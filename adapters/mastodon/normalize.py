"""Mastodon entities (as Mastodon.py returns them: dict-like) into our domain types. Pure."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from bot.domain import Author, Platform, Post, normalize_tag
from bot.errors import MalformedPayload


class _TextExtractor(HTMLParser):
    """Mastodon's status HTML to plain text: paragraphs become blank lines, <br> newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    if "<" not in content:
        return html.unescape(content)
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()


def _when(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedPayload(f"{field} is not a date: {value[:40]!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise MalformedPayload(f"{field} is missing or not a date")


def _str(entity: Mapping[str, Any], field: str) -> str:
    value = entity.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{field} is missing")
    return value


def full_acct(acct: str, local_domain: str) -> str:
    """Mastodon writes local accounts as ``user``; we always say ``user@server``."""
    return acct if "@" in acct else f"{acct}@{local_domain}"


def to_author(account: Any, local_domain: str) -> Author:
    if not isinstance(account, Mapping):
        raise MalformedPayload("account is missing")
    created = account.get("created_at")
    return Author(
        account_id=_str(account, "id"),
        handle=full_acct(_str(account, "acct"), local_domain),
        display_name=str(account.get("display_name") or account.get("username") or ""),
        url=account.get("url") if isinstance(account.get("url"), str) else None,
        bio=html_to_text(str(account.get("note") or "")),
        is_bot=bool(account.get("bot")),
        is_group=bool(account.get("group")),
        created_at=_when(created, "account.created_at") if created else None,
        followers_count=account.get("followers_count")
        if isinstance(account.get("followers_count"), int)
        else None,
        withheld=withheld(account),
    )


def withheld(account: Mapping[str, Any]) -> frozenset[str]:
    """What the account told its server against being found: ``discoverable: false`` (not in
    discovery features) and ``noindex: true`` (no search engines). A field that is absent or
    null says nothing (remote accounts often leave ``discoverable`` out; ``noindex`` is only
    given for the server's own accounts)."""
    out = set()
    if account.get("discoverable") is False:
        out.add("discoverable")
    if account.get("noindex") is True:
        out.add("noindex")
    return frozenset(out)


def to_post(status: Any, local_domain: str) -> Post:
    """One Status entity as a Post; raises MalformedPayload naming the broken field."""
    if not isinstance(status, Mapping):
        raise MalformedPayload("status is not an object")
    status_id = _str(status, "id")
    author = to_author(status.get("account"), local_domain)
    tags = status.get("tags") or []
    if not isinstance(tags, list):
        raise MalformedPayload("tags is not a list")
    hashtags = frozenset(normalize_tag(str(t.get("name", ""))) for t in tags if isinstance(t, Mapping))
    listed = status.get("mentions") or []
    if not isinstance(listed, list):
        raise MalformedPayload("mentions is not a list")
    mentions = tuple(
        full_acct(str(x.get("acct", "")), local_domain) for x in listed if isinstance(x, Mapping)
    )
    reply_to = status.get("in_reply_to_id")
    content = status.get("content")
    if not isinstance(content, str):
        raise MalformedPayload("content is missing")
    return Post(
        platform=Platform.MASTODON,
        post_id=status_id,
        url=str(status.get("url") or status.get("uri") or ""),
        author=author,
        text=html_to_text(content),
        created_at=_when(status.get("created_at"), "created_at"),
        hashtags=hashtags - {""},
        is_reply=reply_to is not None,
        is_boost=status.get("reblog") is not None,
        reply_to=str(reply_to) if reply_to is not None else None,
        language=status.get("language") if isinstance(status.get("language"), str) else None,
        content_warning=str(status.get("spoiler_text") or "") or None,
        mentions=mentions,
        ref=str(status.get("uri") or "") or None,
        **_quoted(status.get("quote"), local_domain),
        edited_at=_edited(status.get("edited_at")),
    )


def _quoted(quote: Any, local_domain: str) -> dict[str, Any]:
    """A quote post (Mastodon 4.5's ``quote``: a Quote entity with the ``quoted_status``): the
    quoted status and its author, whose consent counts too. A quote the server does not show
    (pending, revoked, or only an id) carries no post to amplify with it."""
    quoted = quote.get("quoted_status") if isinstance(quote, Mapping) else None
    if not isinstance(quoted, Mapping) or quote.get("state", "accepted") != "accepted":
        return {}
    try:
        return {
            "quote_of": _str(quoted, "id"),
            "quoted_author": to_author(quoted.get("account"), local_domain),
        }
    except MalformedPayload:
        return {}


def _edited(value: Any) -> datetime | None:
    """When the status was last edited; an unreadable value is no reason to lose the status."""
    try:
        return _when(value, "edited_at") if value else None
    except MalformedPayload:
        return None


def id_key(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings that sort by length, then text."""
    return (len(status_id), status_id)
