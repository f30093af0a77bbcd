"""The reach rows on SQLite and PostgreSQL: what gets refreshed first, and what one save does."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.domain import Platform
from bot.ports import Engagement
from bot.report.store import ReachStore
from bot.store import models as m
from bot.store.store import Item, Store
from tests.factories import author, post

WINDOW = timedelta(days=14)


def test_refresh_order_is_never_asked_first_then_the_stalest(store: Store, clock: FakeClock) -> None:
    reach = ReachStore(store)
    old = post(post_id="old", age=timedelta(days=20), now=clock.now())
    a, b, c = (post(post_id=k, age=timedelta(days=1), now=clock.now()) for k in "abc")
    boost = post(post_id="boost", is_boost=True, now=clock.now())
    store.ingest(Platform.MASTODON, [Item(x) for x in (old, a, b, c, boost)], clock.now())
    assert (
        reach.save_engagement(Platform.MASTODON, {"a": Engagement(likes=1), "c": Engagement()}, clock.now())
        == 2
    )
    clock.advance(hours=1)
    reach.save_engagement(Platform.MASTODON, {"c": Engagement(likes=2)}, clock.now())
    due = reach.posts_to_refresh(Platform.MASTODON, clock.now(), WINDOW, limit=10)
    assert [p.post_id for p in due] == ["b", "a", "c"]  # not the old post, not the boost
    assert [p.post_id for p in reach.posts_to_refresh(Platform.MASTODON, clock.now(), WINDOW, 1)] == ["b"]
    assert reach.posts_to_refresh(Platform.BLUESKY, clock.now(), WINDOW, 10) == []


def test_saving_engagement_ignores_posts_we_do_not_have(store: Store, clock: FakeClock) -> None:
    reach = ReachStore(store)
    store.ingest(Platform.MASTODON, [Item(post(post_id="1"))], clock.now())
    saved = reach.save_engagement(
        Platform.MASTODON, {"1": Engagement(2, 3, 4, 5), "999": Engagement(likes=9)}, clock.now()
    )
    assert saved == 1
    with store.engine.connect() as conn:
        row = conn.execute(
            select(m.Post.likes, m.Post.reposts, m.Post.replies, m.Post.quotes, m.Post.engagement)
        ).one()
    assert tuple(row) == (2, 3, 4, 5, 14)


def test_one_follower_count_a_day_the_last_one_wins(store: Store, clock: FakeClock) -> None:
    reach = ReachStore(store)
    reach.snapshot_followers(Platform.MASTODON, 10, clock.now())
    clock.advance(hours=2)
    reach.snapshot_followers(Platform.MASTODON, 12, clock.now())
    clock.advance(days=1)
    reach.snapshot_followers(Platform.MASTODON, 15, clock.now())
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(m.FollowerSnapshot.day, m.FollowerSnapshot.followers).order_by(m.FollowerSnapshot.day)
        ).all()
    assert [n for _, n in rows] == [12, 15]
    assert all(day.hour == 0 and day.minute == 0 for day, _ in rows)


def test_follows_are_asked_again_once_stale_never_of_the_central_account(
    store: Store, clock: FakeClock
) -> None:
    reach = ReachStore(store)
    me, maria, rosa = author("coalesce@med.example"), author("maria@med.example"), author("rosa@med.example")
    store.ingest(Platform.MASTODON, [Item(post(by=x)) for x in (me, maria, rosa)], clock.now())
    reach.set_central(Platform.MASTODON, me, clock.now())
    recheck = timedelta(days=7)
    assert sorted(reach.accounts_to_check(Platform.MASTODON, clock.now(), recheck, 10)) == sorted(
        [maria.account_id, rosa.account_id]
    )
    reach.save_follows(
        Platform.MASTODON, [maria.account_id, rosa.account_id], {maria.account_id: True}, clock.now()
    )
    assert reach.accounts_to_check(Platform.MASTODON, clock.now(), recheck, 10) == []
    with store.engine.connect() as conn:
        follows = dict(conn.execute(select(m.Account.handle, m.Account.follows_central)).all())  # type: ignore[arg-type]
    assert follows == {"coalesce@med.example": None, "maria@med.example": True, "rosa@med.example": None}
    clock.advance(days=8)
    assert len(reach.accounts_to_check(Platform.MASTODON, clock.now(), recheck, 10)) == 2
