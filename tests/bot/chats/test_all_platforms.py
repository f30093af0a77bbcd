"""A chat's question and a conference day's highlights on Mastodon, Bluesky and Telegram at
once, each through its real client library against its sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.mastodon.normalize import html_to_text
from adapters.telegram.adapter import TelegramAdapter, build_application
from bot.chats.runner import ChatRunner
from bot.clock import FakeClock
from bot.conference.daily import DailyHighlights, slot_of
from bot.conference.model import conferences
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.ports import PlatformAdapter
from bot.series.publisher import Publisher
from bot.store.store import Store
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.bluesky.conftest import build_adapter
from tests.bot.series.conftest import central_statuses, mastodon_adapter
from tests.bot.series.test_all_platforms import CHANNEL, bluesky_thread
from tests.bot.series.test_all_platforms import bsky as bsky  # fixtures, used by name
from tests.bot.series.test_all_platforms import everywhere as everywhere
from tests.bot.series.test_all_platforms import sandbox as sandbox  # Mastodon of the one world
from tests.bot.series.test_all_platforms import tg as tg
from tests.bot.series.test_all_platforms import world_options as world_options
from tests.factories import author, post

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")
START = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
async def publisher(
    store: Store, everywhere: Settings, sandbox: MastodonSandbox, clock: FakeClock
) -> AsyncIterator[Publisher]:
    telegram_cfg = everywhere.platforms[Platform.TELEGRAM]
    adapters: dict[Platform, PlatformAdapter] = {
        Platform.MASTODON: mastodon_adapter(sandbox.base_url, clock),
        Platform.BLUESKY: build_adapter(everywhere.platforms[Platform.BLUESKY], clock, None),
        Platform.TELEGRAM: TelegramAdapter(
            build_application(telegram_cfg, clock), telegram_cfg, community="Latinas in Medicine"
        ),
    }
    for adapter in adapters.values():
        await adapter.start()
    yield Publisher(store, adapters, clock, worker="w1")
    for adapter in adapters.values():
        await adapter.close()


def _everywhere(sandbox: MastodonSandbox, bsky: BlueskySandbox, tg: TelegramSandbox) -> list[str]:
    masto = [html_to_text(s["content"]) for s in central_statuses(sandbox)]
    return [
        *masto,
        *(r["text"] for r in bluesky_thread(bsky)),
        *(m.text for m in tg.messages(CHANNEL, by_bot=True)),
    ]


async def test_a_question_goes_out_once_on_every_platform(
    store: Store,
    everywhere: Settings,
    clock: FakeClock,
    publisher: Publisher,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    fields = chat_ops.ChatFields(
        topic="Mentorship", host="Dra. Ruiz", tag="LIMchat", start="2026-03-04 19:00",
        timezone="America/New_York", questions=["0: What did a mentor do for you?"],
    )  # fmt: skip
    assert chat_ops.add_chat(store, everywhere, fields, by="ana", now=clock.now()).exit_code == 0
    runner = ChatRunner(store, publisher, everywhere, clock)
    clock.advance((START - clock.now()).total_seconds())
    outcomes = await runner.run_due()
    assert sorted((o.platform.value, o.state) for o in outcomes) == [
        ("bluesky", "done"),
        ("mastodon", "done"),
        ("telegram", "done"),
    ]
    assert await runner.run_due() != []  # still inside the question's minutes: each says "already"
    texts = _everywhere(sandbox, bsky, tg)
    assert len(texts) == 3
    assert all(t.startswith("Q1: What did a mentor do for you?") for t in texts)


async def test_a_conference_day_goes_out_on_every_platform(
    store: Store,
    everywhere: Settings,
    clock: FakeClock,
    publisher: Publisher,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    day = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    fields = conf_ops.ConferenceFields(
        name="Spring Summit", tag="Summit26", starts_on="2026-03-03", ends_on="2026-03-04",
        timezone="America/Chicago",
    )  # fmt: skip
    assert conf_ops.add_conference(store, everywhere, fields, by="ana", now=clock.now()).exit_code == 0
    clock.advance((day - clock.now()).total_seconds())
    tags = ("LatinasInMedicine", "Summit26")
    talk = post("Keynote on <equity> & access #Summit26", by=author("maria@med.example"), tags=tags, now=day)
    ids = (
        Pipeline(everywhere, store)
        .ingest(Platform.MASTODON, Batch(source="hashtag", posts=[talk], cursor=None), day)
        .candidates
    )
    Queue(store, everywhere).approve(ids[0], "rosa", day)
    with store.engine.connect() as conn:
        (conference,) = conferences(conn, store.community_id)
    slot = slot_of(conference, date(2026, 3, 3))
    clock.advance((slot - clock.now()).total_seconds())
    daily = DailyHighlights(store, publisher, everywhere)
    outcomes = await daily.run_due(clock.now())
    assert sorted((o.platform.value, o.state) for o in outcomes) == [
        ("bluesky", "done"),
        ("mastodon", "done"),
        ("telegram", "done"),
    ]
    texts = _everywhere(sandbox, bsky, tg)
    assert len(texts) == 3
    for text in texts:
        assert text.startswith("Spring Summit, day 1 (March 3): highlights from our members")
        # Telegram's HTML escaped and read back. The conference tag is not one of the community's
        # own: where an adapter makes foreign tags inert it puts a word joiner after the '#'.
        assert "“Keynote on <equity> & access #Summit26” — maria" in text.replace("\u2060", "")
    clock.advance(timedelta(hours=1).total_seconds())
    assert {o.state for o in await daily.run_due(clock.now())} == {"already"}
