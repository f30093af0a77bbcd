"""The curators' console on Telegram: cards, taps, who may decide, commands, nudges and expiry.
The real python-telegram-bot against the Bot API sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.curation.amplifier import Amplifier
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.series.opportunities import OpportunityList
from bot.store import models as m
from bot.store.store import Item
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import ANA, CURATORS, ROSA, SAM, Harness, console_settings
from tests.factories import author, post

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


def queue_post(h: Harness, text: str = "Matched into surgery! #LatinasInMedicine", **kw: Any) -> int:
    """A Mastodon post stored as a candidate, as the watch would; the console is told."""
    result = h.app.store.ingest(Platform.MASTODON, [Item(post(text, now=h.clock.now(), **kw))], h.clock.now())
    (candidate,) = result.candidates
    for notify in h.app.on_change:
        notify()
    return candidate


async def answer_to(tg: TelegramSandbox, user: int, text: str) -> str:
    """What the bot answers ``user``'s command ``text`` in the curators' group."""
    asked = tg.user_sends(user, CURATORS, text)

    def reply() -> Any:
        return next(
            (m for m in tg.messages(CURATORS, by_bot=True) if m.reply_to_message_id == asked.message_id),
            None,
        )

    return str((await tg.wait_for_async(reply)).text)


async def test_a_new_candidate_becomes_a_card_with_buttons(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h, by=author("maria@med.example"))
    card = await h.card(cid)
    assert "Mastodon · candidate #" in card.text
    assert "maria (maria@med.example)" in card.text
    assert "Matched into surgery! #LatinasInMedicine" in card.text
    assert "Why: #LatinasInMedicine" in card.text
    assert [b["text"] for b in card.buttons] == ["✅ Approve", "❌ Reject", "💤 Snooze 24 h", "🔗 Open"]
    assert card.buttons[-1]["url"].startswith("https://med.example/")
    assert all(len(d.encode()) <= 64 for d in card.callback_data)
    assert tg.sent_count(CURATORS) == 1


async def test_trust_flags_show_on_the_card(harness_factory: Callable[..., Any], tg: TelegramSandbox) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h, text="Proud of my patient in room 12 today #LatinasInMedicine")
    card = await h.card(cid)
    assert "⚑ may carry patient information: read before amplifying" in card.text


async def test_a_curator_tap_approves_and_the_card_is_edited_in_place(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    card = await h.card(cid)
    tap = tg.user_taps(ANA, card, card.callback_data[0])
    answer = await tg.wait_for_async(lambda: tg.answer_to(tap))
    assert not answer.show_alert
    assert "Approved" in (answer.text or "")
    edited = await h.card_showing(cid, "✅ Approved by ana")
    assert edited.message_id == card.message_id  # in place, not a new message
    assert edited.buttons == []
    assert "15:00 UTC" in edited.text  # when
    assert h.decisions(cid) == [("ana", "approve")]
    assert tg.sent_count(CURATORS) == 1


async def test_a_strangers_tap_is_refused_and_changes_nothing(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    card = await h.card(cid)
    tap = tg.user_taps(SAM, card, card.callback_data[0])
    answer = await tg.wait_for_async(lambda: tg.answer_to(tap))
    assert answer.show_alert
    assert answer.text == "Only the community's curators can decide."
    assert h.decisions(cid) == []
    assert h.state(cid) == "pending"
    assert tg.message(CURATORS, card.message_id).buttons == card.buttons


async def test_a_forged_or_altered_button_is_answered_and_ignored(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    first, second = queue_post(h), queue_post(h, text="Second #LatinasInMedicine")
    card = await h.card(first)
    await h.card(second)
    verb, _, signature = card.callback_data[0].split(":")
    forged = [
        f"{verb}:{second}:{signature}",  # another candidate under this card's signature
        "a:1:AAAAAAAAAAAAAAAA",
        "approve",
        "x" * 64,
    ]
    taps = [tg.user_taps(ANA, card, data, check_button=False) for data in forged]
    for tap in taps:
        answer = await tg.wait_for_async(lambda tap=tap: tg.answer_to(tap))
        assert answer.show_alert
        assert answer.text == "This button is not valid any more."
    assert h.decisions(first) == h.decisions(second) == []


async def test_two_curators_tapping_at_once_make_one_decision(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    card = await h.card(cid)
    approve, reject = card.callback_data[0], card.callback_data[1]
    taps = [tg.user_taps(ANA, card, approve), tg.user_taps(ROSA, card, reject)]  # one getUpdates page
    answers = [await tg.wait_for_async(lambda t=t: tg.answer_to(t)) for t in taps]
    assert len(h.decisions(cid)) == 1
    winner = h.decisions(cid)[0]
    loser = answers[1] if winner == ("ana", "approve") else answers[0]
    assert loser.show_alert
    assert "is already" in (loser.text or "")
    final = "✅ Approved by ana" if winner == ("ana", "approve") else "❌ Rejected by rosa"
    await h.card_showing(cid, final)


async def test_two_of_n_shows_one_of_two_until_a_second_curator_approves(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(console_settings(curation__approvals_required=2))
    cid = queue_post(h)
    card = await h.card(cid)
    assert "🗳 0 of 2 approvals" in card.text
    tap = tg.user_taps(ANA, card, card.callback_data[0])
    assert "1 of 2" in ((await tg.wait_for_async(lambda: tg.answer_to(tap))).text or "")
    half = await h.card_showing(cid, "🗳 1 of 2 approvals: ana")
    assert [b["text"] for b in half.buttons][:2] == ["✅ Approve", "❌ Reject"]  # still open
    again = tg.user_taps(ANA, half, half.callback_data[0])
    refused = await tg.wait_for_async(lambda: tg.answer_to(again))
    assert refused.show_alert
    assert "already has your approval" in (refused.text or "")
    tg.user_taps(ROSA, half, half.callback_data[0])
    done = await h.card_showing(cid, "✅ Approved by ana, rosa")
    assert done.buttons == []
    assert h.state(cid) in ("approved", "amplified")


async def test_a_curator_cannot_approve_their_own_post(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h, by=author("ana@med.example"))  # ana's Mastodon account, from the config
    card = await h.card(cid)
    tap = tg.user_taps(ANA, card, card.callback_data[0])
    answer = await tg.wait_for_async(lambda: tg.answer_to(tap))
    assert answer.show_alert
    assert "your own post" in (answer.text or "")
    assert h.decisions(cid) == []
    tg.user_taps(ROSA, card, card.callback_data[0])
    await h.card_showing(cid, "✅ Approved by rosa")


async def test_snooze_shows_until_when_and_keeps_the_decision_buttons(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    card = await h.card(cid)
    tg.user_taps(ROSA, card, card.callback_data[2])
    snoozed = await h.card_showing(cid, "💤 Snoozed by rosa until 3 Mar 15:00 UTC")
    assert [b["text"] for b in snoozed.buttons] == ["✅ Approve", "❌ Reject", "🔗 Open"]
    assert h.state(cid) == "snoozed"


async def test_a_decision_made_in_the_cli_updates_the_card(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    await h.card(cid)
    Queue(h.app.store, h.app.settings).reject(cid, "lucia", clock.now(), "off topic")  # another process
    await h.advance(seconds=10)  # the console's next look at the database
    edited = await h.card_showing(cid, "❌ Rejected by lucia")
    assert "Reason: off topic" in edited.text
    assert edited.buttons == []


async def test_a_restart_does_not_send_cards_again(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory()
    ids = [queue_post(h, text=f"Post {i} #LatinasInMedicine") for i in range(3)]
    for cid in ids:
        await h.card(cid)
    await h.shutdown()
    # a crash between writing a card's intent and hearing back from Telegram: it may have gone out
    cut_short = queue_post(h, text="Cut short #LatinasInMedicine")
    with engine.begin() as conn:
        conn.execute(
            m.table(m.Card)
            .insert()
            .values(
                community_id=h.app.store.community_id,
                candidate_id=cut_short,
                chat_id=str(CURATORS),
                delivery="intent",
                created_at=h.clock.now(),
            )
        )
    sent_before = len(tg.calls_to("sendMessage"))

    again: Harness = await harness_factory()
    fresh = queue_post(again, text="After the restart #LatinasInMedicine")
    await again.card(fresh)
    await again.app.console.sync()  # type: ignore[union-attr]
    assert len(tg.calls_to("sendMessage")) == sent_before + 1  # only the new candidate's card
    assert [again.card_of(cid) is not None for cid in ids] == [True, True, True]
    assert again.card_of(cut_short) is None
    with engine.connect() as conn:
        delivery = conn.execute(select(m.Card.delivery).where(m.Card.candidate_id == cut_short)).scalar_one()
    assert delivery == "unknown"


@pytest.mark.parametrize(
    "text",
    [
        '<b>bold</b> <a href="https://evil.example">click</a> &amp; </blockquote>',
        "*bold* _it_ [link](https://evil.example) `code` ||spoiler||",
        "Thanks @rosa_rn for the tip! /freeze /start@CoalesceBot",
    ],
)
async def test_post_text_cannot_become_markup_links_or_mentions(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, text: str
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h, text=f"{text} #LatinasInMedicine")
    card = await h.card(cid)
    quote = card.entity_texts("blockquote")[0]
    assert quote.replace("\u2060", "") == f"{text} #LatinasInMedicine"  # shown as written, all of it
    kinds = {e["type"] for e in card.entities}
    assert not kinds & {"mention", "bot_command", "text_mention"}
    links = [e["url"] for e in card.entities if e["type"] == "text_link"]
    assert all(not url.startswith("https://evil.example") for url in links)
    assert card.entity_texts("bold")[1:] == ["maria"]  # only our own emphasis: header and author
    assert card.entity_texts("spoiler") == card.entity_texts("code") == []


async def test_a_post_longer_than_a_message_is_cut_cleanly_with_the_link(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    long = " ".join(f"word{i} 🩺" for i in range(1200)) + " #LatinasInMedicine"
    cid = queue_post(h, text=long)
    card = await h.card(cid)
    quote = card.entity_texts("blockquote")[0]
    assert quote.endswith("…")
    assert quote[:-1].rstrip() in long
    assert not quote[:-1].endswith(("word", "wor"))  # cut between words
    assert len(card.text.encode("utf-16-le")) // 2 <= 4096
    assert "open the original" in card.entity_texts("text_link")


async def test_a_waiting_candidate_is_nudged_once_then_expires(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory()
    cid = queue_post(h)
    first = await h.card(cid)
    await h.advance(hours=12)
    nudge = await h.card_showing(cid, "⏰ Still waiting")
    assert nudge.message_id != first.message_id
    assert nudge.reply_to_message_id == first.message_id
    assert nudge.callback_data  # the live card is the new one
    old = await tg.wait_for_async(lambda: "re-surfaced below" in tg.message(CURATORS, first.message_id).text)
    assert old
    assert tg.message(CURATORS, first.message_id).buttons == []
    await h.advance(hours=12)
    await h.app.console.sync()  # type: ignore[union-attr]
    assert tg.sent_count(CURATORS) == 2  # nudged once only
    await h.advance(days=6)
    expired = await h.card_showing(cid, "⌛ Expired")
    assert expired.buttons == []
    assert h.state(cid) == "expired"
    assert h.decisions(cid) == [("system", "expire")]


async def test_commands_queue_stats_help_and_who_may_use_them(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    ids = [queue_post(h, text=f"Post {i} #LatinasInMedicine") for i in range(3)]
    card = await h.card(ids[0])
    tg.user_taps(ANA, card, card.callback_data[1])
    await h.card_showing(ids[0], "Rejected")

    def reply_to(message_id: int) -> Any:
        return next(
            (m for m in tg.messages(CURATORS, by_bot=True) if m.reply_to_message_id == message_id), None
        )

    asked = tg.user_sends(ANA, CURATORS, "/queue")
    queue = await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert "2 pending" in queue.text
    assert f"#{ids[1]} · Mastodon" in queue.text
    asked = tg.user_sends(ROSA, CURATORS, "/stats@CoalesceBot")
    stats = await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert "queued: 3" in stats.text
    assert "rejected: 1" in stats.text
    assert "median time to a decision: 0 min" in stats.text
    asked = tg.user_sends(SAM, CURATORS, "/queue")
    refused = await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert refused.text == "Only the community's curators can do that."
    asked = tg.user_sends(SAM, CURATORS, "/help")
    assert "/freeze" in (await tg.wait_for_async(lambda: reply_to(asked.message_id))).text


async def test_freeze_stops_amplification_everywhere_until_unfreeze(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()

    def reply_to(message_id: int) -> Any:
        return next(
            (m for m in tg.messages(CURATORS, by_bot=True) if m.reply_to_message_id == message_id), None
        )

    asked = tg.user_sends(SAM, CURATORS, "/freeze")
    await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert not h.app.amplifier.frozen
    asked = tg.user_sends(ROSA, CURATORS, "/freeze")
    frozen = await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert "Amplification is frozen" in frozen.text
    # the switch lives in the database: another worker (or the CLI) sees it
    other = Amplifier(h.app.store, {}, h.app.settings, h.clock, worker="other")
    assert other.frozen
    cid = queue_post(h)
    h.app.queue.approve(cid, "rosa", h.clock.now())
    assert await h.app.amplifier.run_due() == []
    assert h.state(cid) == "approved"
    asked = tg.user_sends(ANA, CURATORS, "/unfreeze")
    back = await tg.wait_for_async(lambda: reply_to(asked.message_id))
    assert "back on" in back.text
    assert not other.frozen


async def test_opportunity_command_adds_merges_and_explains_mistakes(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()

    async def ask(user: int, text: str) -> str:
        return await answer_to(tg, user, text)

    added = await ask(ANA, "/opportunity https://aamc.example/visiting Visiting student rotation in surgery")
    assert "added for the next digest (rotation): Visiting student rotation in surgery" in added
    assert "https://aamc.example/visiting" in added
    merged = await ask(ROSA, "/opportunity@CoalesceBot https://www.aamc.example/visiting/ Same one again")
    assert "already had that link; merged what was new: Visiting student rotation in surgery" in merged
    (only,) = OpportunityList(h.app.store).all()
    assert (only.title, only.kind, only.submitted_by, only.source) == (
        "Visiting student rotation in surgery",
        "rotation",
        "ana",
        "console",
    )
    bad_url = await ask(ANA, "/opportunity aamc.example/visiting A title")
    assert "Not added: 'aamc.example/visiting' is not a web link" in bad_url
    assert "Usage: /opportunity URL TITLE" in bad_url
    no_title = await ask(ANA, "/opportunity https://example.org/grant")
    assert "needs a title" in no_title
    assert "Usage: /opportunity URL TITLE" in no_title
    assert "Usage: /opportunity URL TITLE" in await ask(ANA, "/opportunity")
    assert (
        await ask(SAM, "/opportunity https://example.org/x Sneaky")
        == "Only the community's curators can do that."
    )
    assert len(OpportunityList(h.app.store).all()) == 1
    assert "/opportunity URL TITLE" in await ask(SAM, "/help")


async def test_block_and_unblock_from_the_console(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()

    async def ask(user: int, text: str) -> str:
        return await answer_to(tg, user, text)

    waiting = queue_post(h, by=author("troll@pile.example"))
    other = queue_post(h, "Residency match day #LatinasInMedicine", by=author("maria@med.example"))

    blocked = await ask(ANA, "/block domain Pile.Example coordinated pile-on")
    assert "🚫 Blocked (by ana): domain pile.example" in blocked
    assert "1 waiting candidate left the queue." in blocked
    assert h.state(waiting) == "withdrawn"
    assert h.state(other) == "pending"
    again = post("Again #LatinasInMedicine", now=h.clock.now(), by=author("troll@pile.example"))
    later = h.app.pipeline.ingest(Platform.MASTODON, Batch("tag", None, [again]), h.clock.now())
    assert later.candidates == []  # blocked authors never reach the queue
    assert later.skipped.get("blocked") == 1
    assert "Already blocked" in await ask(ROSA, "/block domain pile.example")
    mistake = await ask(ANA, "/block server pile.example")
    assert "cannot block a 'server'" in mistake
    assert "Usage: /block" in mistake
    assert "Usage: /block" in await ask(ANA, "/block")
    assert await ask(SAM, "/block account someone@x.example") == "Only the community's curators can do that."

    assert "Unblocked: domain pile.example" in await ask(ROSA, "/unblock domain pile.example")
    assert "was not blocked here" in await ask(ROSA, "/unblock domain pile.example")
    assert "/block KIND VALUE" in await ask(SAM, "/help")
