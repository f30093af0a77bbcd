"""Tracking parameters leave stored links; nothing else about a link changes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from bot.links import TRACKING, safe_url, without_tracking

_name = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_value = st.text("abcXYZ0123-._~%", max_size=8)
_tracking = st.sampled_from(["utm_source", "utm_campaign", "UTM_Medium", "fbclid", "gclid"])


def test_tracking_parameters_go_and_the_rest_stays() -> None:
    url = "https://example.edu/apply?utm_source=news&id=7&fbclid=abc&gclid=x#how"
    assert without_tracking(url) == "https://example.edu/apply?id=7#how"
    assert without_tracking("https://example.edu/apply?utm_source=news") == "https://example.edu/apply"
    assert without_tracking("https://example.edu/a?b=1") == "https://example.edu/a?b=1"
    assert without_tracking("not a link [") == "not a link ["


@given(
    st.lists(st.tuples(_name, _value), max_size=5),
    st.lists(st.tuples(_tracking, _value), max_size=3),
    st.randoms(use_true_random=False),
)
def test_only_tracking_parameters_are_removed(kept: list, tracked: list, rnd) -> None:  # type: ignore[no-untyped-def]
    kept = [(k, v) for k, v in kept if not TRACKING.match(k)]
    params = [f"{k}={v}" for k, v in kept + tracked]
    rnd.shuffle(params)
    url = "https://example.org/path" + ("?" + "&".join(params) if params else "")
    cleaned = without_tracking(url)
    query = urlsplit(cleaned).query
    names = [k for k, _ in parse_qsl(query, keep_blank_values=True)]
    assert not any(TRACKING.match(k) for k in names)
    assert sorted(p for p in query.split("&") if p) == sorted(f"{k}={v}" for k, v in kept)
    assert without_tracking(cleaned) == cleaned  # idempotent


def test_a_space_of_any_kind_anywhere_keeps_a_link_from_being_one() -> None:
    """safe_url looks for spaces with a regular expression: every code point str.isspace calls a
    space (tabs, the Unicode spaces, the separators \\x1c-\\x1f) is one to it, and no other."""
    for code in range(0x110000):
        c = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates: no text carries them
        assert (safe_url(f"https://med.example/a{c}b") is None) == c.isspace(), hex(code)
