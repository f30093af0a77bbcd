"""Original posts published through the real adapters (Mastodon.py, atproto, python-telegram-bot)
against the three sandboxes, by the series' publisher: once per platform across a restart in the
middle of a thread and two racing workers; never before the approvals; never during a freeze; a
hostile text inert on every platform."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text
from adapters.registry import REGISTRY
from adapters.telegram.adapter import TelegramAdapter, build_application
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform, Receipt
from bot.inert import WORD_JOINER
from bot.ops import originals as ops
from bot.ops import safety
from bot.ports import PlatformAdapter
from bot.series.original_runner import OriginalsRunner, OriginalWriter
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.bluesky.conftest import build_adapter
from tests.bot.series.conftest import central_statuses, mastodon_adapter
from tests.bot.series.test_all_platforms import CHANNEL, bluesky_thread
from tests.bot.series.test_all_platforms import bsky as bsky  # fixtures, used by name
from tests.bot.series.test_all_platforms import everywhere as everywhere
from tests.bot.series.test_all_platforms import tg as tg

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

THREAD = "\n---\n".join(
    [
        "Our community turns five this week. Thank you for every post, every nomination.",
        "Part two: the mini-interviews return in January, with a new question each month.",
        "Part three: the digest now lists rotations first. Tell us what you think.",
        "Part four: see you at the winter meeting. #LatinasInMedicine",
    ]
)


class _Crash(BaseException):
    """The process dies: nothing after this line of ours runs."""


def crashing_after(parts: int) -> type[MastodonAdapter]:
    class Crashing(MastodonAdapter):
        calls = 0

        async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
            type(self).calls += 1
            if type(self).calls > parts:
                raise _Crash
            return await super().publish_part(text, reply_to)

    return Crashing


Build = Callable[..., Awaitable[OriginalsRunner]]


@pytest.fixture
def two_person(everywhere: Settings) -> Settings:
    return dataclasses.replace(
        everywhere, curation=dataclasses.replace(everywhere.curation, approvals_required=2)
    )


@pytest.fixture
async def make_runner(
    store: Store, two_person: Settings, sandbox: MastodonSandbox, clock: FakeClock
) -> AsyncIterator[Build]:
    """Builds a worker: its own three started adapters, the series' publisher, the originals."""
    opened: list[PlatformAdapter] = []

    async def build(
        worker: str = "w1", mastodon_cls: type[MastodonAdapter] = MastodonAdapter
    ) -> OriginalsRunner:
        telegram_cfg = two_person.platforms[Platform.TELEGRAM]
        adapters: dict[Platform, PlatformAdapter] = {
            Platform.MASTODON: mastodon_adapter(sandbox.base_url, clock, mastodon_cls),
            Platform.BLUESKY: build_adapter(two_person.platforms[Platform.BLUESKY], clock, None),
            Platform.TELEGRAM: TelegramAdapter(
                build_application(telegram_cfg, clock), telegram_cfg, community="Latinas in Medicine"
            ),
        }
        for adapter in adapters.values():
            await adapter.start()
            opened.append(adapter)
        series = SeriesRunner(store, adapters, two_person, clock, worker=worker, catalog=REGISTRY)
        return OriginalsRunner(store, series.publisher, two_person, clock, REGISTRY)

    yield build
    for adapter in opened:
        await adapter.close()


def deps(store: Store, settings: Settings) -> ops.Deps:
    return ops.Deps(store, settings, REGISTRY)


def approved(store: Store, settings: Settings, clock: FakeClock, text: str = THREAD) -> int:
    """A post written by ana (with her approval) and approved by rosa, to go out now."""
    written = ops.new(deps(store, settings), clock.now(), "ana", text, approve=True, send_now=True)
    assert written.ok, written.message
    assert written.data is not None
    post_id = written.data.post.id
    assert ops.approve(deps(store, settings), clock.now(), "rosa", post_id).ok
    return post_id


def published(
    sandbox: MastodonSandbox, bsky: BlueskySandbox, tg: TelegramSandbox
) -> dict[Platform, list[str]]:
    return {
        Platform.MASTODON: [html_to_text(s["content"]) for s in central_statuses(sandbox)],
        Platform.BLUESKY: [r["text"] for r in bluesky_thread(bsky)],
        Platform.TELEGRAM: [m.text for m in tg.messages(CHANNEL, by_bot=True)],
    }


