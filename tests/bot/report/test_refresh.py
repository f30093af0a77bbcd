"""Refreshing the reach numbers from the platforms: the real Mastodon.py against the loopback
sandbox, the store on SQLite and PostgreSQL; a platform without those answers is skipped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Action, Author, Batch, Platform, Post, Receipt, TextLimits
from bot.ports import PlatformAdapter
from bot.report.compute import build_report
from bot.report.refresh import ReachService, Refresher
from bot.store import models as m
from bot.store.store import Item
from sandbox.mastodon import MastodonSandbox
from tests.adapters.test_mastodon import make_adapter
from tests.conftest import make_settings

TAG = "LatinasInMedicine"
TITLE = "Latinas in Medicine members"


class NoReach(PlatformAdapter):
    """A platform that answers none of the reach questions (the contract's defaults)."""

    platform = Platform.TELEGRAM
    limits = TextLimits(max_length=4096, counting="utf16")

    async def watch(
        self, tags: Sequence[str], cursors: Mapping[str, str | None], *, follow: bool
    ) -> AsyncIterator[Batch]:
        return
        yield  # an async generator that yields nothing

    async def resolve(self, url_or_ref: str) -> Post:
        raise NotImplementedError

    async def amplify(self, post: Post, action: Action) -> Receipt:
        raise NotImplementedError

    async def undo(self, receipt: Receipt) -> None:
        raise NotImplementedError

    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        raise NotImplementedError


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
def reach_settings() -> Settings:
    return make_settings(directory__list_sync=True)


@pytest.fixture
async def app(
    engine: Engine, sandbox: MastodonSandbox, clock: FakeClock, reach_settings: Settings
) -> AsyncIterator[Coalesce]:
    maria = sandbox.add_account("maria", display_name="Dra. María")
    bea = sandbox.add_account("bea", "remote.example")
    carla = sandbox.add_account("carla", locked=True)
    first = sandbox.post(maria, f"Matched! #{TAG}", favourites_count=4)
    sandbox.post(bea, "Congratulations!", in_reply_to=first)
    sandbox.post(bea, reblog_of=first)
    sandbox.post(carla, f"Grand rounds today #{TAG}")
    sandbox.post(sandbox.central, f"Welcome to our new members #{TAG}")
    sandbox.set_relationship(maria, followed_by=True)
    sandbox.set_followers_count(42)
    adapter = make_adapter(sandbox, clock)
    application = Coalesce(
        reach_settings, engine=engine, adapters={Platform.MASTODON: adapter}, clock=clock, dry_run=True
    )
    await application.start()
    await application.run_once()
    yield application
    await application.stop()


def _engagement(engine: Engine) -> dict[str, tuple[int, int, int, int]]:
    p = m.Post
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.text, p.likes, p.reposts, p.replies, p.quotes).where(p.engagement_at.is_not(None))
        ).all()
    return {
        text.split()[0]: (likes, reposts, replies, quotes) for text, likes, reposts, replies, quotes in rows
    }


def _follows(engine: Engine) -> dict[str, bool | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(m.Account.handle, m.Account.follows_central)).all()
        return dict(rows)  # type: ignore[arg-type]


async def test_a_round_fetches_engagement_followers_and_follows(
    app: Coalesce, engine: Engine, clock: FakeClock, reach_settings: Settings
) -> None:
    results = await Refresher(app.store, app.adapters, reach_settings, clock).run_once()
    done = results[Platform.MASTODON]
    assert (done.engagement, done.followers, done.follows_checked, done.error) == (3, 42, 2, None)
    # Maria's post: 4 favourites, Bea's boost and Bea's reply; Mastodon 4.3 has no quotes yet.
    assert _engagement(engine) == {"Matched!": (4, 1, 1, 0), "Grand": (0, 0, 0, 0), "Welcome": (0, 0, 0, 0)}
    assert _follows(engine) == {
        "maria@med.example": True,
        "carla@med.example": False,
        "coalesce@med.example": None,  # the central account is not asked about itself
    }
    with engine.connect() as conn:
        snapshot = conn.execute(select(m.FollowerSnapshot.day, m.FollowerSnapshot.followers)).one()
    assert snapshot == (clock.now().replace(hour=0, minute=0), 42)
    report = build_report(
        app.store, reach_settings, clock.now() - timedelta(days=1), clock.now() + timedelta(1)
    )
    assert (report.total.posts, report.total.central_posts, report.total.authors) == (3, 1, 2)
    assert (report.follows_known, report.follows_central) == (2, 1)


