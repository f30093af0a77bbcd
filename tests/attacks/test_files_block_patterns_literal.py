"""What curators type into a block matches literally, on SQLite and PostgreSQL: ``%`` and ``_`` in
a blocked domain or keyword are those characters, never LIKE wildcards (a domain block of
``%.%`` used to block every account on every server). A new domain block that looks like a
pattern (``*``, ``?``, ``%``) is refused with a word, instead of silently matching nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from bot.curation.pipeline import Pipeline
from bot.domain import Author, Batch, Platform, Post
from bot.errors import QueueError
from bot.store import models as m
from bot.store.store import Store
from bot.trust.safety import Blocklist
from tests.conftest import make_settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TAG = "LatinasInMedicine"
_slugs = itertools.count()

# The characters LIKE treats specially (and the escape characters SQLAlchemy and we use), with a
# few plain ones so that some generated names are equal and some differ by one of them.
LABEL = st.text(alphabet="ab_\\/%-", min_size=1, max_size=4)
DOMAIN = st.builds(
    lambda a, b: f"{a}.{b}", LABEL.filter(lambda s: "/" not in s), LABEL.filter(lambda s: "/" not in s)
)
WORD = st.text(alphabet="ab_%\\/ ", min_size=1, max_size=5).filter(lambda s: s.strip())


def _world(engine: Engine, handles: list[str], texts: list[str]) -> tuple[Store, Blocklist]:
    """A fresh community (one per example) where each handle posted each text once."""
    slug = f"c{next(_slugs)}"
    cfg = make_settings(community={"slug": slug, "name": slug, "hashtags": [TAG]})
    store = Store.open(engine, slug, slug, NOW)
    posts = [
        Post(
            Platform.MASTODON,
            f"{i}-{j}",
            f"https://x.example/{i}-{j}",
            Author(f"acct{i}", handle),
            f"{text} #{TAG}",
            NOW,
            frozenset({TAG.casefold()}),
        )
        for i, handle in enumerate(handles)
        for j, text in enumerate(texts)
    ]
    Pipeline(cfg, store).ingest(Platform.MASTODON, Batch("hashtag", "1", posts), NOW)
    return store, Blocklist(store, cfg)


def _blocked(engine: Engine, store: Store) -> set[str]:
    a = m.Account
    with engine.connect() as conn:
        rows = conn.execute(select(a.handle).where(a.community_id == store.community_id, a.blocked.is_(True)))
        return {r.handle for r in rows}


def _withdrawn(engine: Engine, store: Store) -> set[str]:
    """The texts (before the hashtag) of candidates a block took out of the queue."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Post.platform_post_id)
            .join(m.Candidate, m.Candidate.post_id == m.Post.id)
            .where(m.Candidate.community_id == store.community_id, m.Candidate.state == "withdrawn")
        )
        return {r.platform_post_id for r in rows}


@st.composite
def servers(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A domain to block, and servers that a wildcard reading of it would also match: each
    ``_`` or ``\\`` swapped for another character, each ``%`` for any text, plus strangers."""
    target = draw(DOMAIN)
    near = {target}
    for _ in range(draw(st.integers(1, 4))):
        swapped = "".join(
            (draw(st.sampled_from(["a", "b", "", "ab", "_"])) if c == "%" else draw(st.sampled_from("ab_\\")))
            if c in "_%\\" and draw(st.booleans())
            else c
            for c in target
        )
        near.add(swapped)
    near.update(draw(st.lists(DOMAIN, max_size=3)))
    return target, sorted(near)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=servers())
def test_a_domain_block_matches_exactly_that_server(engine: Engine, world: tuple[str, list[str]]) -> None:
    target, domains = world
    handles = [f"u{i}@{d}" for i, d in enumerate(domains)]
    store, blocklist = _world(engine, handles, ["hello"])
    if any(c in target for c in "*?%"):
        with pytest.raises(QueueError, match="patterns are not supported"):
            blocklist.add("domain", target, "ana", NOW)
        assert _blocked(engine, store) == set()
        return
    blocklist.add("domain", target, "ana", NOW)
    expected = {h for h in handles if h.rpartition("@")[2] == target.casefold()}
    assert _blocked(engine, store) == expected
    assert _withdrawn(engine, store) == {f"{handles.index(h)}-0" for h in expected}
    # And the pipeline's own filter agrees on new posts from each of them.
    blocklist_filters = Pipeline(make_settings(), store).filters
    blocklist_filters.use_runtime_blocks(blocklist.runtime())
    for h in handles:
        post = Post(
            Platform.MASTODON, "n", "https://x/n", Author("z", h), f"hi #{TAG}", NOW, frozenset({"x"})
        )
        assert blocklist_filters.is_blocked(post) == (h in expected), h


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(WORD, min_size=1, max_size=5, unique=True), keyword=WORD)
def test_a_keyword_block_matches_the_words_literally(engine: Engine, texts: list[str], keyword: str) -> None:
    store, blocklist = _world(engine, ["maria@med.example"], texts)
    blocklist.add("keyword", keyword, "ana", NOW)
    wanted = " ".join(keyword.split()).casefold()
    expected = {f"0-{j}" for j, t in enumerate(texts) if wanted in f"{t} #{TAG}".casefold()}
    assert _withdrawn(engine, store) == expected


def test_the_example_from_the_issue(engine: Engine) -> None:
    handles = ["maria@med.example", "rosa@hospital.org", "ines@med_example.org", "bea@medxexample.org"]
    store, blocklist = _world(engine, handles, ["hello"])
    with pytest.raises(QueueError, match="patterns are not supported"):
        blocklist.add("domain", "%.%", "ana", NOW)
    with pytest.raises(QueueError, match="patterns are not supported"):
        blocklist.add("domain", "*.example", "ana", NOW)
    assert _blocked(engine, store) == set()
    blocklist.add("domain", "med_example.org", "ana", NOW)  # "_" is not "any character"
    assert _blocked(engine, store) == {"ines@med_example.org"}
