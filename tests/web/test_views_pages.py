"""The opportunities, interviews, members, report and audit pages in a real browser (chromium):
edit an opportunity, import a file with problems, search a member and freeze then unfreeze her,
the report's chart and CSV, the audit filter, the interview columns; axe on each page; and a
script or a javascript: link in every member-supplied field never runs and never links."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from bot.domain import Author, Platform
from bot.ops import interviews, opportunities, safety
from bot.store import models as m
from bot.store.store import Item
from tests.factories import post
from tests.web.conftest import Console, ConsoleFactory, assert_accessible, sign_in

SCRIPT = '<script>alert("xss")</script><img src=x onerror=alert(2)>'
MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
SCHEDULE = [
    {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": "UTC"},
    {"name": "interview", "kind": "interview", "cron": "0 12 * * thu", "timezone": "UTC"},
]


@pytest.fixture
def views(console_factory: ConsoleFactory, tmp_path: Path) -> Console:
    """A console with the series, and a store holding a hostile member, an opportunity that went
    in a digest, and interviews at several stages."""
    console = console_factory(platforms=MASTODON, series={"schedule": SCHEDULE})
    store, settings, clock = console.store, console.settings, console.deps.clock
    evil = Author("acc-evil", "evil@bad.example", SCRIPT)
    maria = Author("acc-maria", "maria@med.example", "María Pérez")
    store.ingest(Platform.MASTODON, [Item(post(SCRIPT, by=evil)), Item(post(by=maria))], clock.now())
    with store.engine.begin() as conn:
        conn.execute(
            update(m.Account).where(m.Account.handle == "evil@bad.example").values(url="javascript:alert(3)")
        )
    now = clock.now()
    added = opportunities.add(store, settings, now, "ana", title=SCRIPT, url="https://grants.example/a")
    assert added.data is not None
    parts = [f"Opportunities this week\n{SCRIPT}\nhttps://grants.example/a"]
    with store.engine.begin() as conn:
        conn.execute(
            insert(m.Publication).values(
                community_id=store.community_id,
                series="digest",
                slot=now - timedelta(days=1),
                platform="mastodon",
                state="done",
                parts_total=1,
                started_at=now,
                completed_at=now,
                plan=json.dumps(parts),
            )
        )
    invited = interviews.invite(store, settings, now, "ana", name=SCRIPT, handle="javascript:alert(4)")
    assert invited.data is not None
    answers = tmp_path / "a.yaml"
    iid = invited.data.interview.id
    answers.write_text(
        f"interview: {iid}\nanswers:\n  role: {json.dumps(SCRIPT)}\n  goals: Cardio\n  outside: Salsa\n"
        "  advice: Ask\n",
        encoding="utf-8",
    )
    assert console.deps.series_runner is not None
    assert interviews.import_answers(console.deps.series_runner(), now, "rosa", answers).ok
    interviews.invite(store, settings, now, "ana", name="Waiting Wanda")
    console.opportunity = added.data.opportunity.id  # type: ignore[attr-defined]
    console.interview = iid  # type: ignore[attr-defined]
    return console


def _no_script_ran(page: Any) -> None:
    assert page.watched.dialogs == []
    assert not page.watched.page_errors
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith(("/", "http://", "https://", "#")) for h in hrefs), hrefs
    assert page.locator("main script").count() == 0


def test_edit_an_opportunity_and_import_a_file_with_problems(
    views: Console, page: Any, tmp_path: Path
) -> None:
    oid = views.opportunity  # type: ignore[attr-defined]
    sign_in(page, views, "ana", "/opportunities")
    assert SCRIPT in page.inner_text(f"#opportunity-{oid} .opp-title")  # shown as text
    assert "digest · mastodon" in page.inner_text(f"#opportunity-{oid} .digests")
    assert_accessible(page)
    _no_script_ran(page)

    page.click(f"#edit-{oid}")
    page.fill("#edit-form input[name=title]", "Summer research grant")
    page.fill("#edit-form input[name=deadline]", "2026-06-30")
    page.click("#save")
    page.wait_for_selector(f"#opportunity-{oid} .opp-title:has-text('Summer research grant')")
    assert "2026-06-30" in page.inner_text(f"#opportunity-{oid}")
    assert "updated" in page.inner_text("#toasts")
    assert opportunities.OpportunityList(views.store).get(oid).title == "Summer research grant"

    bad = tmp_path / "list.yaml"
    bad.write_text("- title: ok\n  url: javascript:alert(1)\n- url: https://x.example\n", encoding="utf-8")
    page.set_input_files("#import-form input[type=file]", str(bad))
    page.click("#import")
    page.wait_for_selector("#toasts .toast-error")
    toast = page.inner_text("#toasts")
    assert "list.yaml: nothing imported" in toast
    assert "1. entry 1" in toast
    assert "2. entry 2" in toast
    _no_script_ran(page)


def test_search_a_member_freeze_and_unfreeze(views: Console, new_page: Any, tmp_path: Path) -> None:
    page = new_page(width=390, height=844)
    sign_in(page, views, "ana", "/members")
    page.fill("#q", "example")
    page.click("#search")
    page.wait_for_selector(".person")
    names = page.locator(".person-name").all_inner_texts()
    assert SCRIPT in names  # the hostile name, as text
    assert page.locator("a:has-text('evil@bad.example')").count() == 0  # javascript: profile: no link
    assert_accessible(page)
    _no_script_ran(page)

    maria = page.locator(".person", has_text="María Pérez")
    page.watched.accept_dialogs = True
    maria.locator("button[data-action=freeze]").click()
    page.wait_for_selector(".person:has-text('María Pérez') .frozen")
    assert page.watched.dialogs[-1].startswith("Stop amplifying this member")
    assert "Frozen" in page.inner_text("#toasts") or "frozen" in page.inner_text("#toasts")
    assert page.input_value("#q") == "example"  # back to the same search
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "members-390.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    page.locator(".person", has_text="María Pérez").locator("button[data-action=unfreeze]").click()
    page.wait_for_selector(".person:has-text('María Pérez') button[data-action=freeze]")
    assert page.locator(".person:has-text('María Pérez') .frozen").count() == 0


def test_the_report_shows_its_chart_and_the_csv_downloads(views: Console, page: Any) -> None:
    sign_in(page, views, "ana", "/report")
    page.fill("#since", "30d")
    page.click("#show")
    page.wait_for_url(lambda url: "since=30d" in url)
    page.wait_for_function("document.getElementById('chart').complete")
    assert page.evaluate("document.getElementById('chart').naturalWidth") > 0
    assert "period:" in page.inner_text("#figures")
    with page.expect_download() as download:
        page.click("#csv")
    saved = download.value.path()
    assert Path(saved).read_text(encoding="utf-8").startswith("section,metric,key,value")
    assert download.value.suggested_filename.startswith("report-")
    assert_accessible(page)
    page.fill("#since", "someday")
    page.click("#show")
    page.wait_for_selector(".summary.error")
    assert "cannot read 'someday'" in page.inner_text(".summary.error")


def test_the_audit_log_filters(views: Console, page: Any) -> None:
    clock = views.deps.clock
    assert safety.freeze_member(views.store, views.settings, "maria@med.example", "rosa", clock.now()).ok
    assert safety.block(
        views.store, views.settings, "domain", "bad.example", "ana", clock.now(), reason=SCRIPT
    ).ok
    sign_in(page, views, "ana", "/audit")
    kinds = set(page.eval_on_selector_all("#audit tbody tr", "rows => rows.map(r => r.dataset.kind)"))
    assert {"freeze", "block", "opportunity", "interview", "decision"} <= kinds
    assert SCRIPT in page.inner_text("#audit")  # a reason quoting a member, as text
    assert_accessible(page)
    _no_script_ran(page)
    page.check("input[name=kind][value=freeze]")
    page.fill("#by", "rosa")
    page.click("#filter")
    page.wait_for_url(lambda url: "kind=freeze" in url)
    rows = page.eval_on_selector_all("#audit tbody tr", "rows => rows.map(r => r.dataset.kind)")
    assert rows == ["freeze"]
    assert page.inner_text("#audit tbody .actor") == "rosa"
    assert page.locator("main form[method=post]").count() == 0  # read-only


def test_interview_columns_with_fit_and_approve(views: Console, page: Any) -> None:
    iid = views.interview  # type: ignore[attr-defined]
    sign_in(page, views, "ana", "/interviews")
    assert page.locator("#stage-answered .iv-name").all_inner_texts() == [SCRIPT]
    assert "Waiting Wanda" in page.inner_text("#stage-invited")
    assert page.inner_text(f"#interview-{iid} [data-platform=mastodon]") == "mastodon: fits"
    assert_accessible(page)
    _no_script_ran(page)
    page.click(f"#approve-{iid}")
    page.wait_for_selector(f"#stage-approved #interview-{iid}")
    page.fill(f"#interview-{iid} input[name=via]", "email")
    page.click(f"#confirm-{iid}")
    page.wait_for_selector(f"#stage-confirmed #interview-{iid}")
    _no_script_ran(page)