def expected(settings: Settings) -> dict[Platform, list[str]]:
    """What a reader sees on each platform, from the same writer the preview uses."""
    writer = OriginalWriter(settings, REGISTRY)
    return {p: [writer.markup(p).visible(t) for t in writer.parts(THREAD, p)] for p in Platform}


async def test_a_thread_goes_out_once_per_platform_as_previewed(
    make_runner: Build,
    store: Store,
    two_person: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    runner = await make_runner()
    post_id = approved(store, two_person, clock)
    outcomes = await runner.run_due()
    assert sorted((o.platform.value, o.state, o.published) for o in outcomes) == [
        ("bluesky", "done", 4),
        ("mastodon", "done", 4),
        ("telegram", "done", 4),
    ]
    assert published(sandbox, bsky, tg) == expected(two_person)
    statuses = central_statuses(sandbox)
    assert [s["in_reply_to_id"] for s in statuses] == [None] + [s["id"] for s in statuses[:-1]]
    shown = ops.show(deps(store, two_person), post_id)
    assert shown.data is not None
    assert shown.data.post.state == "published"
    assert {(p.platform, p.state, p.published) for p in shown.data.post.publications} == {
        (p, "done", 4) for p in Platform
    }
    clock.advance(minutes=10)
    assert await runner.run_due() == []  # published: nothing again
    assert len(central_statuses(sandbox)) == 4


async def test_nothing_goes_out_before_the_approvals(
    make_runner: Build, store: Store, two_person: Settings, clock: FakeClock, sandbox: MastodonSandbox
) -> None:
    runner = await make_runner()
    written = ops.new(deps(store, two_person), clock.now(), "ana", "Hello all", approve=True, send_now=True)
    assert written.data is not None
    assert await runner.run_due() == []
    assert central_statuses(sandbox) == []
    assert ops.approve(deps(store, two_person), clock.now(), "rosa", written.data.post.id).ok
    assert {o.state for o in await runner.run_due()} == {"done"}
    assert [html_to_text(s["content"]) for s in central_statuses(sandbox)] == ["Hello all"]


async def test_a_freeze_holds_it_until_the_unfreeze(
    make_runner: Build, store: Store, two_person: Settings, clock: FakeClock, sandbox: MastodonSandbox
) -> None:
    runner = await make_runner()
    safety.freeze(store, two_person, "ana", clock.now())
    post_id = approved(store, two_person, clock, "Held by the freeze")
    assert await runner.run_due() == []
    clock.advance(hours=3)
    assert await runner.run_due() == []
    assert central_statuses(sandbox) == []
    # a cancellation is still possible while it waits; a second post goes out after the unfreeze
    other = approved(store, two_person, clock, "After the freeze")
    assert ops.cancel(deps(store, two_person), clock.now(), "rosa", post_id).ok
    safety.unfreeze(store, two_person, "ana", clock.now())
    assert {o.state for o in await runner.run_due()} == {"done"}
    assert [html_to_text(s["content"]) for s in central_statuses(sandbox)] == ["After the freeze"]
    assert ops.show(deps(store, two_person), other).data.post.state == "published"  # type: ignore[union-attr]


async def test_a_freeze_mid_thread_stops_the_next_part(
    make_runner: Build, store: Store, two_person: Settings, clock: FakeClock, sandbox: MastodonSandbox
) -> None:
    class FreezingAfterFirst(MastodonAdapter):
        async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
            receipt = await super().publish_part(text, reply_to)
            await asyncio.to_thread(safety.freeze, store, two_person, "ana", clock.now())
            return receipt

    runner = await make_runner(mastodon_cls=FreezingAfterFirst)
    approved(store, two_person, clock)
    outcomes = {o.platform: o for o in await runner.run_due()}
    assert outcomes[Platform.MASTODON].state == "held"
    assert outcomes[Platform.MASTODON].published == 1
    assert len(central_statuses(sandbox)) == 1
    safety.unfreeze(store, two_person, "ana", clock.now())
    await (await make_runner("w1")).run_due()
    assert [html_to_text(s["content"]) for s in central_statuses(sandbox)] == expected(two_person)[
        Platform.MASTODON
    ]


@pytest.mark.parametrize("restart_as", ["w1", "w2"])
async def test_a_crash_after_part_2_resumes_at_part_3(
    make_runner: Build,
    store: Store,
    two_person: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
    restart_as: str,
) -> None:
    crashing = await make_runner("w1", crashing_after(2))
    approved(store, two_person, clock)
    with pytest.raises(_Crash):
        await crashing.run_due()
    assert len(central_statuses(sandbox)) == 2
    restarted = await make_runner(restart_as)
    if restart_as != "w1":  # another worker waits until the dead worker's lease has run out
        states = {o.platform: o.state for o in await restarted.run_due()}
        assert states[Platform.MASTODON] == "busy"
        clock.advance(minutes=6)
    await restarted.run_due()
    assert published(sandbox, bsky, tg) == expected(two_person)
    statuses = central_statuses(sandbox)
    assert [s["in_reply_to_id"] for s in statuses] == [None] + [s["id"] for s in statuses[:-1]]


async def test_a_thread_cut_before_its_first_part_is_not_given_up_by_the_series(
    make_runner: Build,
    store: Store,
    two_person: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    """The series give up a slot of theirs that stayed unpublished past their grace window; an
    approved original is not theirs to give up, so after a long outage it still goes out whole."""
    crashing = await make_runner("w1", crashing_after(0))
    approved(store, two_person, clock)
    with pytest.raises(_Crash):
        await crashing.run_due()
    assert central_statuses(sandbox) == []
    clock.advance(seconds=two_person.series.grace.total_seconds() + 3600)
    restarted = await make_runner("w1")
    series = SeriesRunner(
        store, restarted.publisher.adapters, two_person, clock, worker="w1", catalog=REGISTRY
    )
    assert all(not o.series.startswith("original:") for o in await series.run_due())
    await restarted.run_due()
    assert published(sandbox, bsky, tg) == expected(two_person)


async def test_two_racing_workers_publish_it_once(
    make_runner: Build,
    store: Store,
    two_person: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    first, second = await make_runner("w1"), await make_runner("w2")
    approved(store, two_person, clock)
    results = await asyncio.gather(first.run_due(), second.run_due())
    done = [o for outcomes in results for o in outcomes if o.state == "done"]
    assert sorted(o.platform.value for o in done) == ["bluesky", "mastodon", "telegram"]
    for outcomes in results:
        assert all(o.state in ("done", "busy", "already") for o in outcomes)
    await first.run_due()
    assert published(sandbox, bsky, tg) == expected(two_person)


async def test_a_hostile_text_stays_inert_on_every_platform(
    make_runner: Build,
    store: Store,
    two_person: Settings,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    runner = await make_runner()
    hostile = (
        "Hi @victim@evil.example and @victim.bsky.social <script>alert(1)</script> "
        '<a href="javascript:alert(1)">click</a> javascript:alert(2) /start $EVIL #Spam evil.com '
        "#LatinasInMedicine https://example.org/ok"
    )
    approved(store, two_person, clock, hostile)
    assert {o.state for o in await runner.run_due()} == {"done"}

    (status,) = central_statuses(sandbox)
    assert status["mentions"] == []
    assert [t["name"] for t in status["tags"]] == ["latinasinmedicine"]
    masto = html_to_text(status["content"])
    assert f"@{WORD_JOINER}victim" in masto
    assert "<script>" in masto

    (record,) = bluesky_thread(bsky)
    features = [x for f in record.get("facets", []) for x in f["features"]]
    assert not [x for x in features if x["$type"].endswith("#mention")]
    assert {x["uri"] for x in features if "uri" in x} == {"https://example.org/ok"}
    assert {x["tag"] for x in features if "tag" in x} <= {"LatinasInMedicine"}

    (message,) = tg.messages(CHANNEL, by_bot=True)
    kinds = {e["type"] for e in message.entities}
    assert not kinds & {"mention", "bot_command", "cashtag", "text_link"}
    assert message.entity_texts("url") == ["https://example.org/ok"]
    assert message.entity_texts("hashtag") == ["#LatinasInMedicine"]
    assert "<script>alert(1)<" in message.text  # shown as text: the HTML was escaped
