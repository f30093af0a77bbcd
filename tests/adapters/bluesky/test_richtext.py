"""Posts with facets at UTF-8 byte offsets, and threads of at most 300 graphemes."""

from __future__ import annotations

import re

import pytest

from adapters.bluesky import richtext
from bot.text import graphemes

FAMILY = "👩‍👩‍👧‍👦"  # one grapheme, seven code points, 25 bytes
FLAG = "🇲🇽"
ACCENT = "e\u0301"  # e + combining acute: one grapheme


def _spans(rich: richtext.RichText) -> list[tuple[str, str, str]]:
    """(covered text, feature type, value) for every facet, cut from the UTF-8 bytes."""
    data = rich.text.encode()
    out = []
    for facet in rich.facets:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        feature = facet["features"][0]
        value = feature.get("tag") or feature.get("uri") or feature.get("did")
        out.append((data[start:end].decode(), feature["$type"].rpartition("#")[2], value))
    return out


def test_facets_sit_at_byte_offsets_after_emoji_flags_and_accents() -> None:
    text = f"{FAMILY}{FLAG} Caf{ACCENT} talk #LatinasInMedicine see https://med.example/x and @ana.test!"
    rich = richtext.build(text, {"ana.test": "did:plc:ana"}, keep_tags=frozenset({"latinasinmedicine"}))
    assert rich.text == text
    assert _spans(rich) == [
        ("#LatinasInMedicine", "tag", "LatinasInMedicine"),
        ("https://med.example/x", "link", "https://med.example/x"),
        ("@ana.test", "mention", "did:plc:ana"),
    ]


def test_a_mention_of_an_unknown_handle_stays_plain_text() -> None:
    rich = richtext.build("thanks @nobody.example", {})
    assert rich.facets == ()


def test_only_intended_tags_and_written_links_get_facets() -> None:
    text = "Join #LatinasInMedicine not #SpamTag nor ＃Other $SPAM evil.com, see https://med.example/x"
    rich = richtext.build(text, keep_tags=frozenset({"latinasinmedicine"}))
    assert _spans(rich) == [
        ("#LatinasInMedicine", "tag", "LatinasInMedicine"),
        ("https://med.example/x", "link", "https://med.example/x"),
    ]


def test_long_links_are_shown_short_and_keep_their_address() -> None:
    url = "https://www.residency.example/programs/family-medicine/2027/application?ref=coalesce&utm=x"
    rich = richtext.build(f"Apply: {url} #MedEd", keep_tags=frozenset({"meded"}))
    assert url not in rich.text
    assert "residency.example/programs/family-medic…" in rich.text
    assert _spans(rich) == [
        ("residency.example/programs/family-medic…", "link", url),
        ("#MedEd", "tag", "MedEd"),
    ]
    assert len("x " * 120 + url) > 300
    assert richtext.fits("x " * 120 + url)  # 240 graphemes of words and a link shown in 40


def test_a_short_thread_is_one_post() -> None:
    assert richtext.thread("Hello #LatinasInMedicine") == ["Hello #LatinasInMedicine"]


@pytest.mark.parametrize("unit", [FAMILY, FLAG, f"caf{ACCENT}", "palabra"])
def test_threads_fit_in_300_graphemes_and_never_cut_a_word_link_or_hashtag(unit: str) -> None:
    url = "https://opportunities.example/fellowship/2027?track=cardiology"
    words = []
    for i in range(240):
        words.append(unit if i % 7 else f"#LatinasInMedicine{i}")
        if i % 50 == 0:
            words.append(url)
    text = " ".join(words)
    parts = richtext.thread(text)
    assert len(parts) > 2
    total = len(parts)
    for n, part in enumerate(parts, 1):
        assert len(graphemes(part)) <= 300, part
        assert part.endswith(f" {n}/{total}")
    body = " ".join(re.sub(r" \d+/\d+$", "", p) for p in parts)
    assert body.split() == text.split()  # every word whole, in order, nothing lost


def test_a_url_longer_than_a_post_still_makes_a_post() -> None:
    url = "https://example.org/" + "a" * 400
    parts = richtext.thread(f"see {url} today")
    assert any(url in p for p in parts)
    for part in parts:
        rich = richtext.build(part)
        assert len(graphemes(rich.text)) <= 300
        links = [value for _, kind, value in _spans(rich) if kind == "link"]
        assert links == ([url] if url in part else [])
