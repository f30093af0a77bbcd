"""Compose and Calendar in a real browser: a curator writes a thread and schedules it, sees it fit
each platform as she types, a second curator approves it (two-person approval is on), and it is in
the calendar with each platform's parts; axe on both pages; a phone-sized screenshot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.series.originals import OriginalBook
from tests.web.conftest import Console, ConsoleFactory, assert_accessible, sign_in

CHICAGO = "America/Chicago"
SHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
THREAD = (
    "Our community turns five this week: thank you for every post and every nomination. "
    "<script>alert(1)</script> @someone@evil.example\n---\n"
    + " ".join(f"word{i}" for i in range(90))
    + " #LatinasInMedicine"
)


@pytest.fixture
def planning(console_factory: ConsoleFactory) -> Console:
    """A console with the series (the calendar and compose need the platforms' catalog) and
    two-person approval."""
    return console_factory(
        platforms={"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}},
        curation__approvals_required=2,
        series={
            "timezone": CHICAGO,
            "schedule": [{"name": "digest", "kind": "digest", "cron": "0 9 * * mon"}],
        },
    )


def test_compose_schedule_approve_and_see_it_in_the_calendar(planning: Console, new_page: Any) -> None:
    ana = new_page()
    sign_in(ana, planning, "ana", "/compose")
    assert_accessible(ana)
    ana.fill("#compose-text", THREAD)
    fit = ana.locator("#fit [data-platform=mastodon] h3")
    fit.filter(has_text="a thread of 3 posts").wait_for()
    parts = ana.locator("#fit [data-platform=mastodon] .fit-text").all_inner_texts()
    assert parts[0].startswith("Our community turns five")
    assert "<script>alert(1)</script>" in parts[0]  # shown as text
    assert "@\u2060someone" in parts[0]  # the mention made inert, as the platform gets it
    assert ana.evaluate("document.querySelectorAll('#fit script').length") == 0
    ana.check("#when-at")
    ana.fill("#compose-at", "2026-03-04T10:00")  # Wednesday, 10:00 in Chicago
    ana.click("#compose-submit")
    ana.locator("#toasts").filter(has_text="waits for 1 more approval").wait_for()
    (post,) = OriginalBook(planning.store, 2).listing()
    assert (post.state, post.approvals, post.due_at) == (
        "pending",
        1,
        datetime(2026, 3, 4, 16, 0, tzinfo=UTC),
    )

    rosa = new_page(width=390, height=844)
    sign_in(rosa, planning, "rosa", "/compose")
    rosa.locator(f"#original-{post.id}").filter(has_text="waits for 1 more approval").wait_for()
    rosa.click(f"#approve-{post.id}")
    rosa.locator("#toasts").filter(has_text="is approved and goes out at").wait_for()
    assert OriginalBook(planning.store, 2).get(post.id).approved_by == ("ana", "rosa")
    assert rosa.evaluate("document.documentElement.scrollWidth") <= 390
    assert not rosa.watched.page_errors
    assert not ana.watched.page_errors

    rosa.goto(planning.url + "/calendar?view=week&from=2026-03-04")
    entry = rosa.locator(f"[data-ref='original:{post.id}']")
    entry.locator("summary").click()
    assert "10:00" in entry.locator("summary").inner_text()
    shown = entry.locator(".cal-part").all_inner_texts()
    assert len(shown) == 3
    assert shown[0].startswith("Our community turns five")
    assert shown[0].endswith("1/3")
    assert rosa.locator("[data-ref=digest]").count() == 1  # Monday's digest is in the week too
    assert_accessible(rosa)
    assert rosa.evaluate("document.documentElement.scrollWidth") <= 390
    SHOTS.mkdir(parents=True, exist_ok=True)
    rosa.screenshot(path=str(SHOTS / "calendar-390.png"), full_page=True)
    rosa.goto(planning.url + "/compose")
    rosa.fill("#compose-text", THREAD)
    rosa.locator("#fit [data-platform=mastodon] h3").filter(has_text="a thread of 3 posts").wait_for()
    rosa.screenshot(path=str(SHOTS / "compose-390.png"), full_page=True)

    rosa.goto(planning.url + "/calendar?view=month&from=2026-03-04")
    assert rosa.locator(f"[data-ref='original:{post.id}']").count() == 1
    assert rosa.locator("[data-ref=digest]").count() == 5  # every Monday of March 2026
    assert_accessible(rosa)


def test_the_preview_needs_the_form_token(planning: Console) -> None:
    client, csrf = planning.signed_in_client("ana")
    refused = client.post("/compose/preview", data={"text": "hello"})
    assert refused.status_code == 403
    answer = client.post("/compose/preview", data={"text": "hello"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json()["data"]["platforms"][0]["parts"][0]["shown"] == "hello"
