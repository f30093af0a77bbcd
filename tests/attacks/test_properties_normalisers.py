"""Properties of the three platforms' normalisers and the pipeline, over raw platform objects built
from strategies: Mastodon status JSON with HTML content, Bluesky post records with facets at
arbitrary byte offsets, Telegram messages with entities at arbitrary UTF-16 offsets.

- no crash: a raw object becomes a Post or a MalformedPayload naming the field, never anything
  else, and the pipeline takes whatever the normaliser returns;
- the community tag is found exactly when the object carries it (in the platform's own terms);
- nothing a member typed survives as a mention or a command once the account repeats it: the
  post's text, made inert for Mastodon and in a Telegram spotlight, has none by the platforms'
  rules, and its Bluesky facets name no one.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import unicodedata
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from telegram import Message

from adapters.bluesky import richtext
from adapters.bluesky.normalize import to_post as bluesky_post
from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import to_post as mastodon_post
from adapters.telegram.adapter import spotlight
from adapters.telegram.normalize import to_post as telegram_post
from adapters.telegram.render import RULES as TELEGRAM
from adapters.telegram.render import to_html
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.domain import Author, Batch, Post, normalize_tag
from bot.errors import MalformedPayload
from bot.inert import InertRules, inert
from bot.series.markup import Markup
from bot.store.store import Store
from tests.attacks.inert_hostile import (
    ALLOWED,
    hostile,
    mastodon_mentions,
    telegram_live,
)

TAG = "latinasinmedicine"
EXAMPLES = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MASTODON = (MastodonAdapter.inert_rules or InertRules()).with_tags(ALLOWED)
_IDS = itertools.count()

# How the community tag may be spelt: case, fullwidth letters, a fullwidth sign.
spellings = st.sampled_from(
    ["LatinasInMedicine", "latinasinmedicine", "LATINASINMEDICINE", "ＬａｔｉｎａｓＩｎＭｅｄｉｃｉｎｅ"]
)
other_tags = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True).filter(
    lambda t: normalize_tag(t) != TAG
)
junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.lists(st.none())
)


def _mostly(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid value nine times in ten, else junk: enough posts get through to be checked."""
    return draw(junk) if draw(st.integers(0, 9)) == 0 else draw(valid)


def _absent(text: str) -> bool:
    return TAG not in unicodedata.normalize("NFKC", text).casefold()


def _check_repeated(post: Post) -> None:
    """The post as the account would repeat it: nothing live in it on Mastodon or Telegram."""
    assert mastodon_mentions(inert(post.text, MASTODON)) == []
    card = to_html(spotlight(post), rules=TELEGRAM.with_tags(ALLOWED))
    visible = Markup("html").visible(card)
    assert telegram_live(visible.replace(post.url, " ")) == []
    rich = richtext.build(post.text, {}, keep_tags=ALLOWED)
    assert all(f["features"][0]["$type"].rpartition("#")[2] in ("tag", "link") for f in rich.facets)


def _queued_exactly_when_tagged(
    store: Store, settings: Settings, clock: FakeClock, post: Post, tagged: bool
) -> None:
    """Through the pipeline: an untagged post never reaches the queue, and a tagged one is never
    turned away for want of the tag (another filter may still say no, with its own reason)."""
    post = dataclasses.replace(post, post_id=f"{post.post_id}-{next(_IDS)}", created_at=clock.now())
    result = Pipeline(settings, store).ingest(
        post.platform, Batch(source="props", cursor=None, posts=[post]), clock.now()
    )
    assert result.stored == 1
    if tagged:
        assert "no_hashtag" not in result.skipped
    else:
        assert result.candidates == []


# -- Mastodon: status JSON with HTML content ----------------------------------------------------

html_text = st.lists(
    st.one_of(
        hostile.map(lambda t: html.escape(t, quote=False)),
        st.sampled_from(
            ["<p>", "</p>", "<br>", "<br />", "&amp;", "&#x27;", "&lt;b&gt;", "<span>", "</span>"]
        ),
        st.just('<a href="https://med.example/@victim" class="u-url mention">@<span>victim</span></a>'),
        st.just('<a href="https://med.example/tags/x" class="mention hashtag">#<span>x</span></a>'),
    ),
    max_size=10,
).map("".join)


@st.composite
def mastodon_statuses(draw: st.DrawFn) -> tuple[Any, bool]:
    with_tag = draw(st.booleans())
    tags: list[Any] = [
        {"name": t, "url": "https://med.example/tags/t"} for t in draw(st.lists(other_tags, max_size=5))
    ]
    if with_tag:
        tags.insert(draw(st.integers(0, len(tags))), {"name": draw(spellings)})
    tags += draw(st.lists(junk, max_size=2))  # entries that are not objects are skipped
    status: dict[str, Any] = {
        "id": _mostly(draw, st.integers(1, 10**12).map(str)),
        "created_at": _mostly(draw, st.just("2026-03-02T14:00:00.000Z")),
        "content": _mostly(draw, html_text),
        "url": "https://med.example/@maria/1",
        "account": _mostly(
            draw,
            st.fixed_dictionaries(
                {"id": st.just("7"), "acct": st.sampled_from(["maria", "maria@far.example"])},
                optional={"display_name": hostile, "note": html_text, "bot": st.booleans()},
            ),
        ),
        "tags": _mostly(draw, st.just(tags)),
        "mentions": draw(
            st.one_of(st.lists(st.fixed_dictionaries({"acct": st.text(max_size=10)}), max_size=3), junk)
        ),
        "in_reply_to_id": None,
        "reblog": None,
        "spoiler_text": draw(st.one_of(st.just(""), hostile)),
    }
    return status, with_tag and status["tags"] is tags


