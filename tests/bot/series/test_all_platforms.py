"""The series on Mastodon, Bluesky and Telegram at once, each through its real client library
(Mastodon.py, atproto, python-telegram-bot) against its sandbox in one sandbox world: the digest
as each platform counts it, and a withdrawn interview deleted everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from adapters.bluesky import richtext
from adapters.bluesky.adapter import BlueskyAdapter
from adapters.mastodon.normalize import html_to_text
from adapters.registry import REGISTRY, settings_class
from adapters.telegram.adapter import TelegramAdapter, build_application
from bot.clock import FakeClock
from bot.config import Settings, parse
from bot.domain import Platform
from bot.ports import PlatformAdapter
from bot.schema import Environment
from bot.series.markup import Markup
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from bot.text import length
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from sandbox.world import Rooms, SandboxWorld
from tests.adapters.bluesky.conftest import build_adapter
from tests.bot.series.conftest import SLOT, TOKEN, add_opportunities, central_statuses, mastodon_adapter
from tests.bot.series.test_publishing import INTERVIEW_SLOT, confirmed_interview
from tests.conftest import BASE_CONFIG

# PTB 22 warns, even while building RetryAfter, that its int retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

CHANNEL = Rooms().channel
POST = "app.bsky.feed.post"


@pytest.fixture
def world_options() -> dict[str, Any]:
    return {"mastodon": {"token": TOKEN}}  # the token make_settings' environment gives


@pytest.fixture
def sandbox(sandbox_world: SandboxWorld) -> MastodonSandbox:
    return sandbox_world.mastodon


@pytest.fixture
def bsky(sandbox_world: SandboxWorld) -> BlueskySandbox:
    return sandbox_world.bluesky


@pytest.fixture
def tg(sandbox_world: SandboxWorld) -> TelegramSandbox:
    sandbox_world.telegram.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
    return sandbox_world.telegram


@pytest.fixture
def everywhere(sandbox: MastodonSandbox, bsky: BlueskySandbox, tg: TelegramSandbox) -> Settings:
    data: dict[str, Any] = {
        **BASE_CONFIG,
        "platforms": {
            "mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTODON_TOKEN}"},
            "bluesky": {
                "handle": "coalesce.test",
                "app_password": "${BLUESKY_PASSWORD}",
                "service_url": bsky.base_url,
                "jetstream_url": bsky.ws_url,
                "request_timeout": 10,
            },
            "telegram": {
                "bot_token": "${TELEGRAM_TOKEN}",
                "channel_id": CHANNEL,
                "base_url": tg.bot_base_url,
                "request_timeout": 5,
            },
        },
        "series": {
            "schedule": [
                {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": "America/Chicago"},
                {
                    "name": "interview",
                    "kind": "interview",
                    "cron": "0 12 * * thu",
                    "timezone": "America/Chicago",
                },
            ]
        },
    }
    env = Environment(
        {"MASTODON_TOKEN": TOKEN, "BLUESKY_PASSWORD": bsky.password, "TELEGRAM_TOKEN": tg.token}
    )
    return parse(data, env, schemas=settings_class)


@pytest.fixture
async def runner(
    store: Store, everywhere: Settings, sandbox: MastodonSandbox, clock: FakeClock
) -> AsyncIterator[SeriesRunner]:
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
    yield SeriesRunner(store, adapters, everywhere, clock, worker="w1", catalog=REGISTRY)
    for adapter in adapters.values():
        await adapter.close()


def bluesky_thread(bsky: BlueskySandbox) -> list[dict[str, Any]]:
    posts = bsky.records(bsky.central, POST)
    return sorted(posts, key=lambda r: r["createdAt"])


async def test_the_digest_goes_out_on_every_platform_within_its_limits(
    runner: SeriesRunner,
    store: Store,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
    engine: Engine,
) -> None:
    add_opportunities(store, 9, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    outcomes = await runner.run_due()
    assert sorted((o.platform.value, o.state) for o in outcomes) == [
        ("bluesky", "done"),
        ("mastodon", "done"),
        ("telegram", "done"),
    ]
    expected = {p: runner.digest("en", p, SLOT.date()).parts for p in Platform}

    masto = [html_to_text(s["content"]) for s in central_statuses(sandbox)]
    assert masto == expected[Platform.MASTODON]

    thread = bluesky_thread(bsky)
    # The adapter shows a link short and puts the whole address in its facet: the composer
    # counted whole addresses, so every part fits with room to spare.
    assert [r["text"] for r in thread] == [richtext.build(p).text for p in expected[Platform.BLUESKY]]
    linked = {x["uri"] for r in thread for f in r.get("facets", []) for x in f["features"] if "uri" in x}
    assert {f"https://grants.example.org/2026/latinas-in-medicine/{i}" for i in range(9)} <= linked
    assert len(thread) > len(masto) > 1  # 300 graphemes hold fewer entries than 500 characters
    assert all(length(r["text"], BlueskyAdapter.limits) <= 300 for r in thread)
    assert "reply" not in thread[0]
    assert {r["reply"]["root"]["uri"] for r in thread[1:]} == {thread[1]["reply"]["parent"]["uri"]}

    # Telegram gets HTML: what its reader sees, with bold kind headers and each address behind
    # a short link text. One message: 4,096 holds it all.
    (message,) = tg.messages(CHANNEL, by_bot=True)
    (html_part,) = expected[Platform.TELEGRAM]
    assert "<b>🎓 Scholarships</b>" in html_part
    assert message.text == Markup("html").visible(html_part)
    assert "🎓 Scholarships" in message.entity_texts("bold")
    linked = {e["url"] for e in message.entities if e["type"] == "text_link"}
    assert linked == {f"https://grants.example.org/2026/latinas-in-medicine/{i}" for i in range(9)}
    assert "grants.example.org/2026/latinas-in-medi…" in message.text
    assert length(message.text, TelegramAdapter.limits) <= 4096


async def test_a_withdrawn_interview_is_deleted_on_every_platform(
    runner: SeriesRunner,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    interview_id = await confirmed_interview(runner, clock)
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
    outcomes = await runner.run_due()
    assert sorted((o.platform.value, o.state) for o in outcomes) == [
        ("bluesky", "done"),
        ("mastodon", "done"),
        ("telegram", "done"),
    ]
    (status,) = central_statuses(sandbox)
    (record,) = bluesky_thread(bsky)
    (message,) = tg.messages(CHANNEL, by_bot=True, include_deleted=False)
    for text in (html_to_text(status["content"]), record["text"], message.text):
        assert text.startswith("🎙️ Mini-interview: meet Dra. María Pérez")

    # Within Telegram's 48 hours for deleteMessage (later, the post is emptied instead: see
    # tests/fidelity/telegram/test_rules_adapter.py).
    clock.advance(timedelta(hours=47).total_seconds())
    interview, gone = await runner.withdraw_interview(interview_id, by="member")
    assert interview.state == "withdrawn"
    assert sorted((o.platform.value, o.state) for o in gone) == [
        ("bluesky", "withdrawn"),
        ("mastodon", "withdrawn"),
        ("telegram", "withdrawn"),
    ]
    assert central_statuses(sandbox) == []
    assert bluesky_thread(bsky) == []
    assert tg.messages(CHANNEL, by_bot=True, include_deleted=False) == []