async def test_the_members_list_holds_exactly_who_consented(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, reach_settings: Settings
) -> None:
    app.store.set_account_flags(Platform.MASTODON, _id(sandbox, "maria"), consent="in", source="command")
    app.store.set_account_flags(Platform.MASTODON, _id(sandbox, "carla"), consent="in", source="command")
    refresher = Refresher(app.store, app.adapters, reach_settings, clock)
    first = (await refresher.run_once())[Platform.MASTODON].list_sync
    assert first is not None
    assert sandbox.list_members(TITLE) == ["maria"]
    # Carla's account is locked: the follow request waits for her, and so does her place.
    assert (first.added, first.removed, first.pending) == (1, 0, (_id(sandbox, "carla"),))
    app.store.set_account_flags(Platform.MASTODON, _id(sandbox, "maria"), consent="out", source="command")
    clock.advance(hours=1)
    second = (await refresher.run_once())[Platform.MASTODON].list_sync
    assert second is not None
    assert second.list_ref == first.list_ref  # the same list, found again by its title
    assert (second.added, second.removed) == (0, 1)
    assert sandbox.list_members(TITLE) == []
    follows = [path for method, path in sandbox.requests if method == "POST" and path.endswith("/follow")]
    assert len(follows) == 2  # Maria and Carla once each: a waiting request is not sent again


async def test_a_dry_run_reads_numbers_but_changes_no_list(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, reach_settings: Settings
) -> None:
    app.store.set_account_flags(Platform.MASTODON, _id(sandbox, "maria"), consent="in", source="command")
    done = (await Refresher(app.store, app.adapters, reach_settings, clock, dry_run=True).run_once())[
        Platform.MASTODON
    ]
    assert (done.engagement, done.list_sync) == (3, None)
    assert sandbox.list_members(TITLE) is None
    assert not [path for method, path in sandbox.requests if method == "POST"]


async def test_a_rate_limit_stops_the_platform_until_the_next_round(
    app: Coalesce, sandbox: MastodonSandbox, engine: Engine, clock: FakeClock, reach_settings: Settings
) -> None:
    sandbox.throttle_next(r"^/api/v1/statuses/?$")
    refresher = Refresher(app.store, app.adapters, reach_settings, clock)
    first = (await refresher.run_once())[Platform.MASTODON]
    assert first.error is not None
    assert "rate limit" in first.error
    assert first.followers == 42  # asked before the limit hit
    assert _engagement(engine) == {}
    clock.advance(hours=1)
    second = (await refresher.run_once())[Platform.MASTODON]
    assert (second.error, second.engagement) == (None, 3)


async def test_posts_the_platform_no_longer_shows_wait_their_turn(
    app: Coalesce, sandbox: MastodonSandbox, engine: Engine, clock: FakeClock, reach_settings: Settings
) -> None:
    refresher = Refresher(app.store, app.adapters, reach_settings, clock)
    await refresher.run_once()
    carla = sandbox.statuses_by("carla")[0]
    sandbox.delete(carla)
    clock.advance(hours=1)
    again = (await refresher.run_once())[Platform.MASTODON]
    assert again.engagement == 2
    with engine.connect() as conn:
        stamps = set(conn.execute(select(m.Post.engagement_at)).scalars())
    assert stamps == {clock.now()}  # the deleted one too, so it does not stay first in line


async def test_a_platform_without_reach_answers_is_skipped(
    app: Coalesce, clock: FakeClock, reach_settings: Settings
) -> None:
    telegram = NoReach()
    member = Author(account_id="5001", handle="@tgmember")
    tg_post = Post(
        Platform.TELEGRAM, "1", "https://t.me/c/1", member, f"#{TAG}", clock.now(), frozenset({TAG})
    )
    app.store.ingest(Platform.TELEGRAM, [Item(tg_post)], clock.now())
    adapters = {**app.adapters, Platform.TELEGRAM: telegram}
    results = await Refresher(app.store, adapters, reach_settings, clock).run_once()
    assert results[Platform.TELEGRAM].skipped == [
        "follower count",
        "engagement",
        "who follows the central account",
        "members list",
    ]
    assert results[Platform.MASTODON].engagement == 3  # the other platform carries on


async def test_the_service_refreshes_at_start_and_then_on_schedule(
    app: Coalesce, engine: Engine, clock: FakeClock, sandbox: MastodonSandbox, reach_settings: Settings
) -> None:
    assert app.reach.serve in app.services
    service = ReachService(Refresher(app.store, app.adapters, reach_settings, clock), clock, minutes=60)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await asyncio.wait_for(service.round_done.wait(), 30)
        service.round_done.clear()
        sandbox.set_followers_count(45)
        clock.advance(days=1)
        await asyncio.wait_for(service.round_done.wait(), 30)
        with engine.connect() as conn:
            counts = list(
                conn.execute(select(m.FollowerSnapshot.followers).order_by(m.FollowerSnapshot.day)).scalars()
            )
        assert counts == [42, 45]  # one a day
    finally:
        stop.set()
        task.cancel()


async def test_with_refreshing_off_the_service_only_learns_the_central_account(
    app: Coalesce, engine: Engine, clock: FakeClock, sandbox: MastodonSandbox, reach_settings: Settings
) -> None:
    service = ReachService(Refresher(app.store, app.adapters, reach_settings, clock), clock, minutes=0)
    before = len(sandbox.requests)
    await service.run(asyncio.Event())
    assert len(sandbox.requests) == before  # nothing asked of the platform
    with engine.connect() as conn:
        central = conn.execute(select(m.CentralAccount.platform, m.CentralAccount.handle)).all()
    assert central == [("mastodon", "coalesce@med.example")]


def _id(sandbox: MastodonSandbox, username: str) -> str:
    return str(sandbox.statuses_by(username)[0]["account"]["id"])