@EXAMPLES
@given(mastodon_statuses())
def test_mastodon_statuses(
    store: Store, settings: Settings, clock: FakeClock, drawn: tuple[Any, bool]
) -> None:
    status, with_tag = drawn
    try:
        post = mastodon_post(status, "med.example")
    except MalformedPayload as exc:
        event(f"malformed: {str(exc).split(' ')[0]}")
        return
    event("a post")
    assert (TAG in post.hashtags) == with_tag
    _check_repeated(post)
    _queued_exactly_when_tagged(store, settings, clock, post, with_tag)


# -- Bluesky: post records with facets at arbitrary byte offsets --------------------------------


@st.composite
def bluesky_records(draw: st.DrawFn) -> tuple[Any, bool]:
    text = draw(hostile)
    assume(_absent(text))
    where = draw(st.sampled_from(["none", "facet", "tags", "text"]))
    if where == "text":
        text = f"{text} #{draw(spellings)} {draw(hostile)}"
    size = len(text.encode("utf-8", "surrogatepass"))
    offsets = st.integers(-3, size + 3)
    facets: list[Any] = []
    for _ in range(draw(st.integers(0, 4))):
        feature = draw(
            st.one_of(
                st.fixed_dictionaries({"$type": st.just("app.bsky.richtext.facet#tag"), "tag": other_tags}),
                st.fixed_dictionaries(
                    {"$type": st.just("app.bsky.richtext.facet#mention"), "did": st.just("did:plc:victim")}
                ),
                st.fixed_dictionaries(
                    {"$type": st.just("app.bsky.richtext.facet#link"), "uri": st.just("https://evil.com")}
                ),
                junk,
            )
        )
        facets.append(
            {"index": {"byteStart": draw(offsets), "byteEnd": draw(offsets)}, "features": [feature]}
        )
    if where == "facet":  # wherever its offsets point: the tag is in the record
        tag_feature = {"$type": "app.bsky.richtext.facet#tag", "tag": draw(spellings)}
        facets.insert(
            0, {"index": {"byteStart": draw(offsets), "byteEnd": draw(offsets)}, "features": [tag_feature]}
        )
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": _mostly(draw, st.just("2026-03-02T14:00:00.123456789Z")),
        "facets": _mostly(draw, st.just(facets)),
        "tags": [draw(spellings)]
        if where == "tags"
        else draw(st.one_of(st.lists(other_tags, max_size=3), junk)),
    }
    carried = where == "text" or (where == "facet" and record["facets"] is facets)
    carried = carried or where == "tags"
    return record, carried


@EXAMPLES
@given(bluesky_records())
def test_bluesky_records(store: Store, settings: Settings, clock: FakeClock, drawn: tuple[Any, bool]) -> None:
    record, with_tag = drawn
    author = Author("did:plc:maria", "maria.test")
    uri = f"at://did:plc:maria/app.bsky.feed.post/3k{next(_IDS)}"
    try:
        post = bluesky_post(uri, "bafy", record, author, web_base="https://bsky.app")
    except MalformedPayload as exc:
        event(f"malformed: {str(exc).split(' ')[0]}")
        return
    event("a post")
    assert (TAG in post.hashtags) == with_tag
    _check_repeated(post)
    _queued_exactly_when_tagged(store, settings, clock, post, with_tag)


# -- Telegram: messages with entities at arbitrary UTF-16 offsets -------------------------------


def _units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _covered(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le", "surrogatepass")
    return data[2 * max(offset, 0) : 2 * max(offset + length, 0)].decode("utf-16-le", "replace")


@st.composite
def telegram_messages(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    text = draw(hostile)
    assume(_absent(text))
    tagged = draw(st.booleans())
    entities: list[dict[str, Any]] = []
    if tagged:  # as Telegram sends it: the tag in the text, and an entity over it
        head = f"{text} "
        spelt = f"#{draw(spellings)}"
        text = f"{head}{spelt} {draw(hostile)}"
        entities.append({"type": "hashtag", "offset": _units(head), "length": _units(spelt)})
    size = _units(text)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["hashtag", "mention", "bot_command", "url", "bold", "text_link"]))
        entity: dict[str, Any] = {
            "type": kind,
            "offset": draw(st.integers(0, size + 2)),
            "length": draw(st.integers(1, size + 2)),
        }
        if kind == "text_link":
            entity["url"] = "https://evil.com"
        entities.append(entity)
    present = any(
        e["type"] == "hashtag" and normalize_tag(_covered(text, e["offset"], e["length"])) == TAG
        for e in entities
    )
    caption = draw(st.booleans())
    message = {
        "message_id": next(_IDS) + 1,
        "date": int(datetime(2026, 3, 2, 14, tzinfo=UTC).timestamp()),
        "chat": {"id": -1001000000002, "type": "supergroup", "title": "Latinas in Medicine"},
        "from": {"id": 3001, "is_bot": False, "first_name": draw(hostile) or "M", "username": "maria_md"},
        ("caption" if caption else "text"): text,
        ("caption_entities" if caption else "entities"): entities,
    }
    return message, present


@EXAMPLES
@given(telegram_messages())
def test_telegram_messages(
    store: Store, settings: Settings, clock: FakeClock, drawn: tuple[dict[str, Any], bool]
) -> None:
    data, with_tag = drawn
    try:
        post = telegram_post(Message.de_json(data, None))
    except MalformedPayload as exc:
        event(f"malformed: {str(exc).split(' ')[0]}")
        return
    event("a post")
    assert (TAG in post.hashtags) == with_tag
    _check_repeated(post)
    _queued_exactly_when_tagged(store, settings, clock, post, with_tag)
