"""The Queue page: the Telegram card word for word, decisions by keyboard and by button, bulk
reject, filters, live updates from another curator and from the command line's operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.console.cards import compose_card
from bot.curation.flags import view_flags
from bot.domain import Platform
from bot.ops import queue as q_ops
from bot.store.store import Item
from tests.factories import author, post
from tests.web.conftest import Console, assert_accessible, sign_in


def queued(console: Console, *posts: Any, reason: str = "hashtag", by: str | None = None) -> list[int]:
    result = console.store.ingest(
        posts[0].platform,
        [Item(p, reason=reason, nominated_by=by) for p in posts],
        console.deps.clock.now(),
    )
    return list(result.candidates)


def state_of(console: Console, cid: int) -> str:
    return console.deps.curation.show(cid).state


def test_the_card_says_what_the_telegram_card_says(console: Console) -> None:
    (cid,) = queued(console, post("Starting my cardiology fellowship 🎉 #LatinasInMedicine"))
    client, _ = console.signed_in_client("ana")
    html = client.get("/queue").text
    view = console.deps.curation.show(cid)
    now = console.deps.clock.now()
    flags = [f.text for f in view_flags(console.settings.trust.flags, view, now)]
    card = compose_card(view, now, hashtags=console.settings.community.hashtags, flags=flags)
    for line in card.doc.lines:
        for span in line:
            if span.text.strip():
                assert span.text.replace("&", "&amp;").replace("'", "&#39;") in html, span.text
    assert f'href="{view.url}"' in html


def test_approve_with_the_keyboard_and_reject_with_a_reason(console: Console, page: Any) -> None:
    first, second = queued(console, post("First post #LatinasInMedicine"), post("Second #LatinasInMedicine"))
    sign_in(page, console, "ana", "/queue")
    assert_accessible(page)
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_selector(f"#c-{first}[data-state=approved]")
    assert state_of(console, first) == "approved"
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.keyboard.type("off topic")  # r put the cursor in the reason field
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#c-{second}[data-state=rejected]")
    view = console.deps.curation.show(second)
    assert view.state == "rejected"
    assert [d.reason for d in view.decisions if d.action == "reject"] == ["off topic"]
    assert "off topic" in page.inner_text(f"#c-{second}")
    assert not page.watched.page_errors


def test_snooze_and_bulk_reject_a_spam_wave(console: Console) -> None:
    spam = queued(console, *[post(f"buy now {i} #LatinasInMedicine") for i in range(3)])
    keep = queued(console, post("a real post #LatinasInMedicine"))[0]
    client, csrf = console.signed_in_client("rosa")
    answer = client.post(
        "/queue/reject-many", data={"csrf_token": csrf, "ids": [str(i) for i in spam], "reason": "spam"}
    )
    assert answer.status_code == 303
    assert [state_of(console, i) for i in spam] == ["rejected"] * 3
    snoozed = client.post(
        f"/queue/{keep}/snooze", data={"csrf_token": csrf}, headers={"Accept": "application/json"}
    )
    assert snoozed.json()["ok"] is True
    assert state_of(console, keep) == "snoozed"
    again = client.post(
        f"/queue/{spam[0]}/approve", data={"csrf_token": csrf}, headers={"Accept": "application/json"}
    )
    assert again.status_code == 409
    assert "already rejected" in again.json()["message"]


def test_filters_by_platform_state_and_flag(console: Console) -> None:
    on_mastodon = queued(console, post("from mastodon #LatinasInMedicine"))[0]
    on_bluesky = queued(
        console,
        post("from bluesky #LatinasInMedicine", platform=Platform.BLUESKY, by=author("x.bsky.social")),
    )[0]
    client, _ = console.signed_in_client("ana")
    html = client.get("/queue?platform=bluesky").text
    assert f'id="c-{on_bluesky}"' in html
    assert f'id="c-{on_mastodon}"' not in html
    assert f'id="c-{on_mastodon}"' not in client.get("/queue?state=rejected").text
    flagged = client.get("/queue?flag=bot").text
    assert 'id="c-' not in flagged


def test_two_person_approval_is_shown(console_factory: Any) -> None:
    console = console_factory(curation={"approvals_required": 2})
    cid = queued(console, post("needs two #LatinasInMedicine"))[0]
    client, csrf = console.signed_in_client("ana")
    first = client.post(
        f"/queue/{cid}/approve", data={"csrf_token": csrf}, headers={"Accept": "application/json"}
    )
    assert "1 of 2 approvals" in first.json()["card"]
    assert state_of(console, cid) == "pending"


def test_another_curators_decision_and_a_command_line_decision_appear_live(
    console: Console, new_page: Any
) -> None:
    first, second = queued(console, post("one #LatinasInMedicine"), post("two #LatinasInMedicine"))
    ana, rosa = new_page(), new_page()
    sign_in(ana, console, "ana", "/queue")
    sign_in(rosa, console, "rosa", "/queue")
    ana.wait_for_function("document.body.dataset.live === 'on'")
    rosa.click(f"#c-{first} form[data-act=approve] button")
    ana.wait_for_selector(f"#c-{first}[data-state=approved]")
    assert "rosa" in ana.inner_text(f"#c-{first}")
    # the command line (and the Telegram console) decide through the same operations
    result = q_ops.reject(console.deps.curation, second, "lucia", console.deps.clock.now(), reason="dup")
    assert result.ok
    ana.wait_for_selector(f"#c-{second}[data-state=rejected]")


def test_the_queue_fits_a_phone(console: Console, new_page: Any, tmp_path: Path) -> None:
    queued(
        console,
        post(
            "A long post about a residency match, with a link https://med.example/a/very/long/path "
            "and more words to wrap across the narrow screen #LatinasInMedicine"
        ),
        post("Second post #LatinasInMedicine", by=author("lucia.fernandez.garcia@hospital.example")),
    )
    page = new_page(width=390, height=844)
    sign_in(page, console, "ana", "/queue")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "queue-390.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert_accessible(page)
