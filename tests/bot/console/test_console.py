"""The console's platform-free half: what a card says in every state, cutting rich text to a
platform's length, the persistent freeze, expiry and the weekly numbers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.console.cards import compose_card
from bot.curation.amplifier import Amplifier
from bot.curation.queue import AmplificationView, CandidateView, DecisionView, Queue
from bot.domain import Platform, TextLimits
from bot.ports import Card
from bot.richtext import Doc, Span, cut_text
from bot.store.store import Item, Store
from tests.factories import author, post

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def view(**kw: Any) -> CandidateView:
    values: dict[str, Any] = {
        "id": 7,
        "state": "pending",
        "platform": "mastodon",
        "author_handle": "maria@med.example",
        "author_name": "Dra. María",
        "url": "https://med.example/@maria/1",
        "text": "Matched! #LatinasInMedicine",
        "reason": "hashtag",
        "nominated_by": None,
        "posted_at": NOW - timedelta(hours=1),
        "queued_at": NOW - timedelta(minutes=50),
        "approvals": 0,
        "approvals_required": 1,
        "attempts": 0,
        "last_error": None,
        "snoozed_until": None,
        "next_attempt_at": None,
        "is_reply": False,
        "content_warning": None,
        "hashtags": "latinasinmedicine",
    }
    values.update(kw)
    return CandidateView(**values)


def lines(card: Card) -> list[str]:
    return card.doc.plain().splitlines()


def labels(card: Card) -> list[str]:
    return [b.label for row in card.buttons for b in row]


def test_a_pending_card_says_who_what_why_and_offers_the_decisions() -> None:
    card = compose_card(view(), NOW, hashtags=("LatinasInMedicine", "LatinasEnMedicina"))
    assert lines(card) == [
        "Mastodon · candidate #7",
        "Dra. María (maria@med.example)",
        "Matched! #LatinasInMedicine",
        "Why: #LatinasInMedicine",
        "Posted 2 Mar 14:00 UTC · open the original",
    ]
    assert labels(card) == ["✅ Approve", "❌ Reject", "💤 Snooze 24 h", "🔗 Open"]
    assert card.candidate_id == 7
    member_spans = [s for line in card.doc.lines for s in line if s.untrusted]
    assert {s.text for s in member_spans} == {
        "Dra. María",
        "(maria@med.example)",
        "Matched! #LatinasInMedicine",
    }
    assert [s.cuttable for s in member_spans] == [False, False, True]


def test_a_telegram_member_without_a_username_is_shown_by_name_not_number() -> None:
    """Her handle is only Telegram's number for her account: no name to show the curators."""
    card = compose_card(view(platform="telegram", author_handle="tg:5001", author_name="Lupe Ortiz"), NOW)
    assert lines(card)[1] == "Lupe Ortiz"
    assert not any("5001" in line for line in lines(card))
    nameless = compose_card(view(platform="telegram", author_handle="tg:5001", author_name=""), NOW)
    assert lines(nameless)[1] == "tg:5001"  # nothing else to call her by
    named = compose_card(view(platform="telegram", author_handle="@lupe_md", author_name="Lupe Ortiz"), NOW)
    assert lines(named)[1] == "Lupe Ortiz (@lupe_md)"


def test_flags_reply_trust_notes_content_warning_and_nomination() -> None:
    card = compose_card(
        view(is_reply=True, content_warning="loss", reason="nomination", nominated_by="@bea_ms"),
        NOW,
        flags=["author's account opened 3 days ago"],
    )
    assert "⚑ a reply · author's account opened 3 days ago · content warning: loss" in lines(card)
    assert "Why: nominated by @bea_ms" in lines(card)
    assert not any(line.startswith("⚑") for line in lines(compose_card(view(), NOW)))


def test_two_of_n_tally_then_the_outcome_replaces_the_buttons() -> None:
    ana = DecisionView("ana", "approve", None, NOW)
    half = compose_card(view(approvals=1, approvals_required=2, decisions=(ana,)), NOW)
    assert "🗳 1 of 2 approvals: ana" in lines(half)
    assert labels(half)[:2] == ["✅ Approve", "❌ Reject"]
    rosa = DecisionView("rosa", "approve", None, NOW + timedelta(minutes=4))
    boost = AmplificationView("mastodon", "boost", "done", "https://med.example/@coalesce/9", None)
    done = compose_card(
        view(
            state="amplified",
            approvals=2,
            approvals_required=2,
            decisions=(ana, rosa),
            amplifications=(boost,),
        ),
        NOW,
    )
    assert "✅ Approved by ana, rosa · 2 Mar 15:04 UTC" in lines(done)
    assert "📣 boost on Mastodon: done" in lines(done)
    assert done.buttons == ()
    link = next(s for line in done.doc.lines for s in line if s.text == "done")
    assert link.url == "https://med.example/@coalesce/9"
    assert half.fingerprint() != done.fingerprint()


