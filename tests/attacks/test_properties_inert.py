"""Property: whatever a stranger types, the inert step leaves nothing live in it on any platform —
no mention, no hashtag but the community's, no command, cashtag or bare link — reads exactly as
written once its word joiners are set aside, and changes nothing when applied twice.

Checked against independent readings of Mastodon's and Telegram's parsers (``inert_hostile``), the
Telegram sandbox's entity detection, and the facets the Bluesky adapter would write.
"""

from __future__ import annotations

import html

import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.bluesky import richtext
from adapters.mastodon.adapter import MastodonAdapter
from adapters.telegram.render import RULES as TELEGRAM
from bot.domain import normalize_tag
from bot.inert import WORD_JOINER, InertRules, inert, inert_html
from sandbox.telegram import detect_entities
from tests.attacks.inert_hostile import (
    ALLOWED,
    hostile,
    mastodon_mentions,
    mastodon_tags,
    telegram_live,
    telegram_tags,
)

EXAMPLES = settings(max_examples=200, deadline=None)
MASTODON = (MastodonAdapter.inert_rules or InertRules()).with_tags(ALLOWED)
TELEGRAM_KEEP = TELEGRAM.with_tags(ALLOWED)
TITLE = "Fellowship @victim@med.example @victim.test #SpamTag"


def _as_written(text: str) -> str:
    return text.replace(WORD_JOINER, "")


@EXAMPLES
@given(hostile)
@example(TITLE)
@example("https://med.example/\u2060@victim #LatinasInMedicine")
def test_nothing_stays_live_for_mastodon(text: str) -> None:
    out = inert(text, MASTODON)
    assert mastodon_mentions(out) == []
    assert {normalize_tag(t) for t in mastodon_tags(out)} <= ALLOWED
    assert _as_written(out) == _as_written(text)
    assert inert(out, MASTODON) == out


@EXAMPLES
@given(hostile)
@example(TITLE + " /start evil.com $SPAM tg://resolve?domain=victim")
def test_nothing_stays_live_for_telegram(text: str) -> None:
    out = inert(text, TELEGRAM_KEEP)
    assert telegram_live(out) == []
    assert {normalize_tag(t) for t in telegram_tags(out)} <= ALLOWED
    found = detect_entities(out)
    assert not {e["type"] for e in found} & {"mention", "bot_command", "cashtag"}
    units = out.encode("utf-16-le")
    for entity in found:
        piece = units[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")
        if entity["type"] == "url":
            assert piece.lower().startswith(("http://", "https://")), piece  # a link the member wrote
        if entity["type"] == "hashtag":
            assert normalize_tag(piece) in ALLOWED
    assert _as_written(out) == _as_written(text)
    assert inert(out, TELEGRAM_KEEP) == out


OUR_LINK = '<a href="https://grants.example/@x#y">grants.example/@x</a>'
html_pieces = st.lists(
    st.one_of(
        hostile.map(lambda t: html.escape(t, quote=False)),
        st.sampled_from(
            ["<b>", "</b>", "<i>", "</i>", OUR_LINK, "&#64;", "&#35;", "&amp;", "@", "#", "/", "$"]
        ),
    ),
    max_size=12,
).map("".join)


@EXAMPLES
@given(html_pieces)
@example("@<b>victim</b> /<i>start</i> &#64;bob evil.<b>com</b>")
def test_html_is_read_as_the_platform_reads_it(markup: str) -> None:
    """Telegram finds mentions in the text it shows, across tags and after entities are decoded:
    so is the text made inert, while tags and our own link stay as they are."""
    out = inert_html(markup, TELEGRAM_KEEP)
    assert regex.findall(r"<[^>]*>", out) == regex.findall(r"<[^>]*>", markup)
    assert out.count(OUR_LINK) == markup.count(OUR_LINK)
    visible = html.unescape(regex.sub(r"<[^>]*>", "", out.replace(OUR_LINK, " ")))
    assert telegram_live(visible) == []
    assert {normalize_tag(t) for t in telegram_tags(visible)} <= ALLOWED
    assert inert_html(out, TELEGRAM_KEEP) == out


@EXAMPLES
@given(hostile)
@example(TITLE + " ＃Other $SPAM evil.com https://med.example/x")
def test_bluesky_facets_only_for_what_the_account_means(text: str) -> None:
    rich = richtext.build(text, {}, keep_tags=ALLOWED)
    data = rich.text.encode()
    for facet in rich.facets:
        feature = facet["features"][0]
        piece = data[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode()
        assert feature["$type"] != "app.bsky.richtext.facet#mention"
        if feature["$type"] == "app.bsky.richtext.facet#tag":
            assert normalize_tag(feature["tag"]) in ALLOWED
        if feature["$type"] == "app.bsky.richtext.facet#link":
            assert feature["uri"].startswith(("http://", "https://"))
            assert not piece.startswith(("evil", "www"))  # written out with its scheme, or shortened


def test_the_example_from_the_issue_reads_as_written_and_links_no_one() -> None:
    out = inert(TITLE + " #LatinasInMedicine", MASTODON)
    assert out == (
        "Fellowship @\u2060victim@med.example @\u2060victim.test #\u2060SpamTag #LatinasInMedicine"
    )


@EXAMPLES
@given(hostile, hostile)
def test_a_link_the_member_wrote_survives_whole(before: str, after: str) -> None:
    link = "https://Grants.example/apply/@team/Ks?x=1#section"
    for rules in (MASTODON, TELEGRAM_KEEP):
        out = inert(f"{before} {link} {after}", rules)
        assert f" {link} " in out
