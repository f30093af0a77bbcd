"""``curation.skip_bots: true`` keeps posts by bots and automated accounts (and posts sent through
a bot) out of the queue on every platform, nominated or not; the people's posts still come in,
and each skipped post says why. Off by default: then they are queued with a flag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.curation.pipeline import Filters
from bot.domain import Author, Platform, Post
from bot.store import models as m
from tests.attacks.bots_world import AUTOMATED, HUMAN, TAG, running
from tests.conftest import make_settings

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


def _posts(engine: Engine) -> dict[str, tuple[str | None, bool]]:
    """Each stored post's text (before the hashtag): its skip reason, and whether it was queued."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Post.text, m.Post.skip_reason, m.Candidate.id).outerjoin(
                m.Candidate, m.Candidate.post_id == m.Post.id
            )
        )
        return {r.text.split(" #")[0]: (r.skip_reason, r.id is not None) for r in rows}


async def test_skip_bots_keeps_automated_posts_out_on_every_platform(
    engine: Engine, clock: FakeClock
) -> None:
    settings = make_settings(curation={"skip_bots": True})
    async with running(settings, engine, clock) as (_, app):
        report = await app.run_once()
    assert not report.errors
    posts = _posts(engine)
    for text in AUTOMATED.values():
        assert posts[text] == ("bot", False), text
    for text in HUMAN.values():
        assert posts[text] == (None, True), text
    assert sum(r.skipped.get("bot", 0) for r in report.ingested.values()) == len(AUTOMATED)


def test_skip_bots_is_off_by_default_and_covers_nominations() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    bot = Author("b1", "tipsbot@med.example", is_bot=True)
    person = Author("p1", "maria@med.example")
    tagged = {"latinasinmedicine"}
    by_bot = Post(Platform.MASTODON, "1", "https://x/1", bot, f"tips #{TAG}", now, frozenset(tagged))
    via_bot = Post(
        Platform.TELEGRAM,
        "2",
        "https://x/2",
        person,
        f"poll #{TAG}",
        now,
        frozenset(tagged),
        automated="via @p",
    )
    by_person = Post(Platform.MASTODON, "3", "https://x/3", person, f"news #{TAG}", now, frozenset(tagged))

    default = Filters(make_settings())
    assert default.verdict(by_bot, now) is None
    assert default.verdict(via_bot, now) is None

    skipping = Filters(make_settings(curation={"skip_bots": True}))
    for post in (by_bot, via_bot):
        assert skipping.verdict(post, now) == "bot"
        assert skipping.verdict(post, now, nominated=True) == "bot"
    assert skipping.verdict(by_person, now) is None
    assert skipping.verdict(by_person, now, nominated=True) is None
