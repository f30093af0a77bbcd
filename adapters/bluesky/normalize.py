"""Bluesky records and views (plain JSON dicts, as the wire carries them) into our domain types.

Pure. One path for every source: a Jetstream commit, a firehose record, a post view from
``getPosts`` or ``searchPosts``. Broken fields raise MalformedPayload naming the field; a facet
whose byte range does not fit the text keeps its feature (the tag or mention is still declared
by the author) but is not trusted for positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain import Author, Platform, Post, hashtags_in, normalize_tag
from bot.errors import MalformedPayload

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
TAG = "app.bsky.richtext.facet#tag"
MENTION = "app.bsky.richtext.facet#mention"
LINK = "app.bsky.richtext.facet#link"
NO_UNAUTHENTICATED = "!no-unauthenticated"
MAX_TEXT_BYTES = 3000  # the post lexicon's maxLength (UTF-8 bytes); 300 graphemes is the soft limit


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What a post record says, before we know who wrote it."""

    text: str
    created_at: datetime
    hashtags: frozenset[str]
    mentions: tuple[str, ...]  # DIDs
    reply_parent: str | None
    reply_root: str | None
    language: str | None
    content_warning: str | None
    bad_facets: int  # facets whose byte range does not fit the text
    quote_of: str | None = None  # the post this one quotes (its at:// URI)


