"""Rows as the domain sees them: an account row as an Author, a post row as a Post."""

from __future__ import annotations

from bot.domain import Author, Platform, Post
from bot.store import models as m


def withheld_text(author: Author) -> str:
    return " ".join(sorted(author.withheld))


def author_of(account: m.Account) -> Author:
    """An account row as an Author (the bio is not kept: adapters read it again when it counts)."""
    return Author(
        account_id=account.platform_account_id,
        handle=account.handle,
        display_name=account.display_name,
        url=account.url,
        is_bot=account.is_bot,
        is_group=account.is_group,
        created_at=account.account_created_at,
        withheld=frozenset((account.withheld or "").split()),
    )


def to_domain(post: m.Post, account: m.Account, quoted: m.Account | None = None) -> Post:
    author = author_of(account)
    return Post(
        platform=Platform(post.platform),
        post_id=post.platform_post_id,
        url=post.url,
        author=author,
        text=post.text,
        created_at=post.created_at,
        hashtags=frozenset(post.hashtags.split()),
        is_reply=post.is_reply,
        is_boost=post.is_boost,
        reply_to=post.reply_to,
        language=post.language,
        content_warning=post.content_warning,
        ref=post.ref,
        quote_of=post.quote_of,
        quoted_author=author_of(quoted) if quoted is not None else None,
        automated=post.automated,
        edited_at=post.edited_at,
    )
