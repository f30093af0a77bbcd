"""The chats page: a curator schedules a chat and reads a past chat's recap in a real browser
(axe on both, 390 px wide); bad input over HTTP (a time zone that is none, offsets that are not
minutes, a topic too long) is refused with the reason, the form comes back as she typed it and
nothing is written; a hostile topic is kept as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.domain import Author
from tests.web.conftest import Console, ConsoleFactory, assert_accessible, sign_in
from tests.web.every import changed, seed_past_chat, snapshot

MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
SHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
SCRIPT = '<script>alert("xss")</script><img src=x onerror=alert(2)>'
GOOD = {
    "topic": "Match day",
    "host": "Dra. Ruiz",
    "tag": "MatchChat",
    "start": "2026-04-01T19:00",
    "timezone": "America/New_York",
    "languages": "en,es",
    "questions": "0: How did it go?\n0:es: ¿Cómo te fue?\n15: Who will you thank?",
}


@pytest.fixture
def chats(console_factory: ConsoleFactory) -> Console:
    """A console whose store holds a chat held last week, with answers (one member opted out),
    its answerers' names hostile."""
    console = console_factory(platforms=MASTODON)
    people = [
        Author("acc-0", "maria@med.example", "María " + SCRIPT),
        Author("acc-1", "elena@med.example", "Elena"),
        Author("acc-2", "rosa@med.example", "Rosa Quiet"),
    ]
    console.past = seed_past_chat(console.store, console.settings, console.deps.clock.now(), people)  # type: ignore[attr-defined]
    return console


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a time zone"),
        ({"questions": "ten: what?"}, "is not a question"),
        ({"questions": "0: fine\n500: far too late"}, "within three hours"),
        ({"start": "yesterday"}, "must be a local time like"),
        ({"topic": "x" * 301}, "the topic is 301 characters: at most 300"),
        ({"languages": "fr"}, "the announcements are written in en, es"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_lost(
    chats: Console, change: dict[str, str], says: str
) -> None:
    client, csrf = chats.signed_in_client("ana")
    before = snapshot(chats.store)
    sent = {**GOOD, **change}
    answer = client.post("/chats/add", data={**sent, "csrf_token": csrf})
    assert answer.status_code == 400
    assert says in answer.text.replace("&#39;", "'")
    assert 'role="alert"' in answer.text
    # what she typed is in the form again, to correct
    assert 'value="Dra. Ruiz"' in answer.text
    assert "Who will you thank?" in answer.text or "questions" in change
    assert changed(before, snapshot(chats.store)) == []


def test_a_hostile_topic_is_kept_as_text(chats: Console) -> None:
    client, csrf = chats.signed_in_client("ana")
    answer = client.post("/chats/add", data={**GOOD, "topic": SCRIPT, "csrf_token": csrf})
    assert answer.status_code == 303
    page = client.get("/chats").text
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    recap = client.get(f"/chats/{chats.past}").text  # type: ignore[attr-defined]
    assert "María &lt;script&gt;" in recap
    assert "<img src=x" not in recap
    assert "Rosa Quiet" not in recap  # opted out: counted, never quoted
    assert client.get("/chats/999").status_code == 303  # no such chat: back to the list


@pytest.mark.usefixtures("browser")
def test_a_curator_schedules_a_chat_and_reads_a_recap(chats: Console, new_page: Any) -> None:
    page = new_page(width=390, height=844)
    sign_in(page, chats, "ana", "/chats")
    page.fill("input[name=topic]", GOOD["topic"])
    page.fill("input[name=host]", GOOD["host"])
    page.fill("input[name=tag]", "#MatchChat")
    page.fill("input[name=start]", GOOD["start"])
    page.fill("input[name=timezone]", "America/New_Yrok")  # a typo first: refused, nothing lost
    page.fill("input[name=languages]", "en,es")
    page.fill("textarea[name=questions]", GOOD["questions"])
    page.click("#schedule")
    page.wait_for_selector("#chat-error")
    assert "is not a time zone" in page.inner_text("#chat-error")
    assert page.input_value("textarea[name=questions]") == GOOD["questions"]
    page.fill("input[name=timezone]", "America/New_York")
    page.click("#schedule")
    page.wait_for_selector(".toast-ok")
    card = page.locator("#upcoming .chat", has_text="Match day")
    assert "#matchchat" in card.inner_text()
    assert "2026-04-01 19:00 (America/New_York)" in card.inner_text()
    assert "2026-04-01 23:00 (UTC)" in card.inner_text()  # and in the community's zone
    assert "scheduled, nothing posted yet" in card.inner_text()
    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chats-scheduled-390.png"), full_page=True)

    page.click(f"#open-{chats.past}")  # type: ignore[attr-defined]
    page.wait_for_selector("#recap-q1")
    q1 = page.inner_text("#recap-q1")
    assert "Who was your mentor?" in q1
    assert "A1 my mentor 0 #LIMchat" in q1
    assert SCRIPT in q1  # her name, as text
    assert "1 more from members who keep their posts to themselves" in q1
    assert "Rosa" not in q1
    assert "3 on mastodon" in page.inner_text("#taking-part")
    assert "No answers." in page.inner_text("#recap-q2")
    assert_accessible(page)
    page.screenshot(path=str(SHOTS / "chat-recap-390.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download-md")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == f"chat-{chats.past}-limchat.md"  # type: ignore[attr-defined]
    assert "## Q1: Who was your mentor?" in text
    assert "\\<script\\>" in text

    page.goto(chats.url + "/chats")
    page.watched.accept_dialogs = True
    page.click(f"#remove-{chats.past}")  # type: ignore[attr-defined]
    page.wait_for_selector(".toast-ok")
    assert page.locator(f"#chat-{chats.past}").count() == 0  # type: ignore[attr-defined]
    assert page.watched.dialogs == ["Take this chat off the schedule? Nothing more of it will be posted."]
    assert page.watched.page_errors == []
    assert page.watched.csp_errors == []
