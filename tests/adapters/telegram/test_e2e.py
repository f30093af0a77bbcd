"""End to end, the whole bot as ``run`` runs it: posts on the Mastodon and Bluesky sandboxes
become cards in the curators' Telegram group, a curator's tap amplifies them on their own
platform (and spotlights them in the channel), and the card shows it. A flood of 429s on the
Telegram side slows the console, never the boosts elsewhere."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.bluesky.conftest import build_adapter, sandbox_settings
from tests.adapters.telegram.conftest import (
    ANA,
    CHANNEL,
    CURATORS,
    TAG,
    Harness,
    console_settings,
    make_mastodon,
)

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


@pytest.fixture
def bsky(clock: FakeClock) -> Iterator[BlueskySandbox]:
    with BlueskySandbox(clock=clock.now) as sandbox:
        yield sandbox


def candidate_of(card_text: str) -> int:
    found = re.search(r"candidate #(\d+)", card_text)
    assert found is not None
    return int(found.group(1))


async def test_mastodon_and_bluesky_posts_are_decided_by_a_tap_and_amplified(
    bsky: BlueskySandbox,  # first set up, last torn down: the app closes its stream while it answers
    masto: MastodonSandbox,
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    maria = masto.add_account("maria", display_name="Dra. María")
    status = masto.post(maria, f"Matched into surgery! #{TAG}", created_at=clock.now())
    lucia = bsky.add_account("lucia.test", display_name="Lucía")
    skeet = bsky.post(lucia, f"First day as an attending #{TAG}")
    clock.advance(1)
    h: Harness = await harness_factory(
        extra={
            Platform.MASTODON: make_mastodon(masto, clock),
            Platform.BLUESKY: build_adapter(sandbox_settings(bsky), clock, engine),
        },
        spotlight_on_channel=True,
    )
    cards = await tg.wait_for_async(lambda: h.cards() if len(h.cards()) == 2 else None, 15)
    assert {card.text.split(" · ")[0] for card in cards} == {"Mastodon", "Bluesky"}
    for card in cards:
        tg.user_taps(ANA, card, card.callback_data[0])
    ids = [candidate_of(card.text) for card in cards]
    for cid, card in zip(ids, cards, strict=True):
        platform = card.text.split(" · ")[0]
        done = await h.card_showing(cid, "📣 spotlight on Telegram: done")
        assert f"📣 boost on {platform}: done" in done.text
        assert "✅ Approved by ana" in done.text
        assert done.message_id == card.message_id
        assert done.buttons == []
    assert len(masto.reblogs_of(status)) == 1
    assert len(bsky.reposts_of(skeet)) == 1
    spotlights = tg.messages(CHANNEL)
    assert sorted(s.text.splitlines()[0] for s in spotlights) == [
        "🔦 From the community on Bluesky",
        "🔦 From the community on Mastodon",
    ]
    assert tg.sent_count(CURATORS) == 2  # one card each, edited in place


async def test_a_429_storm_on_telegram_does_not_delay_mastodon_boosts(
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    masto: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    maria = masto.add_account("maria")
    statuses = [masto.post(maria, f"News {i} #{TAG}", created_at=clock.now()) for i in range(5)]
    for method in ("sendMessage", "copyMessage", "editMessageText"):
        tg.faults.retry_after(30, method=method, times=1000)
    h: Harness = await harness_factory(
        extra={Platform.MASTODON: make_mastodon(masto, clock)}, spotlight_on_channel=True
    )
    await tg.wait_for_async(lambda: tg.too_many_requests >= 1)  # the console's first card: flooded
    pending = h.app.queue.list("pending")
    assert len(pending) == 5
    for c in pending:  # curators decide in the CLI meanwhile
        h.app.queue.approve(c.id, "rosa", clock.now())

    # On the test's clock nothing moves: an amplifier that waited out Telegram's 30 s would never
    # finish. Its own loop (as in ``run``) finishes at once, every boost made, each spotlight handed
    # back to be retried. Whichever cycle takes them, the rows tell.
    def amplifications() -> list[tuple[str, str, str, str | None]]:
        with engine.connect() as conn:
            return [
                (r.platform, r.action, r.state, r.error)
                for r in conn.execute(select(m.Amplification).order_by(m.Amplification.id))
            ]

    def settled() -> bool:
        rows = amplifications()
        return sum(p == "mastodon" for p, *_ in rows) == 5 and sum(p == "telegram" for p, *_ in rows) == 5

    changed = asyncio.Event()
    h.app.on_change.append(changed.set)  # told after each amplifier cycle that did something

    async def wait_settled() -> None:
        while True:
            changed.clear()
            if settled():
                return
            await changed.wait()

    h.app.wake.set()  # as a CLI approval's next poll would
    await asyncio.wait_for(wait_settled(), 10)

    rows = amplifications()
    boosts = [(action, state) for platform, action, state, _ in rows if platform == "mastodon"]
    assert boosts == [("boost", "done")] * 5
    assert all(len(masto.reblogs_of(s)) == 1 for s in statuses)
    spotlights = [(action, state, error) for platform, action, state, error in rows if platform == "telegram"]
    assert all(
        action == "spotlight" and state == "retry" and "retry after 30" in (error or "")
        for action, state, error in spotlights
    )
    with engine.connect() as conn:
        candidates = conn.execute(select(m.Candidate.state, m.Candidate.next_attempt_at)).all()
    assert {state for state, _ in candidates} == {"approved"}  # the spotlights are still to come…
    assert all(
        when is not None and (when - clock.now()).total_seconds() == pytest.approx(30, abs=1)
        for _, when in candidates
    )
    assert tg.sent_count(CHANNEL) == 0
    assert tg.sent_count(CURATORS) == 0  # the storm is real: not even a card got through


async def test_a_failed_amplification_is_announced_under_its_card_and_retried_by_a_tap(
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    masto: MastodonSandbox,
    clock: FakeClock,
) -> None:
    maria = masto.add_account("maria")
    status = masto.post(maria, f"Matched into surgery! #{TAG}", created_at=clock.now())
    masto.faults.add(r"/reblog$", Fault("status", status=422, body={"error": "Validation failed"}))
    h: Harness = await harness_factory(extra={Platform.MASTODON: make_mastodon(masto, clock)})
    (card,) = await tg.wait_for_async(lambda: h.cards() or None)
    cid = candidate_of(card.text)
    tg.user_taps(ANA, card, card.callback_data[0])  # approve: the server refuses the boost

    failed = await h.card_showing(cid, "⚠️ boost on Mastodon failed")
    assert [b["text"] for b in failed.buttons] == ["🔁 Retry", "🔗 Open"]
    (note,) = await tg.wait_for_async(
        lambda: [m for m in tg.messages(CURATORS, by_bot=True) if m.reply_to_message_id == card.message_id]
    )
    assert note.text.startswith(f"⚠️ Candidate #{cid} could not be amplified: ")
    assert "Validation failed" in note.text
    assert h.state(cid) == "failed"
    assert masto.reblogs_of(status) == []

    tg.user_taps(ANA, failed, failed.callback_data[0])  # the server is fine now: retry
    done = await h.card_showing(cid, "📣 boost on Mastodon: done")
    assert done.message_id == card.message_id
    assert len(masto.reblogs_of(status)) == 1
    assert ("ana", "retry") in h.decisions(cid)
    replies = [m for m in tg.messages(CURATORS, by_bot=True) if m.reply_to_message_id == card.message_id]
    assert replies == [note]  # announced once


async def test_a_pile_on_shows_on_the_card_before_anyone_decides(
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    masto: MastodonSandbox,
    clock: FakeClock,
) -> None:
    maria = masto.add_account("maria")
    status = masto.post(maria, f"Matched into surgery! #{TAG}", created_at=clock.now())
    # The app's own trust round runs at start and then sleeps an hour: the test runs the next one.
    settings = console_settings(trust={"cycle_seconds": 3600, "flags": {"stranger_replies": 3}})
    h: Harness = await harness_factory(settings, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    (card,) = await tg.wait_for_async(lambda: h.cards() or None)
    cid = candidate_of(card.text)
    assert "don't follow the author" not in card.text
    for name in ("s1", "s2", "s3"):
        masto.post(masto.add_account(name), "who asked", in_reply_to=status)

    await h.advance(minutes=16)  # past trust.flags.pile_on_recheck_minutes
    await h.app.trust.run_once()  # counts them (unless the app's first round, still under way, did)

    shown = "3 replies from accounts that don't follow the author"
    for _ in range(30):  # console syncs, each awaited, until the count has landed and shows
        await h.advance(seconds=10)
        flagged = h.card_of(cid)
        if flagged is not None and shown in flagged.text:
            break
    else:
        raise AssertionError(f"the card never showed the pile-on: {h.card_of(cid)}")
    assert flagged.message_id == card.message_id  # the same card, edited
    assert h.state(cid) == "pending"  # flags inform; curators decide
