"""The last check on what adapters hand the core, before anything reaches the database or a
curator's screen. Pure. Whatever cannot be stored safely is rejected with a reason (the pipeline
logs it with its id and moves on); what can be repaired is repaired: NUL characters and lone
surrogates (which no database text column takes), invisible direction overrides and zero-width
characters in handles (which let "spam4u" hide as "spam\u200b4u"), oversized fields."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TypeVar

import regex

from bot.domain import Author, Batch, MemberRequest, Nomination, Post

T = TypeVar("T")

MAX_TEXT = 50_000  # the longest any platform allows is 4,096; beyond this is not a real post
MAX_ID = 512
MAX_ACCOUNT_ID = 255
MAX_NAME = 255
MAX_LANGUAGE = 16
MAX_TAGS = 200

# Format characters (bidi overrides, zero-width space/joiners, BOM…) and controls never belong in
# a handle; display names keep the joiners and tag characters that make up emoji (👩‍⚕️, 🏴󠁧󠁢󠁳󠁣󠁴󠁿).
_HANDLE_DROP = regex.compile(r"[\p{Cc}\p{Cf}]")
_NAME_DROP = regex.compile(r"[[\p{Cc}\p{Cf}]--[\u200c\u200d\U000E0020-\U000E007F]]", regex.V1)


class Rejected(ValueError):
    """This item cannot be stored; the message says which field and why (never the secret-ish
    or huge value itself)."""


def _text(
    value: object, field: str, limit: int | None = None, *, drop: regex.Pattern[str] | None = None
) -> str:
    if not isinstance(value, str):
        raise Rejected(f"{field} is {type(value).__name__}, not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    if drop is not None:
        value = drop.sub("", value)
    elif "\x00" in value:
        value = value.replace("\x00", "")
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def _ident(value: object, field: str, limit: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"{field} is missing")
    cleaned = _text(value, field, drop=_HANDLE_DROP)
    if not cleaned or len(cleaned) > limit:
        raise Rejected(f"{field} is {len(value)} characters long (at most {limit})")
    return cleaned


def _with(obj: T, **values: object) -> T:
    """``obj`` itself when every cleaned value equals what it already holds (the common case:
    copying each of thousands of clean posts was a third of the ingest time), else a copy."""
    if all(getattr(obj, k) == v for k, v in values.items()):
        return obj
    return dataclasses.replace(obj, **values)  # type: ignore[type-var]


def clean_author(author: Author) -> Author:
    if not isinstance(author, Author):
        raise Rejected("author is missing")
    handle = _ident(author.handle, "author.handle", MAX_NAME)
    created = author.created_at
    if created is not None and (not isinstance(created, datetime) or created.tzinfo is None):
        created = None
    return _with(
        author,
        account_id=_ident(author.account_id, "author.account_id", MAX_ACCOUNT_ID),
        handle=handle,
        display_name=_text(author.display_name or "", "author.display_name", MAX_NAME, drop=_NAME_DROP),
        bio=_text(author.bio or "", "author.bio", MAX_TEXT),
        url=_text(author.url, "author.url", 2048) if isinstance(author.url, str) else None,
        created_at=created,
        followers_count=author.followers_count if isinstance(author.followers_count, int) else None,
    )


def _capped_tags(tags: object, keep: frozenset[str]) -> frozenset[str]:
    """At most MAX_TAGS hashtags, the ones in ``keep`` (the community's, the opportunity tag, the
    opt-out markers) always among them: a post stuffed with tags must not lose the one that puts
    it in the queue, or the one that keeps it out."""
    names = [t for t in tags if isinstance(t, str)] if isinstance(tags, (set, frozenset, list, tuple)) else []
    kept = sorted(t for t in set(names) if t in keep)
    rest = sorted(t for t in set(names) if t not in keep)
    return frozenset((kept + rest)[:MAX_TAGS])


def clean_post(post: Post, keep_tags: frozenset[str] = frozenset()) -> Post:
    """``post`` fit to store, or Rejected naming the field that makes it impossible. Hashtags in
    ``keep_tags`` (normalised) survive any cut of an oversized tag list."""
    if not isinstance(post, Post):
        raise Rejected("not a post")
    post_id = _ident(post.post_id, "post_id", MAX_ID)
    if not isinstance(post.created_at, datetime):
        raise Rejected("created_at is not a date")
    created = post.created_at if post.created_at.tzinfo else post.created_at.replace(tzinfo=UTC)
    tags = post.hashtags
    if not isinstance(tags, frozenset) or len(tags) > MAX_TAGS or not all(isinstance(t, str) for t in tags):
        tags = _capped_tags(tags, keep_tags)
    language = (
        post.language if isinstance(post.language, str) and len(post.language) <= MAX_LANGUAGE else None
    )
    reply_to = post.reply_to if isinstance(post.reply_to, str) and len(post.reply_to) <= MAX_ID else None
    return _with(
        post,
        post_id=post_id,
        url=_text(post.url or "", "url", 4096),
        author=clean_author(post.author),
        text=_text(post.text, "text", MAX_TEXT),
        created_at=created,
        hashtags=frozenset(_text(t, "hashtag", 200) for t in tags),
        language=language,
        reply_to=reply_to if post.is_reply or reply_to else None,
        content_warning=_text(post.content_warning, "content_warning", 2000)
        if post.content_warning
        else None,
        mentions=tuple(_text(x, "mention", MAX_NAME) for x in post.mentions if isinstance(x, str)),
        ref=_text(post.ref, "ref", 4096) if isinstance(post.ref, str) else None,
        edited_at=post.edited_at
        if isinstance(post.edited_at, datetime) and post.edited_at.tzinfo is not None
        else None,
    )


def clean_batch(batch: Batch, keep_tags: frozenset[str] = frozenset()) -> tuple[Batch, list[tuple[str, str]]]:
    """The batch with every item made safe, and (id, reason) for each item that had to go;
    ``keep_tags`` as for :func:`clean_post`."""
    rejected: list[tuple[str, str]] = []
    posts: list[Post] = []
    for post in batch.posts:
        try:
            posts.append(clean_post(post, keep_tags))
        except Rejected as exc:
            rejected.append((_show_id(getattr(post, "post_id", None)), str(exc)))
    nominations: list[Nomination] = []
    for n in batch.nominations:
        try:
            nominations.append(
                dataclasses.replace(
                    n, post=clean_post(n.post, keep_tags), nominated_by=clean_author(n.nominated_by)
                )
            )
        except Rejected as exc:
            rejected.append((_show_id(getattr(n.post, "post_id", None)), f"nomination: {exc}"))
    requests: list[MemberRequest] = []
    for r in batch.requests:
        try:
            ref = r.reply_ref if isinstance(r.reply_ref, str) and len(r.reply_ref) <= MAX_ID else None
            argument = r.argument if isinstance(r.argument, str) and len(r.argument) <= 64 else None
            requests.append(
                dataclasses.replace(r, author=clean_author(r.author), reply_ref=ref, argument=argument)
            )
        except Rejected as exc:
            rejected.append((_show_id(r.reply_ref), f"request: {exc}"))
    cleaned = dataclasses.replace(batch, posts=posts, nominations=nominations, requests=requests)
    cleaned.malformed += len(rejected)
    return cleaned, rejected


def _show_id(value: object) -> str:
    """An id fit for a log line: short, printable."""
    text = str(value) if value is not None else "?"
    text = "".join(ch if ch.isprintable() else "?" for ch in text[:80])
    return text + ("…" if len(str(value)) > 80 else "")
