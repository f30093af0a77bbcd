"""Quote posts on the curators' desk, whatever the platform: the quoted author comes with the
post (Bluesky's embedded record, Mastodon's ``quote``), and the pipeline keeps out a quote of a
post whose author's profile says ``#nobot``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adapters.bluesky.normalize import read_record
from adapters.mastodon.normalize import to_post
from bot.config import Settings
from bot.curation.pipeline import Filters
from bot.domain import Author, Platform, Post

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _account(i: str, note: str = "") -> dict[str, Any]:
    return {"id": i, "acct": f"user{i}", "note": note, "created_at": "2025-01-01T00:00:00Z"}


def _status(quote: Any) -> dict[str, Any]:
    return {
        "id": "10",
        "account": _account("1"),
        "content": "<p>Read this #LatinasInMedicine</p>",
        "created_at": "2026-03-02T14:00:00Z",
        "tags": [{"name": "LatinasInMedicine"}],
        "quote": quote,
    }


def test_a_mastodon_quote_carries_its_author() -> None:
    quoted = {**_status(None), "id": "7", "account": _account("2", "<p>#nobot</p>")}
    post = to_post(_status({"state": "accepted", "quoted_status": quoted}), "med.example")
    assert post.quote_of == "7"
    assert post.quoted_author is not None
    assert post.quoted_author.handle == "user2@med.example"
    assert "#nobot" in post.quoted_author.bio


def test_a_quote_mastodon_does_not_show_carries_nothing() -> None:
    for quote in (
        None,
        {"state": "revoked", "quoted_status": None},
        {"state": "accepted", "quoted_status_id": "7"},
    ):
        post = to_post(_status(quote), "med.example")
        assert (post.quote_of, post.quoted_author) == (None, None)


def test_a_bluesky_quote_with_media_is_still_a_quote() -> None:
    uri = "at://did:plc:abc/app.bsky.feed.post/3k"
    record = {
        "text": "look",
        "createdAt": "2026-03-02T14:00:00Z",
        "embed": {
            "$type": "app.bsky.embed.recordWithMedia",
            "record": {"$type": "app.bsky.embed.record", "record": {"uri": uri, "cid": "bafy"}},
            "media": {"$type": "app.bsky.embed.images", "images": []},
        },
    }
    assert read_record(record).quote_of == uri
    feed = {
        **record,
        "embed": {
            "$type": "app.bsky.embed.record",
            "record": {"uri": "at://did:plc:abc/app.bsky.feed.generator/x"},
        },
    }
    assert read_record(feed).quote_of is None  # a quoted feed is nobody's post


def test_the_pipeline_keeps_out_a_quote_of_a_nobot_post(settings: Settings) -> None:
    filters = Filters(settings)
    post = Post(
        Platform.BLUESKY,
        "at://did:plc:a/app.bsky.feed.post/1",
        "https://bsky.app/x",
        Author("did:plc:a", "ana.test"),
        "Read this #LatinasInMedicine",
        NOW,
        hashtags=frozenset({"latinasinmedicine"}),
        quote_of="at://did:plc:b/app.bsky.feed.post/2",
        quoted_author=Author("did:plc:b", "nora.test", bio="Please #NoBot"),
    )
    assert filters.verdict(post, NOW) == "quoted_opted_out"
    assert filters.verdict(replace(post, quoted_author=Author("did:plc:b", "nora.test")), NOW) is None
