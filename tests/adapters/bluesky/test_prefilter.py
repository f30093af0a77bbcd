"""The cheap look at raw stream frames: it may say "maybe" too often, never "no" wrongly."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from adapters.bluesky.normalize import read_record
from adapters.bluesky.prefilter import (
    FrameError,
    JetstreamDecoder,
    Notice,
    Prefilter,
    StreamEvent,
    StreamRefused,
    quick_int,
    replies_to,
)
from bot.domain import normalize_tag

TAGS = ("LatinasInMedicine", "MédicasLatinas")
CENTRAL = "did:plc:centralaccount234567abcd"


def frame(text: str, *, seq: int = 7, ascii_only: bool = False, **record: Any) -> bytes:
    payload = {
        "$type": "network.bsky.jetstream.subscribeEvents#commit",
        "seq": seq,
        "did": "did:plc:someone",
        "time": "2026-03-02T14:00:00.000001Z",
        "collection": "app.bsky.feed.post",
        "rkey": "3abc",
        "operation": "create",
        "cid": "bafyrei",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": "2026-03-02T14:00:00Z",
            **record,
        },
    }
    return json.dumps({"$type": "message", "payload": payload}, ensure_ascii=ascii_only).encode()


def _spellings(rng: random.Random, tag: str) -> str:
    """The tag as people write it: any case, sometimes in full-width letters or with ß."""
    out = []
    for ch in tag:
        roll = rng.random()
        if roll < 0.4:
            ch = ch.upper()
        elif roll < 0.5 and ch.isascii() and ch.isalpha():
            ch = chr(ord(ch.lower()) - ord("a") + ord("ａ"))  # full-width
        out.append(ch)
    return "".join(out)


def test_no_frame_that_matches_is_ever_filtered_out() -> None:
    rng = random.Random(20260302)
    prefilter = Prefilter(TAGS, [CENTRAL])
    decoder = JetstreamDecoder(prefilter)
    tags = {normalize_tag(t) for t in TAGS}
    fillers = ["Grand rounds", "今日は", "Ça va 🎉", "straße", "İstanbul", "👩🏽‍⚕️ clinic", "plain"]
    checked = 0
    for i in range(3000):
        tag = rng.choice(TAGS)
        spelled = _spellings(rng, tag)
        where = rng.choice(["text", "tags", "facet", "none"])
        text = f"{rng.choice(fillers)} {'#' + spelled if where == 'text' else 'nothing here'}"
        record: dict[str, Any] = {}
        if where == "tags":
            record["tags"] = [spelled]
        if where == "facet":
            record["facets"] = [
                {
                    "index": {"byteStart": 0, "byteEnd": 1},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": spelled}],
                }
            ]
        raw = frame(text, seq=i, ascii_only=rng.random() < 0.3, **record)
        matches = bool(read_record(json.loads(raw)["payload"]["record"]).hashtags & tags)
        assert matches == (where != "none"), raw
        if matches:
            checked += 1
            assert prefilter.may_match(raw), raw
            event = decoder.decode(raw)
            assert isinstance(event, StreamEvent)
            assert event.posts, "a matching frame must be decoded, not skipped"
    assert checked > 2000


def test_frames_about_nothing_of_ours_are_skipped_with_their_sequence_number() -> None:
    decoder = JetstreamDecoder(Prefilter(TAGS, [CENTRAL]))
    event = decoder.decode(frame("Lunch at the clinic 🥗", seq=991))
    assert isinstance(event, StreamEvent)
    assert (event.seq, event.posts, event.raw is not None) == (991, (), True)
    assert event.time() is not None


def test_a_mention_of_the_central_account_is_looked_at() -> None:
    mention = {
        "index": {"byteStart": 0, "byteEnd": 5},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": CENTRAL}],
    }
    raw = frame("@coal boost this", facets=[mention])
    assert Prefilter(TAGS, [CENTRAL]).may_match(raw)
    assert not Prefilter(TAGS, []).may_match(raw)


def reply(parent: str, root: str | None = None) -> dict[str, Any]:
    ref = {"uri": parent, "cid": "bafyreiparent"}
    return {"parent": ref, "root": {"uri": root, "cid": "bafyreiroot"} if root else ref}


def test_an_untagged_reply_to_one_of_our_posts_is_looked_at_and_matched() -> None:
    """A chat's answer may be a bare reply to the question: no tag, no mention, only our DID in
    its reply URIs (the parent's, or the thread's root when it answers an answer)."""
    decoder = JetstreamDecoder(Prefilter(TAGS, [CENTRAL]))
    ours, theirs = f"at://{CENTRAL}/app.bsky.feed.post/3q1", "at://did:plc:someoneelse/app.bsky.feed.post/3x"
    for parent, root in [(ours, None), (ours, ours), (theirs, ours), (ours, theirs)]:
        event = decoder.decode(frame("One who listened.", reply=reply(parent, root)))
        assert isinstance(event, StreamEvent)
        (post,) = event.posts
        facts = read_record(post.record)
        assert (facts.hashtags, facts.mentions) == (frozenset(), ())
        assert replies_to(CENTRAL, facts.reply_parent, facts.reply_root)
    assert not replies_to(None, ours)
    assert not replies_to(CENTRAL, None, None)


OTHER_DIDS = st.one_of(
    st.from_regex(r"did:plc:[a-z2-7]{1,32}", fullmatch=True),
    st.from_regex(r"did:web:[a-z0-9.-]{1,40}", fullmatch=True),
    # near misses: ours with something after it, ours cut short, ours inside another
    st.sampled_from([CENTRAL + "x", CENTRAL[:-1], "did:web:" + CENTRAL[8:], CENTRAL.upper()]),
    st.builds(lambda a, b: f"did:plc:{a}{CENTRAL[8:]}{b}", st.from_regex(r"[a-z2-7]{0,4}", fullmatch=True),
              st.from_regex(r"[a-z2-7]{1,4}", fullmatch=True)),
).filter(lambda d: d != CENTRAL)  # fmt: skip
RKEYS = st.one_of(st.from_regex(r"[a-z2-7]{1,13}", fullmatch=True), st.just(f"x{CENTRAL}"))


@given(
    parent_did=OTHER_DIDS, root_did=OTHER_DIDS, rkey=RKEYS, text=st.sampled_from(["Same here!", "今日は 🎉"])
)
@example(parent_did=CENTRAL + "x", root_did=CENTRAL + "x", rkey="3q1", text="Same here!")
def test_a_reply_to_anyone_else_never_passes_for_being_a_reply(
    parent_did: str, root_did: str, rkey: str, text: str
) -> None:
    """Replies between strangers fill the stream: one to any other DID is skipped by the
    prefilter unless our DID's last part happens to sit in its bytes, and even then the exact
    match says no."""
    decoder = JetstreamDecoder(Prefilter(TAGS, [CENTRAL]))
    parent, root = (f"at://{d}/app.bsky.feed.post/{rkey}" for d in (parent_did, root_did))
    event = decoder.decode(frame(text, reply=reply(parent, root)))
    assert isinstance(event, StreamEvent)
    needle = CENTRAL.rpartition(":")[2]
    if needle not in (parent + root).lower():
        assert event.posts == ()  # not even decoded
    for post in event.posts:
        facts = read_record(post.record)
        assert facts.reply_parent == parent
        assert not replies_to(CENTRAL, facts.reply_parent, facts.reply_root)


def test_a_record_with_its_own_seq_key_is_decoded_rather_than_trusted() -> None:
    raw = frame("hello", seq=5, seq_hint=1)  # key "seq_hint" is not "seq"
    assert quick_int(raw) == 5
    tricky = frame("hello", seq=5, extra={"seq": 999999})
    assert quick_int(tricky) is None
    event = JetstreamDecoder(Prefilter(TAGS)).decode(tricky)
    assert isinstance(event, StreamEvent)
    assert event.seq == 5
    # The record before the envelope's seq, with a seq of its own: still the envelope's.
    payload = json.loads(tricky)["payload"]
    reordered = {"record": payload.pop("record"), **payload}
    raw = json.dumps({"$type": "message", "payload": reordered}).encode()
    assert raw.find(b'"seq":') < raw.find(b'"seq": 5')
    event = JetstreamDecoder(Prefilter(TAGS)).decode(raw)
    assert isinstance(event, StreamEvent)
    assert event.seq == 5


def test_error_info_and_broken_frames() -> None:
    decoder = JetstreamDecoder(Prefilter(TAGS))
    with pytest.raises(StreamRefused, match="ConsumerTooSlow"):
        decoder.decode(b'{"$type":"error","error":"ConsumerTooSlow","message":"slow"}')
    notice = decoder.decode(
        b'{"$type":"message","payload":{"$type":"network.bsky.jetstream.subscribeEvents#info",'
        b'"name":"OutdatedCursor","message":"clamped"}}'
    )
    assert notice == Notice("OutdatedCursor", "clamped")
    # Cut short: skipped by its seq when it cannot concern us, reported when it might.
    skipped = decoder.decode(b'{"$type":"message","payload":{"seq":11, "did": "x"')
    assert isinstance(skipped, StreamEvent)
    assert skipped.seq == 11
    with pytest.raises(FrameError) as broken:
        decoder.decode(b'{"$type":"message","payload":{"seq":12, "record": {"text": "#LatinasInMedicine')
    assert broken.value.seq == 12
    with pytest.raises(FrameError, match="seq is missing"):
        decoder.decode(b'{"$type":"message","payload":{"$type":"x#commit","seq":"12"}}')
    with pytest.raises(FrameError, match="unknown frame type"):
        decoder.decode(b'{"$type":"hello"}')


def test_deletes_and_other_collections_move_the_cursor_only() -> None:
    decoder = JetstreamDecoder(Prefilter(TAGS))
    deleted = json.loads(frame("#LatinasInMedicine"))
    deleted["payload"]["operation"] = "delete"
    del deleted["payload"]["record"]
    event = decoder.decode(json.dumps(deleted).encode())
    assert isinstance(event, StreamEvent)
    assert (event.seq, event.posts) == (7, ())


def test_bytes_from_a_firehose_block() -> None:
    prefilter = Prefilter(TAGS)
    assert prefilter.may_match(b"\xa2dtextx\x13hi #LATINASinmedicine")
    assert prefilter.may_match("\x00\x81 #MÉDICASLATINAS".encode())
    assert prefilter.may_match("\x00 #ｌａｔｉｎａｓＩｎＭｅｄｉｃｉｎｅ 🆗".encode())
    assert not prefilter.may_match(b"\x00\x81 nothing to see")
    assert prefilter.may_match_text("Straße #LATINASINMEDICINE")
