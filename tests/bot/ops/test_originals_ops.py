"""Original posts through their operations, as the command line and the web console call them:
the store on SQLite and PostgreSQL, the clock injected, the platforms' limits and markup from the
adapters' catalog (nothing here reaches a platform; publishing is tests/bot/series/test_originals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from adapters.registry import REGISTRY, settings_class
from bot.config import Settings, parse
from bot.domain import Platform
from bot.inert import WORD_JOINER
from bot.ops import audit, safety
from bot.ops import originals as ops
from bot.ops.result import Outcome
from bot.schema import Environment
from bot.series.original_text import MAX_PARTS
from bot.series.originals import OriginalBook
from bot.store.store import Store
from bot.text import graphemes
from tests.conftest import BASE_CONFIG

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PLATFORMS = {
    "mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"},
    "bluesky": {"handle": "coalesce.test", "app_password": "${BLUESKY_PASSWORD}"},
    "telegram": {"bot_token": "${TELEGRAM_TOKEN}", "channel_id": -1001000000003},
}


def three_platforms(**curation: Any) -> Settings:
    data = {**BASE_CONFIG, "platforms": PLATFORMS, "curation": curation}
    env = Environment({"MASTODON_TOKEN": "t", "BLUESKY_PASSWORD": "p", "TELEGRAM_TOKEN": "1:x"})
    return parse(data, env, schemas=settings_class)


@pytest.fixture
def deps(store: Store) -> ops.Deps:
    return ops.Deps(store, three_platforms(approvals_required=2), REGISTRY)


def fits(result: Any) -> dict[Platform, Any]:
    data = result.data.preview if hasattr(result.data, "preview") else result.data
    return {f.platform: f for f in data.platforms}


def test_two_person_approval_every_decision_audited(deps: ops.Deps) -> None:
    written = ops.new(deps, NOW, "ana", "Welcome to the new residents! #LatinasInMedicine", approve=True)
    assert written.ok, written.message
    post = written.data.post  # type: ignore[union-attr]
    assert (post.state, post.approvals, post.needs) == ("pending", 1, 1)
    assert "waits for 1 more approval" in written.message

    again = ops.approve(deps, NOW, "ana", post.id)
    assert again.outcome is Outcome.REFUSED
    assert again.exit_code == 1
    assert "already has your approval" in again.message

    stranger = ops.approve(deps, NOW, "mallory", post.id)
    assert stranger.outcome is Outcome.USAGE
    assert "mallory" in stranger.message

    second = ops.approve(deps, NOW, "rosa", post.id, reason="lovely")
    assert second.ok
    assert second.data is not None
    assert (second.data.state, second.data.approved_by) == ("approved", ("ana", "rosa"))
    assert "choose when it goes out" in second.message
    assert [(d.curator, d.action, d.reason) for d in second.data.decisions] == [
        ("ana", "write", None),
        ("ana", "approve", "the writer's approval"),
        ("rosa", "approve", "lovely"),
    ]


def test_an_edit_after_approval_needs_new_approvals(deps: ops.Deps) -> None:
    post = ops.new(deps, NOW, "ana", "First text", approve=True, send_now=True).data.post  # type: ignore[union-attr]
    assert ops.approve(deps, NOW, "rosa", post.id).data.state == "approved"  # type: ignore[union-attr]
    edited = ops.edit(deps, NOW + timedelta(minutes=1), "lucia", post.id, "Second text")
    assert edited.ok
    assert edited.data is not None
    assert (edited.data.post.state, edited.data.post.approvals, edited.data.post.text) == (
        "pending",
        0,
        "Second text",
    )
    # the approvals of the old text no longer count: ana and rosa may approve the new one
    assert ops.approve(deps, NOW, "ana", post.id).data.approvals == 1  # type: ignore[union-attr]
    final = ops.approve(deps, NOW, "rosa", post.id)
    assert final.data is not None
    assert final.data.state == "approved"
    assert final.data.due_at == NOW  # "send now" kept its time


def test_reject_cancel_and_schedule_refuse_what_is_decided(deps: ops.Deps) -> None:
    a = ops.new(deps, NOW, "ana", "To be rejected").data.post.id  # type: ignore[union-attr]
    b = ops.new(deps, NOW, "ana", "To be cancelled").data.post.id  # type: ignore[union-attr]
    assert ops.reject(deps, NOW, "rosa", a, reason="off topic").data.state == "rejected"  # type: ignore[union-attr]
    assert ops.approve(deps, NOW, "lucia", a).outcome is Outcome.REFUSED
    assert ops.cancel(deps, NOW, "ana", b).data.state == "cancelled"  # type: ignore[union-attr]
    assert ops.edit(deps, NOW, "ana", b, "new").outcome is Outcome.REFUSED
    assert ops.schedule(deps, NOW, "ana", b, send_now=True).outcome is Outcome.REFUSED
    past = ops.schedule(deps, NOW, "ana", a, at=NOW - timedelta(hours=1))
    assert past.outcome is Outcome.USAGE
    assert "in the past" in past.message
    assert ops.schedule(deps, NOW, "ana", a).outcome is Outcome.USAGE
    missing = ops.approve(deps, NOW, "ana", 9999)
    assert missing.outcome is Outcome.REFUSED
    assert "no original post #9999" in missing.message


def test_bad_input_is_a_usage_error_and_nothing_is_written(deps: ops.Deps) -> None:
    for text in ("", "   \n  "):
        assert ops.new(deps, NOW, "ana", text).outcome is Outcome.USAGE
    wrong = ops.new(deps, NOW, "ana", "hello", platforms=["myspace"])
    assert wrong.outcome is Outcome.USAGE
    assert "myspace" in wrong.message
    names = ops.new(deps, NOW, "ana", "Thanks to rosa for the list")
    assert names.outcome is Outcome.USAGE
    assert "names the curator rosa" in names.message
    huge = ops.new(deps, NOW, "ana", "word " * 5000)
    assert huge.outcome is Outcome.USAGE
    assert ops.listing(deps).data.items == ()  # type: ignore[union-attr]
    assert ops.listing(deps, states=["nope"]).outcome is Outcome.USAGE


def test_links_count_23_on_mastodon_graphemes_on_bluesky() -> None:
    d = ops.Deps(None, three_platforms(), REGISTRY)  # type: ignore[arg-type]
    link = "https://example.org/" + "x" * 200
    text = "Read this: " + link
    found = fits(ops.preview(d, text))
    assert found[Platform.MASTODON].parts[0].length == len("Read this: ") + 23
    assert found[Platform.BLUESKY].parts[0].length == len(text)
    # 299 family emoji are 299 graphemes (and far more code points): one Bluesky post
    family = "👩‍👩‍👧‍👦" * 299
    one = fits(ops.preview(d, family))
    assert (one[Platform.BLUESKY].parts[0].length, one[Platform.BLUESKY].thread) == (299, False)
    assert one[Platform.MASTODON].thread  # 299 × 7 code points is over 500 on Mastodon


def test_a_long_text_is_a_numbered_thread_and_breaks_where_asked() -> None:
    d = ops.Deps(None, three_platforms(), REGISTRY)  # type: ignore[arg-type]
    words = " ".join(f"word{i}" for i in range(400))  # ~3,200 characters
    found = fits(ops.preview(d, words))
    bluesky, telegram = found[Platform.BLUESKY], found[Platform.TELEGRAM]
    assert bluesky.thread
    assert bluesky.fits
    assert telegram.parts[0].shown == words
    n = len(bluesky.parts)
    assert [p.shown.rsplit(" ", 1)[1] for p in bluesky.parts] == [f"{i}/{n}" for i in range(1, n + 1)]
    assert all(len(graphemes(p.shown)) <= 300 for p in bluesky.parts)
    chosen = fits(ops.preview(d, "First part\n---\nSecond part"))
    assert [p.shown for p in chosen[Platform.TELEGRAM].parts] == ["First part 1/2", "Second part 2/2"]
    too_many = ops.new(
        ops.Deps(None, three_platforms(), REGISTRY), NOW, "ana", "\n---\n".join(["x"] * (MAX_PARTS + 1))
    )  # type: ignore[arg-type]
    assert too_many.outcome is Outcome.USAGE
    assert "does NOT fit" in too_many.message


def test_a_hostile_text_is_inert_in_every_preview() -> None:
    d = ops.Deps(None, three_platforms(), REGISTRY)  # type: ignore[arg-type]
    text = "Hi @victim@evil.example and @someone <script>alert(1)</script> javascript:alert(1) #Spam /start"
    found = fits(ops.preview(d, text))
    masto = found[Platform.MASTODON].parts[0].text
    assert f"@{WORD_JOINER}victim" in masto
    assert f"#{WORD_JOINER}Spam" in masto
    tg = found[Platform.TELEGRAM].parts[0]
    assert "<script>" not in tg.text
    assert "&lt;script&gt;" in tg.text
    assert f"/{WORD_JOINER}start" in tg.shown
    assert f"@{WORD_JOINER}someone" in tg.shown


@given(st.text(max_size=1200))
@hsettings(max_examples=60, deadline=None)
def test_any_text_previews_without_error_and_every_part_is_measured(text: str) -> None:
    d = ops.Deps(None, three_platforms(), REGISTRY)  # type: ignore[arg-type]
    result = ops.preview(d, text)
    assert result.ok
    for f in result.data.platforms:  # type: ignore[union-attr]
        assert all(p.fits == (p.length <= f.max_length) for p in f.parts)


def test_the_freeze_is_said_and_listing_shows_what_waits(deps: ops.Deps, store: Store) -> None:
    safety.freeze(store, deps.settings, "ana", NOW)
    post = ops.new(deps, NOW, "ana", "During the freeze", approve=True, at=NOW + timedelta(days=1))
    assert post.data is not None
    assert post.data.frozen
    assert "frozen" in post.message
    listed = ops.listing(deps, states=["pending"])
    assert listed.ok
    assert [o.id for o in listed.data.items] == [post.data.post.id]
    assert "#1 pending 1/2" in listed.message
    assert OriginalBook(store, 2).get(post.data.post.id).due_at == NOW + timedelta(days=1)


def test_every_step_on_an_original_is_in_the_audit_log(deps: ops.Deps) -> None:
    text = "<script>alert(1)</script> A word from the curators\nsecond line #LatinasInMedicine"
    written = ops.new(deps, NOW, "ana", text, approve=True)
    assert written.data is not None
    oid = written.data.post.id
    later = NOW + timedelta(hours=1)
    assert ops.approve(deps, later, "rosa", oid).ok
    assert ops.schedule(deps, later, "rosa", oid, at=NOW + timedelta(days=1)).ok
    assert ops.cancel(deps, later + timedelta(minutes=1), "lucia", oid, reason="wrong week").ok
    log = audit.log(deps.store, deps.settings, later + timedelta(hours=1), kinds=["original"])
    assert log.data is not None
    steps = [(e.action, e.actor) for e in log.data.entries]
    assert steps[0] == ("cancel", "lucia")
    assert {("write", "ana"), ("approve", "ana"), ("approve", "rosa"), ("schedule", "rosa")} <= set(steps)
    first = log.data.entries[0]
    assert first.subject == f"#{oid} <script>alert(1)</script> A word from the curators"  # as written
    assert (first.detail, first.ref, first.member) == ("wrong week", f"original:{oid}", None)
    by_rosa = audit.log(
        deps.store, deps.settings, later + timedelta(hours=1), actor="rosa", kinds=["original"]
    )
    assert by_rosa.data is not None
    assert {e.actor for e in by_rosa.data.entries} == {"rosa"}
    everything = audit.log(deps.store, deps.settings, later + timedelta(hours=1))
    assert everything.data is not None
    assert "original" in {e.kind for e in everything.data.entries}  # in the log with no kind chosen