@pytest.mark.parametrize(
    ("state", "decisions", "expected"),
    [
        (
            "rejected",
            (DecisionView("rosa", "reject", "off topic", NOW),),
            "❌ Rejected by rosa · 2 Mar 15:00 UTC",
        ),
        (
            "expired",
            (DecisionView("system", "expire", None, NOW),),
            "⌛ Expired: nobody decided within 7 days",
        ),
        ("withdrawn", (), "↩️ Withdrawn: the member opted out or deleted the post"),
    ],
)
def test_final_states_show_what_happened_and_drop_the_buttons(
    state: str, decisions: tuple[DecisionView, ...], expected: str
) -> None:
    card = compose_card(view(state=state, decisions=decisions), NOW)
    assert any(line.startswith(expected) for line in lines(card)), lines(card)
    assert card.buttons == ()


def test_a_snoozed_card_says_until_when_and_can_still_be_decided() -> None:
    snooze = DecisionView("ana", "snooze", "until …", NOW)
    card = compose_card(
        view(state="snoozed", snoozed_until=NOW + timedelta(hours=24), decisions=(snooze,)), NOW
    )
    assert "💤 Snoozed by ana until 3 Mar 15:00 UTC" in lines(card)
    assert labels(card) == ["✅ Approve", "❌ Reject", "🔗 Open"]


def test_only_web_links_become_links() -> None:
    card = compose_card(view(url="javascript:alert(1)"), NOW)
    assert not any(s.url for line in card.doc.lines for s in line)
    assert "🔗 Open" not in labels(card)


UTF16 = TextLimits(max_length=40, counting="utf16")


def test_fit_cuts_member_text_between_words_and_keeps_the_link_line() -> None:
    doc = Doc.of(
        (Span("one two three four five six seven eight nine", untrusted=True, cuttable=True),),
        (Span("link", url="https://example.org/x"),),
    )
    fitted = doc.fit(UTF16)
    assert fitted.plain() == "one two three four five six seven…\nlink"
    assert doc.fit(TextLimits(max_length=500)) is doc
    with pytest.raises(ValueError, match="fixed parts"):
        Doc.of("x" * 50).fit(UTF16)


def test_cutting_counts_utf16_and_never_splits_a_link() -> None:
    assert cut_text("🩺🩺🩺 word", 6, UTF16) == "🩺🩺🩺"  # each stethoscope is two UTF-16 units
    assert cut_text("see https://example.org/very/long/path now", 20, UTF16) == "see"
    assert cut_text("unbreakable" * 3, 10, UTF16) == "unbreakabl"


# -- with the store ---------------------------------------------------------------------------------


def test_the_freeze_is_kept_in_the_database_for_every_worker(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    one = Amplifier(store, {}, settings, clock, worker="one")
    two = Amplifier(store, {}, settings, clock, worker="two")
    assert not one.frozen
    assert one.freeze("ana", clock.now()) is True
    assert two.frozen
    assert two.freeze("rosa", clock.now()) is False  # already frozen: nothing changed
    assert one.freeze("rosa", clock.now(), frozen=False) is True
    assert not two.frozen


async def test_nothing_is_amplified_while_frozen(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    (cid,) = store.ingest(Platform.MASTODON, [Item(post(now=clock.now()))], clock.now()).candidates
    queue.approve(cid, "rosa", clock.now())
    amplifier = Amplifier(store, {}, settings, clock)
    amplifier.freeze("ana", clock.now())
    assert amplifier.due(clock.now()) == [cid]
    assert await amplifier.run_due() == []
    assert queue.show(cid).state == "approved"


def test_expiry_is_an_audit_row_by_system(store: Store, settings: Settings, clock: FakeClock) -> None:
    queue = Queue(store, settings)
    (cid,) = store.ingest(Platform.MASTODON, [Item(post(now=clock.now()))], clock.now()).candidates
    expired = queue.expire(cid, clock.now() + timedelta(days=7), "nobody decided within 7 days")
    assert expired.state == "expired"
    assert [(d.curator, d.action, d.reason) for d in expired.decisions] == [
        ("system", "expire", "nobody decided within 7 days")
    ]


def test_a_candidate_view_knows_its_hashtags_and_the_authors_account_age(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    young = author("new@med.example")
    young = type(young)(**{**{f: getattr(young, f) for f in young.__slots__}, "created_at": clock.now()})
    (cid,) = store.ingest(Platform.MASTODON, [Item(post(by=young, now=clock.now()))], clock.now()).candidates
    shown = Queue(store, settings).show(cid)
    assert shown.hashtags == "latinasinmedicine"
    assert shown.author_created_at == clock.now()
