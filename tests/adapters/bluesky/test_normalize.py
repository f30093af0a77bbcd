"""Bluesky records and views into Posts: the fields we read, and the broken ones we survive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.bluesky.normalize import (
    MAX_TEXT_BYTES,
    AtUri,
    bare_author,
    parse_when,
    read_record,
    to_author,
    to_post,
    view_to_post,
    viewer_repost,
)
from bot.domain import Platform
from bot.errors import MalformedPayload

DID = "did:plc:ana234567abcdefghijklmno"
URI = f"at://{DID}/app.bsky.feed.post/3lbq4abcdefgh"
WEB = "https://bsky.app"


def _tag(start: int, end: int, tag: str) -> dict[str, Any]:
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
    }


def record(text: str = "Matched! #LatinasInMedicine", **extra: Any) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-03-02T14:00:00.123Z", **extra}


def test_hashtags_come_from_tag_facets_the_tags_field_and_the_text() -> None:
    facts = read_record(
        record(
            "Café con colegas 🎉 #MédicasLatinas and #LatinasEnMedicina",
            facets=[_tag(23, 39, "MédicasLatinas")],
            tags=["WomenInMedicine"],
        )
    )
    assert facts.hashtags == {"médicaslatinas", "womeninmedicine", "latinasenmedicina"}
    assert facts.bad_facets == 0
    assert facts.created_at == datetime(2026, 3, 2, 14, 0, 0, 123000, tzinfo=UTC)


def test_a_facet_past_the_end_of_the_text_is_counted_but_its_feature_kept() -> None:
    text = "short"
    facts = read_record(record(text, facets=[_tag(2, 400, "LatinasInMedicine"), _tag(-1, 3, "x")]))
    assert facts.bad_facets == 2
    assert "latinasinmedicine" in facts.hashtags  # the author did tag it; only the range is bad


def test_lone_surrogates_from_broken_utf8_are_replaced_so_the_post_can_be_stored() -> None:
    facts = read_record(record("ok \ud800 then #LatinasInMedicine"))
    facts.text.encode("utf-8")  # would raise with a lone surrogate left in
    assert "\ufffd" in facts.text
    assert "latinasinmedicine" in facts.hashtags


def test_a_ten_kilobyte_text_is_malformed_and_says_how_long_it_is() -> None:
    with pytest.raises(MalformedPayload, match=f"10240 bytes; a Bluesky post has at most {MAX_TEXT_BYTES}"):
        read_record(record("x" * 10_240))


def test_an_unknown_embed_type_is_ignored_and_the_post_kept() -> None:
    post = to_post(
        URI,
        "bafyrei",
        record(embed={"$type": "app.bsky.embed.hologram#v9", "beam": {"colour": "teal"}}),
        bare_author(DID),
        web_base=WEB,
    )
    assert post.text == "Matched! #LatinasInMedicine"
    assert post.url == f"{WEB}/profile/{DID}/post/3lbq4abcdefgh"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"text": 12}, "text is missing"),
        ({"$type": "app.bsky.feed.like"}, "record is a app.bsky.feed.like, not a post"),
        ({"createdAt": "yesterday"}, "createdAt is not a date"),
        ({"reply": {"parent": {"cid": "x"}, "root": {"uri": URI}}}, "reply.parent.uri is missing"),
        ({"reply": "at://nope"}, "reply is not an object"),
    ],
)
def test_broken_fields_are_named(broken: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        read_record(record(**broken))


def test_a_missing_created_at_falls_back_to_the_time_the_event_was_seen() -> None:
    seen = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    rec = record()
    del rec["createdAt"]
    assert read_record(rec, fallback_time=seen).created_at == seen


def test_nanosecond_timestamps_are_read() -> None:
    assert parse_when("2026-03-02T14:00:00.123456789Z", "t") == datetime(
        2026, 3, 2, 14, 0, 0, 123456, tzinfo=UTC
    )


def test_a_reply_with_mentions_and_self_labels() -> None:
    parent = f"at://{DID}/app.bsky.feed.post/3parent"
    mention = {
        "index": {"byteStart": 0, "byteEnd": 14},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:central"}],
    }
    facts = read_record(
        record(
            "@coalesce.test boost this",
            facets=[mention],
            reply={"parent": {"uri": parent, "cid": "c1"}, "root": {"uri": parent, "cid": "c1"}},
            labels={"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "graphic-media"}]},
            langs=["es", "en"],
        )
    )
    assert facts.mentions == ("did:plc:central",)
    assert facts.reply_parent == parent
    assert facts.content_warning == "graphic-media"
    assert facts.language == "es"


def test_a_post_view_with_its_author_profile_and_viewer_state() -> None:
    view = {
        "uri": URI,
        "cid": "bafyreicid",
        "author": {
            "did": DID,
            "handle": "ana.bsky.social",
            "displayName": "Dra. Ana",
            "description": "Pediatrics #nobot",
            "labels": [{"val": "bot"}],
        },
        "record": record(),
        "indexedAt": "2026-03-02T14:00:01.000Z",
        "viewer": {"repost": "at://did:plc:central/app.bsky.feed.repost/3r"},
    }
    post = view_to_post(view, web_base=WEB)
    assert post.platform is Platform.BLUESKY
    assert post.post_id == URI
    assert post.ref == "bafyreicid"
    assert post.url == f"{WEB}/profile/ana.bsky.social/post/3lbq4abcdefgh"
    assert post.author.bio == "Pediatrics #nobot"
    assert post.author.is_bot
    assert viewer_repost(view) == "at://did:plc:central/app.bsky.feed.repost/3r"


def test_a_profile_without_a_did_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match=r"author\.did"):
        to_author({"handle": "x.test"})


def test_at_uris() -> None:
    assert str(AtUri.parse(URI)) == URI
    for bad in ("https://bsky.app/x", "at://only/two", "at:///a/b"):
        with pytest.raises(MalformedPayload):
            AtUri.parse(bad)
