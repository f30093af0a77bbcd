"""The desk's promise as a property: whatever path brings a post (a tagged post, a nomination)
and whatever it quotes, a post whose author or quoted author has an opt-out marker in the
profile never becomes a candidate, and a platform signal alone never keeps a post from the
curators (it only holds back the amplification). Pure: the pipeline's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.curation.pipeline import Filters
from bot.domain import Author, Batch, Nomination, Platform, Post
from bot.trust.discovery import SIGNALS
from tests.conftest import make_settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
FILTERS = Filters(make_settings())
MARKERS = ("#nobot", "#NoBoost", "＃nobots", "#NOBOT")

bios = st.one_of(
    st.text(max_size=30).map(lambda t: t.replace("#", "").replace("＃", "")),
    st.tuples(
        st.text(max_size=15), st.sampled_from(MARKERS), st.sampled_from(["", " please", "!", " 🙏"])
    ).map(lambda t: f"{t[0]} {t[1]}{t[2]}"),
)
authors = st.builds(
    Author,
    account_id=st.text("abc123", min_size=1, max_size=6).map(lambda s: f"did:plc:{s}"),
    handle=st.just("someone.test"),
    bio=bios,
    withheld=st.frozensets(st.sampled_from(sorted(SIGNALS))),
)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    i = draw(st.integers(0, 10_000))
    return Post(
        Platform.BLUESKY,
        f"at://did:plc:x/app.bsky.feed.post/{i}",
        f"https://bsky.app/{i}",
        draw(authors),
        "A post #LatinasInMedicine",
        NOW - timedelta(minutes=draw(st.integers(0, 120))),
        hashtags=frozenset({"latinasinmedicine"}),
        quoted_author=draw(st.none() | authors),
        quote_of="at://did:plc:y/app.bsky.feed.post/1",
    )


def _marked(author: Author | None) -> bool:
    return author is not None and any(marker in author.bio for marker in MARKERS)


@settings(max_examples=200, deadline=None)
@given(
    tagged=st.lists(posts(), max_size=4),
    nominated=st.lists(st.tuples(posts(), authors), max_size=4),
)
def test_no_marked_author_or_quoted_author_reaches_the_desk(
    tagged: list[Post], nominated: list[tuple[Post, Author]]
) -> None:
    batch = Batch(
        source="search",
        cursor=None,
        posts=tagged,
        nominations=[Nomination(post=p, nominated_by=by) for p, by in nominated],
    )
    for item in FILTERS.items(batch, NOW):
        marked = _marked(item.post.author) or _marked(item.post.quoted_author)
        if marked:
            assert item.skip in ("opted_out", "quoted_opted_out")
        else:
            assert item.skip is None  # signals alone: the curators still see it
