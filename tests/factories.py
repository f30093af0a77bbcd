"""Small builders of domain objects for tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.domain import Author, Platform, Post, normalize_tag

_ids = itertools.count(1000)


def author(handle: str = "maria@med.example", bio: str = "", account_id: str | None = None) -> Author:
    return Author(
        account_id=account_id or f"acc-{handle}", handle=handle, display_name=handle.split("@")[0], bio=bio
    )


def post(
    text: str = "Matched with my first-choice residency! #LatinasInMedicine",
    *,
    by: Author | None = None,
    tags: tuple[str, ...] = ("LatinasInMedicine",),
    age: timedelta = timedelta(hours=1),
    now: datetime = datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    post_id: str | None = None,
    platform: Platform = Platform.MASTODON,
    **kw: object,
) -> Post:
    pid = post_id or str(next(_ids))
    return Post(
        platform=platform,
        post_id=pid,
        url=f"https://med.example/@x/{pid}",
        author=by or author(),
        text=text,
        created_at=now - age,
        hashtags=frozenset(normalize_tag(t) for t in tags),
        **kw,  # type: ignore[arg-type]
    )
