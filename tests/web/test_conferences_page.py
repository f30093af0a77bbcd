"""The Conferences page: a curator's path in a phone-sized browser (add a conference, name a
champion, add a meet-up, preview, hold and release a day's highlights, read the report and its
files, remove the conference), and at the HTTP level the bad input a form can send — bad dates,
an unknown conference or member, hostile names — each answered with a clear error and nothing
lost."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from bot.domain import Author, Platform
from bot.ops import conferences, meetups
from bot.ops import queue as q_ops
from bot.store import models as m
from bot.store.store import Item
from tests.factories import post
from tests.web.conftest import Console, ConsoleFactory, assert_accessible, sign_in
from tests.web.every import changed, page_problems, snapshot

MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
SCHEDULE = [{"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": "UTC"}]
SHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
HOSTILE = "<script>alert('xss')</script>\"><img src=x onerror=alert(1)>"
MARIA = Author("acc-maria", "maria@med.example", "María Pérez")


@pytest.fixture
def conference_console(console_factory: ConsoleFactory) -> Console:
    """A console with the series (the highlights preview needs the platforms' catalog) and a
    member who posted once with the conference tag — the clock is on 2 March 2026 — and whose
    post a curator approved."""
    console = console_factory(platforms=MASTODON, series={"schedule": SCHEDULE})
    now = console.deps.clock.now()
    tags = ("LatinasInMedicine", "MedConf26")
    text = "My poster on rural clinics is up in Hall B! #MedConf26 #LatinasInMedicine"
    (cid,) = console.store.ingest(Platform.MASTODON, [Item(post(text, by=MARIA, tags=tags))], now).candidates
    assert q_ops.approve(console.deps.curation, cid, "rosa", now).ok
    with console.store.engine.begin() as conn:
        conn.execute(update(m.Post).values(engagement=7))
    return console


def _toast(page: Any, words: str) -> None:
    page.locator("#toasts").filter(has_text=words).wait_for()


@pytest.mark.usefixtures("browser")
def test_a_curator_runs_a_conference_from_her_phone(conference_console: Console, new_page: Any) -> None:
    console = conference_console
    page = new_page(width=390, height=844)
    page.watched.accept_dialogs = True  # the confirmations (hold, take back, remove) are answered yes
    sign_in(page, console, "ana", "/conferences")
    assert_accessible(page)

    page.fill("#add-name", f"MedConf {HOSTILE}")
    page.fill("#add-tag", "MedConf26")
    page.fill("#add-from", "2026-03-01")
    page.fill("#add-to", "2026-03-04")
    page.fill("#add-timezone", "UTC")
    page.click("#add")
    _toast(page, "(#medconf26) added")
    assert page.inner_text("#conference-name").startswith(f"MedConf {HOSTILE}")  # shown as text
    assert page.inner_text("#conference-state") == "on now"

    page.fill("#champion-handle", "maria@med.example")
    page.click("#name-champion")
    _toast(page, "maria@med.example is a champion of MedConf")
    assert "maria@med.example" in page.inner_text("#champions")

    page.fill("#meetup-at", "2026-03-03T18:30")
    page.fill("#meetup-place", "Hall B, by the coffee")
    page.fill("#meetup-ribbon", "Ana wears the teal ribbon")
    page.click("#add-meetup")
    _toast(page, "Meet-up #")
    assert "Hall B, by the coffee" in page.inner_text("#meetups")
    assert "Ana wears the teal ribbon" in page.inner_text("#meetups")

    # the list says it is on now, with its champion; its name leads back to its page
    page.click("text=All conferences")
    row = page.locator("#conferences tbody tr").first
    assert "on now" in row.inner_text()
    assert "maria@med.example (mastodon)" in row.inner_text()
    row.locator("a.cf-name").click()
    page.wait_for_selector("#highlights")

    # the highlights of today (2 March) as Mastodon would get them: María's approved post
    page.select_option("#day", "2026-03-02")
    page.click("#show-day")
    part = page.locator("[data-platform=mastodon] .cf-part").first.inner_text()
    assert "day 2 (March 2): highlights from our members" in part
    assert "rural clinics" in part
    assert "María Pérez" in part
    assert "not posted yet" in page.inner_text("[data-platform=mastodon] .hl-state")
    page.click("#hold")
    _toast(page, "The highlights of 2026-03-02 are held on mastodon.")
    assert "held" in page.inner_text("[data-platform=mastodon] .hl-state")
    assert page.locator("#hold").count() == 0  # nothing left to hold that day
    page.click("#release")
    _toast(page, "The highlights of 2026-03-02 will go out on mastodon.")
    assert "not posted yet" in page.inner_text("[data-platform=mastodon] .hl-state")

    # the report: the figures, the top post, the chart (drawn by a child process) and the files
    assert re.search(r"Posts\D*1", page.inner_text("#figures"))
    assert "María Pérez" in page.inner_text("#top-posts")
    chart = page.locator("#chart")
    chart.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#chart').complete")
    assert page.evaluate("document.querySelector('#chart').naturalWidth") > 0
    csv = page.request.get(page.url.split("#")[0].split("?")[0] + "/report.csv")
    assert csv.ok
    assert csv.text().startswith("conference,figure,value\nmedconf26,posts,1\n")
    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "conference-walk-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.click("#champions .take-back")
    _toast(page, "is no longer a champion")
    page.click("#edit summary")
    page.click("#remove")
    _toast(page, "removed; its champions lose their role")
    assert page.url.endswith("/conferences")
    assert "No conferences yet." in page.inner_text("main")
    assert page.watched.dialogs == [
        "Keep this day's highlights from going out?",
        "Take the champion's role back from this member?",
        "Remove this conference? Its champions lose their role.",
    ]
    assert page.watched.page_errors == []


# -- at the HTTP level -----------------------------------------------------------------------------


def _post(client: httpx.Client, csrf: str, path: str, **data: str) -> tuple[str, str]:
    """POST a form: where it sends the curator back, and the message shown there."""
    answer = client.post(path, data={"csrf_token": csrf, **data})
    assert answer.status_code == 303, (path, answer.status_code, answer.text[:300])
    location = answer.headers["location"]
    html = client.get(location).text
    assert page_problems(html) == [], location
    found = re.search(r'<div class="toast toast-(\w+)">(.*?)</div>', html, re.S)
    assert found is not None, html[:500]
    return location, f"{found[1]}: {found[2]}"


CONFERENCE = {
    "name": "MedConf",
    "tag": "MedConf26",
    "starts_on": "2026-03-01",
    "ends_on": "2026-03-04",
    "timezone": "UTC",
    "match": "community_tag",
    "highlights_at": "20:00",
}


def test_bad_input_is_refused_with_a_clear_error_and_nothing_lost(conference_console: Console) -> None:
    console = conference_console
    client, csrf = console.signed_in_client("ana")
    where, said = _post(client, csrf, "/conferences/add", **CONFERENCE)
    assert said.startswith("ok: Conference MedConf (#medconf26) added")
    home = where
    before = snapshot(console.store)
    other = {**CONFERENCE, "tag": "Other"}
    maria = {"platform": "mastodon", "handle": "maria@med.example"}
    hall = {"place": "Hall", "ribbon": "Teal"}
    refusals = [
        ("/conferences/add", {**other, "starts_on": "2026-02-30"}, "must be a date like"),
        ("/conferences/add", {**other, "ends_on": "2026-02-27"}, "ends (2026-02-27) before"),
        ("/conferences/add", {**other, "ends_on": "2026-05-01"}, "at most 32 days"),
        ("/conferences/add", {**CONFERENCE, "tag": "no tag!"}, "is not a hashtag"),
        ("/conferences/add", {**CONFERENCE, "tag": "#medconf26"}, "is already a conference"),
        ("/conferences/add", {**other, "timezone": "Mars/Olympus"}, "is not a time zone"),
        ("/conferences/add", {**CONFERENCE, "name": "  "}, "needs a name"),
        ("/conferences/add", {**other, "match": "everyone"}, "--match must be one of"),
        ("/conferences/add", {**other, "highlights_at": "25:00"}, "local time like 20:00"),
        (f"{home}/edit", {**CONFERENCE, "starts_on": "soon"}, "must be a date like"),
        ("/conferences/99999/edit", CONFERENCE, "no such conference"),
        ("/conferences/99999/champions/add", maria, "no such"),
        (f"{home}/champions/add", {"platform": "mastodon", "handle": HOSTILE}, "no member"),
        (f"{home}/champions/add", {**maria, "platform": "myspace"}, "--platform must"),
        (f"{home}/champions/add", {"platform": "mastodon", "handle": " "}, "give the member's handle"),
        (f"{home}/champions/remove", maria, "not a champion"),
        (f"{home}/meetups/add", {**hall, "at": "2026-03-01T09:00"}, "in the past"),
        (f"{home}/meetups/add", {**hall, "at": "tomorrow"}, "must be a local time"),
        (f"{home}/meetups/add", {"at": "2026-03-03T18:00", "place": "", "ribbon": "Teal"}, "needs a place"),
        (f"{home}/meetups/add", {"at": "2026-03-03T18:00", "place": "x" * 301, "ribbon": "T"}, "at most 300"),
        (f"{home}/meetups/99999/remove", {}, "no meet-up #99999 at #medconf26"),
        (f"{home}/hold", {"day": "2026-03-09"}, "is not a day of #medconf26"),
        (f"{home}/hold", {"day": HOSTILE}, "--day must be a date like"),
        (f"{home}/release", {"day": "2026-03-02"}, "are not held"),
        ("/conferences/99999/remove", {}, "no such conference"),
    ]
    for path, form, words in refusals:
        _, said = _post(client, csrf, path, **form)
        assert said.startswith(("error: ", "warn: ")), (path, form, said)
        assert words in said.replace("&#39;", "'"), (path, form, said)
    assert changed(before, snapshot(console.store)) == []
    # a day that is not one of the conference's, asked for by the page's own day picker
    html = client.get(home, params={"day": "2027-01-01"}).text
    assert "2027-01-01 is not a day of #medconf26" in html
    assert page_problems(html) == []


def test_hostile_names_are_shown_as_text_everywhere_on_the_page(console_factory: ConsoleFactory) -> None:
    console = console_factory(platforms=MASTODON, series={"schedule": SCHEDULE})
    store, settings, now = console.store, console.settings, console.deps.clock.now()
    fields = conferences.ConferenceFields(
        name=HOSTILE, tag="MedConf26", starts_on="2026-03-01", ends_on="2026-03-04", timezone="UTC"
    )
    added = conferences.add_conference(store, settings, fields, by="ana", now=now).data
    assert added is not None
    evil = Author("acc-evil", HOSTILE, HOSTILE)
    store.ingest(Platform.MASTODON, [Item(post(by=evil))], now)
    assert conferences.add_champion(store, settings, "MedConf26", "mastodon", HOSTILE, by="ana", now=now).ok
    meetup = meetups.MeetupFields(tag="MedConf26", at="2026-03-03 18:00", place=HOSTILE, ribbon=HOSTILE)
    assert meetups.add_meetup(store, settings, meetup, by="ana", now=now).ok
    client, csrf = console.signed_in_client("ana")
    for path in ("/conferences", f"/conferences/{added.id}"):
        html = client.get(path).text
        assert page_problems(html) == [], path
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html, path
    # her champion's role is taken back from the page's own form, the hostile handle and all
    _, said = _post(
        client, csrf, f"/conferences/{added.id}/champions/remove", platform="mastodon", handle=HOSTILE
    )
    assert said.startswith("ok: ")
    assert "is no longer a champion of #medconf26" in said
    # the web page to download escapes her name too, and is a file to save, never shown here
    page = client.get(f"/conferences/{added.id}/report.html")
    assert page.headers["content-type"] == "application/octet-stream"
    assert page.headers["content-disposition"] == 'attachment; filename="medconf26-report.html"'
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
