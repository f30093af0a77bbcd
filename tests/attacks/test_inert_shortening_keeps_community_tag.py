"""Shortening never drops the community hashtag: a post stuffed with hundreds of tags keeps the
community's (and the opportunity tag, and an opt-out marker) when its tag list is cut, so it stays
in the queue — it used to keep the first 200 in alphabetical order and leave the queue.

Through Mastodon.py and the Mastodon sandbox into the real store, and as a property of the
pipeline for any tag list.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.domain import Batch, Platform
from bot.sanitize import MAX_TAGS, clean_post
from bot.store import models as m
from bot.store.store import Store
from sandbox.mastodon import MastodonSandbox
from tests.factories import author, post
from tests.mastodon_adapter import sandbox_adapter

_IDS = itertools.count()
STUFFING = [f"aa{i:03d}" for i in range(500)]  # all sort before "latinasinmedicine"


@pytest.fixture
def mastodon(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def app(
    engine: Engine, mastodon: MastodonSandbox, clock: FakeClock, settings: Settings
) -> AsyncIterator[Coalesce]:
    adapter = sandbox_adapter(mastodon.base_url, mastodon.token, clock)
    built = Coalesce(settings, engine=engine, adapters={Platform.MASTODON: adapter}, clock=clock)
    await built.start()
    yield built
    for task in list(built._tasks):
        task.cancel()


def _pending(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(m.Candidate.id, m.Candidate.state)))


async def test_a_post_with_500_hashtags_stays_in_the_queue(
    app: Coalesce, mastodon: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = mastodon.add_account("maria")
    text = "Matched! " + " ".join(f"#{t}" for t in STUFFING) + " #LatinasInMedicine"
    status = mastodon.post(maria, text, created_at=clock.now() - timedelta(minutes=1))
    assert len(mastodon.status(status)["tags"]) == 501  # type: ignore[index]
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].stored == 1
    assert [state for _, state in _pending(engine)] == ["pending"]
    with engine.connect() as conn:
        stored = conn.execute(select(m.Post.hashtags)).scalar_one()
    tags = stored.split()
    assert "latinasinmedicine" in tags
    assert len(tags) == MAX_TAGS


def test_the_tags_that_decide_survive_the_cut() -> None:
    tags = frozenset([*STUFFING, "latinasinmedicine", "opportunity", "nobot"])
    cleaned = clean_post(post(tags=tuple(tags)))
    assert "latinasinmedicine" not in cleaned.hashtags  # nothing to keep: the plain cut, for contrast
    kept = frozenset({"latinasinmedicine", "opportunity", "nobot"})
    cleaned = clean_post(post(tags=tuple(tags)), kept)
    assert kept <= cleaned.hashtags
    assert len(cleaned.hashtags) == MAX_TAGS


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    others=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True), min_size=0, max_size=600),
    with_tag=st.booleans(),
)
def test_any_tag_list_reaches_the_queue_exactly_when_it_holds_the_community_tag(
    store: Store, settings: Settings, clock: FakeClock, others: list[str], with_tag: bool
) -> None:
    tags = [t for t in others if t != "latinasinmedicine"] + (["LatinasInMedicine"] if with_tag else [])
    item = post(post_id=f"p{next(_IDS)}", tags=tuple(tags), by=author("maria@med.example"), now=clock.now())
    pipeline = Pipeline(settings, store)
    result = pipeline.ingest(Platform.MASTODON, Batch(source="tag", cursor=None, posts=[item]), clock.now())
    assert result.stored == 1
    assert bool(result.candidates) == with_tag
