"""Every filter, with the reason it records; hashtags matched after NFKC and case folding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.pipeline import Filters, Pipeline, hashtags_in
from bot.domain import Author, Batch, Nomination, Platform
from bot.store.store import Store
from tests.factories import author, post


def test_hashtags_in_text_are_normalised() -> None:
    # fullwidth letters and a fullwidth '#' fold to the same tag under NFKC
    assert hashtags_in("Proud day! ＃ＬａｔｉｎａｓＩｎＭｅｄｉｃｉｎｅ") == {"latinasinmedicine"}
    assert hashtags_in("#LATINASinMedicine and #MedTwitter") == {"latinasinmedicine", "medtwitter"}
    assert hashtags_in("see https://x.example/#anchor") == set()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"is_boost": True}, "boost"),
        ({"is_reply": True}, "reply"),
        ({"age": timedelta(hours=100)}, "too_old"),
        ({"tags": ("SomethingElse",)}, "no_hashtag"),
        ({"by": author("quiet@med.example", bio="Pediatrician. #NoBot please")}, "opted_out"),
        ({"by": author("x@med.example", bio="#nobots")}, "opted_out"),
        ({"by": author("troll@bad.example")}, "blocked"),
        ({"by": author("someone@spam.example")}, "blocked"),
        ({"text": "buy followers now #LatinasInMedicine"}, "blocked"),
        ({}, None),
    ],
)
def test_each_filter_names_its_reason(
    kwargs: dict[str, object], reason: str | None, settings_factory: Callable[..., Settings], clock: FakeClock
) -> None:
    settings = settings_factory(
        blocklist={
            "accounts": ["@troll@bad.example"],
            "domains": ["spam.example"],
            "keywords": ["buy followers"],
        }
    )
    assert Filters(settings).verdict(post(**kwargs), clock.now()) == reason  # type: ignore[arg-type]


def test_tag_match_ignores_case_and_compatibility_forms(settings: Settings, clock: FakeClock) -> None:
    assert Filters(settings).verdict(post(tags=("ＬＡＴＩＮＡＳＥＮＭＥＤＩＣＩＮＡ",)), clock.now()) is None


def test_replies_can_be_included(settings_factory: Callable[..., Settings], clock: FakeClock) -> None:
    settings = settings_factory(curation={"include_replies": True})
    assert Filters(settings).verdict(post(is_reply=True), clock.now()) is None


def test_nominations_skip_hashtag_reply_and_age_but_not_consent(settings: Settings, clock: FakeClock) -> None:
    filters = Filters(settings)
    old_reply = post(tags=(), is_reply=True, age=timedelta(days=30))
    assert filters.verdict(old_reply, clock.now(), nominated=True) is None
    shy = post(by=author("shy@med.example", bio="#noboost"))
    assert filters.verdict(shy, clock.now(), nominated=True) == "opted_out"


def test_pipeline_counts_what_happened(settings: Settings, store: Store, clock: FakeClock) -> None:
    nominator = Author(account_id="9", handle="rosa@med.example")
    batch = Batch(
        source="hashtag",
        cursor="99",
        posts=[post(), post(is_reply=True), post(is_boost=True)],
        nominations=[Nomination(post=post(tags=()), nominated_by=nominator)],
        malformed=1,
    )
    result = Pipeline(settings, store).ingest(Platform.MASTODON, batch, clock.now())
    assert len(result.candidates) == 2  # the plain post and the nominated one
    assert result.skipped == {"reply": 1, "boost": 1, "malformed": 1}
    assert store.cursors(Platform.MASTODON) == {"hashtag": "99"}


def test_opt_in_communities_queue_only_members_who_opted_in(
    settings_factory: Callable[..., Settings], engine: object, clock: FakeClock
) -> None:
    settings = settings_factory(
        community={"slug": "optin", "name": "Opt-in", "hashtags": ["X"], "consent": "opt-in"}
    )
    store = Store.open(engine, "optin", "Opt-in community", clock.now())  # type: ignore[arg-type]
    member = author("yes@med.example")
    pipeline = Pipeline(settings, store)
    first = pipeline.ingest(
        Platform.MASTODON, Batch("hashtag", "1", posts=[post(by=member, tags=("x",))]), clock.now()
    )
    assert first.skipped == {"not_opted_in": 1}
    store.set_account_flags(Platform.MASTODON, member.account_id, consent="in", source="command")
    second = pipeline.ingest(
        Platform.MASTODON, Batch("hashtag", "2", posts=[post(by=member, tags=("x",))]), clock.now()
    )
    assert len(second.candidates) == 1