@dataclass(frozen=True, slots=True)
class AtUri:
    repo: str  # a DID (or a handle, in links people paste)
    collection: str
    rkey: str

    @classmethod
    def parse(cls, uri: str) -> AtUri:
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise MalformedPayload(f"not an at:// URI: {str(uri)[:80]!r}")
        parts = uri[5:].split("/")
        if len(parts) != 3 or not all(parts):
            raise MalformedPayload(f"not a record URI: {uri[:80]!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"


def clean_text(value: str) -> str:
    """Text with any lone surrogate (invalid UTF-8 on the wire) replaced, so it can be stored."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def parse_when(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{field} is missing or not a date")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python 3.11 accepts at most 6 fraction digits; atproto allows more (nanoseconds).
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedPayload(f"{field} is not a date: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _facet_fits(facet: Mapping[str, Any], size: int) -> bool:
    index = facet.get("index")
    if not isinstance(index, Mapping):
        return False
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
        return False
    return 0 <= start < end <= size


def features(record: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any], bool]]:
    """(feature type, feature, whether its facet's byte range fits the text) for every facet."""
    text = record.get("text")
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 0
    for facet in _list(record.get("facets")):
        if not isinstance(facet, Mapping):
            continue
        fits = _facet_fits(facet, size)
        for feature in _list(facet.get("features")):
            if isinstance(feature, Mapping) and isinstance(feature.get("$type"), str):
                yield feature["$type"], feature, fits


def read_record(record: Any, *, fallback_time: datetime | None = None) -> RecordFacts:
    """The facts of an ``app.bsky.feed.post`` record; raises MalformedPayload naming the field."""
    if not isinstance(record, Mapping):
        raise MalformedPayload("record is not an object")
    kind = record.get("$type")
    if kind is not None and kind != POST:
        raise MalformedPayload(f"record is a {str(kind)[:60]}, not a post")
    raw_text = record.get("text")
    if not isinstance(raw_text, str):
        raise MalformedPayload("text is missing")
    text = clean_text(raw_text)
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise MalformedPayload(f"text is {size} bytes; a Bluesky post has at most {MAX_TEXT_BYTES}")
    try:
        created = parse_when(record.get("createdAt"), "createdAt")
    except MalformedPayload:
        if fallback_time is None:
            raise
        created = fallback_time
    tags: set[str] = set()
    mentions: list[str] = []
    bad = 0
    for kind, feature, fits in features(record):
        bad += not fits
        if kind == TAG and isinstance(feature.get("tag"), str):
            tags.add(normalize_tag(clean_text(feature["tag"])))
        elif kind == MENTION and isinstance(feature.get("did"), str):
            mentions.append(feature["did"])
    tags.update(normalize_tag(clean_text(t)) for t in _list(record.get("tags")) if isinstance(t, str))
    tags.update(hashtags_in(text))
    reply = record.get("reply")
    parent = root = None
    if reply is not None:
        if not isinstance(reply, Mapping):
            raise MalformedPayload("reply is not an object")
        parent = _ref_uri(reply.get("parent"), "reply.parent")
        root = _ref_uri(reply.get("root"), "reply.root")
    langs = [x for x in _list(record.get("langs")) if isinstance(x, str) and x]
    return RecordFacts(
        text=text,
        created_at=created,
        hashtags=frozenset(tags) - {""},
        mentions=tuple(dict.fromkeys(mentions)),
        reply_parent=parent,
        reply_root=root,
        language=langs[0] if langs else None,
        content_warning=_self_labels(record.get("labels")),
        bad_facets=bad,
        quote_of=quoted_uri(record.get("embed")),
    )


def quoted_uri(embed: Any) -> str | None:
    """The post a record embeds (``app.bsky.embed.record``, or ``recordWithMedia``'s record):
    a quote post. A quoted list or feed is nobody's post, and a broken embed quotes nothing."""
    if not isinstance(embed, Mapping):
        return None
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("record")
        if not isinstance(embed, Mapping):
            return None
    ref = embed.get("record")
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    if not isinstance(uri, str):
        return None
    try:
        at = AtUri.parse(uri)
    except MalformedPayload:
        return None
    return uri if at.collection == POST and at.repo.startswith("did:") else None


def _ref_uri(ref: Any, field: str) -> str:
    if not isinstance(ref, Mapping) or not isinstance(ref.get("uri"), str):
        raise MalformedPayload(f"{field}.uri is missing")
    return str(ref["uri"])


def _self_labels(labels: Any) -> str | None:
    """Self-applied content labels (``graphic-media``, ``nudity``…) read as a content warning."""
    if not isinstance(labels, Mapping):
        return None
    values = [v.get("val") for v in _list(labels.get("values")) if isinstance(v, Mapping)]
    shown = [v for v in values if isinstance(v, str) and v]
    return ", ".join(shown) or None


def web_url(base: str, author: str, rkey: str) -> str:
    return f"{base.rstrip('/')}/profile/{author}/post/{rkey}"


def bare_author(did: str) -> Author:
    """Who wrote a post when the profile is not known (yet): the DID stands in for the handle."""
    return Author(account_id=did, handle=did)


def to_author(profile: Any) -> Author:
    """A profile view (``app.bsky.actor.defs#profileView*``) as an Author."""
    if not isinstance(profile, Mapping):
        raise MalformedPayload("author is missing")
    did = profile.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedPayload("author.did is missing")
    handle = profile.get("handle")
    created = profile.get("createdAt")
    # "bot" is the well-known label an account puts on itself to say it is automated (the Bluesky
    # app's "automation label"); a negation label takes one back.
    labels = {
        v.get("val") for v in _list(profile.get("labels")) if isinstance(v, Mapping) and not v.get("neg")
    }
    followers = profile.get("followersCount")
    return Author(
        account_id=did,
        handle=handle if isinstance(handle, str) and handle else did,
        display_name=clean_text(str(profile.get("displayName") or "")),
        bio=clean_text(str(profile.get("description") or "")),
        is_bot="bot" in labels,
        created_at=_maybe_when(created),
        followers_count=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        # The account's own "logged-in users only" self-label (its profile record's labels,
        # which the AppView shows among the profile's labels).
        withheld=frozenset({"no_unauthenticated"}) if NO_UNAUTHENTICATED in labels else frozenset(),
    )


def _maybe_when(value: Any) -> datetime | None:
    try:
        return parse_when(value, "createdAt") if value else None
    except MalformedPayload:
        return None


def to_post(
    uri: str,
    cid: str | None,
    record: Any,
    author: Author,
    *,
    web_base: str,
    fallback_time: datetime | None = None,
) -> Post:
    """One post record by ``author`` as a Post."""
    return post_from_facts(
        uri, cid, read_record(record, fallback_time=fallback_time), author, web_base=web_base
    )


def post_from_facts(uri: str, cid: str | None, facts: RecordFacts, author: Author, *, web_base: str) -> Post:
    at = AtUri.parse(uri)
    if at.collection != POST:
        raise MalformedPayload(f"{uri[:80]} is not a post")
    shown = author.handle if not author.handle.startswith("did:") else at.repo
    return Post(
        platform=Platform.BLUESKY,
        post_id=uri,
        url=web_url(web_base, shown, at.rkey),
        author=author,
        text=facts.text,
        created_at=facts.created_at,
        hashtags=facts.hashtags,
        is_reply=facts.reply_parent is not None,
        reply_to=facts.reply_parent,
        language=facts.language,
        content_warning=facts.content_warning,
        mentions=facts.mentions,
        ref=cid,
        quote_of=facts.quote_of,
        # known by DID until the adapter reads the profile (consent needs it)
        quoted_author=bare_author(AtUri.parse(facts.quote_of).repo) if facts.quote_of else None,
    )


def view_to_post(view: Any, *, web_base: str) -> Post:
    """A post view (``app.bsky.feed.defs#postView``) as a Post."""
    if not isinstance(view, Mapping):
        raise MalformedPayload("post view is not an object")
    uri, cid = view.get("uri"), view.get("cid")
    if not isinstance(uri, str):
        raise MalformedPayload("uri is missing")
    indexed = _maybe_when(view.get("indexedAt"))
    return to_post(
        uri,
        cid if isinstance(cid, str) else None,
        view.get("record"),
        to_author(view.get("author")),
        web_base=web_base,
        fallback_time=indexed,
    )


def viewer_repost(view: Mapping[str, Any]) -> str | None:
    """The central account's repost of this post, as the AppView sees it."""
    viewer = view.get("viewer")
    if isinstance(viewer, Mapping) and isinstance(viewer.get("repost"), str):
        return str(viewer["repost"])
    return None
