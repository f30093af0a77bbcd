"""Every page of the real app (found by walking its GET routes), whatever the store holds: with a
hostile string in every column a member can fill, no page carries markup the member wrote, a link
that is not http(s) or this site, an ``on…`` handler, inline script or style, a NUL or a bidi
override; every page has all its words in English and in Spanish; and in a real browser each page,
in both languages, passes axe, fits 390 px, and runs no script but the app's own."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from bot.text import HIDDEN as PRINTED_WITHOUT
from bot.web import i18n
from bot.web.app import PAGES, load_pages
from bot.web.deps import WebState
from tests.web.conftest import Console, ConsoleFactory, assert_accessible, sign_in
from tests.web.every import (
    HOSTILE,
    endpoints,
    fill,
    get,
    html_of,
    page_problems,
    plant,
    seed,
    unclassified,
)

MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
SHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
# Query words that make a page show more of what it holds (a search, the closed ones, a month).
MORE: dict[str, list[dict[str, str]]] = {
    "/members": [{"q": "e"}, {"q": "<script"}],
    "/opportunities": [{"all": "1"}],
    "/calendar": [{"view": "week", "from": "2026-03-02"}, {"view": "month", "from": "2026-03-02"}],
    "/audit": [{"kind": "original"}, {"member": "member0@med.example"}],
}


# The page's width beyond the screen, and the elements that stick out (for the message).
WIDEST = """() => {
  const over = document.documentElement.scrollWidth - window.innerWidth;
  if (over <= 0) return null;
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.right > window.innerWidth + 1 && out.length < 5)
      out.push(e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(r.right));
  }
  return over + 'px: ' + out.join(', ');
}"""


def _state(console: Console) -> WebState:
    state: WebState = console.server.config.app.state.web
    return state


def _console(console_factory: ConsoleFactory) -> tuple[Console, dict[str, int]]:
    console = console_factory(
        platforms=MASTODON,
        community__languages=["es", "en"],
        series={"schedule": [{"name": "digest", "kind": "digest", "cron": "0 9 * * mon"}]},
    )
    return console, seed(console)


def _pages(console: Console, ids: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """Every GET the signed-in curator can open, with the query words that show more."""
    out = []
    for endpoint in endpoints(console):
        if endpoint.method == "GET" and not endpoint.template.startswith(("/static", "/live")):
            path = fill(endpoint.template, ids)
            out += [(path, {}), *((path, q) for q in MORE.get(path, []))]
    return out


def test_every_text_column_is_classified() -> None:
    """A new column is either planted with hostile text by the test below or named as one only
    the bot or a curator writes, with the reason (tests/web/every.py)."""
    assert unclassified() == []


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda v: re.sub(r"\W+", "_", v[:24]).strip("_"))
def test_no_page_lets_a_member_write_markup(console_factory: ConsoleFactory, hostile: str) -> None:
    console, ids = _console(console_factory)
    plant(console.store, hostile)
    shown = 0
    for language in ("es", "en"):
        client, csrf = console.signed_in_client("ana")
        client.post("/language", data={"csrf_token": csrf, "language": language})
        for path, query in _pages(console, ids):
            answer = get(client, path, params=query)
            assert answer.status_code < 500, (path, query, answer.status_code, answer.text[:300])
            html = html_of(answer)
            if html is None:
                continue
            assert page_problems(html) == [], (path, query, language)
            shown += escape(hostile.translate(PRINTED_WITHOUT)[:30]) in html
        # the card the queue's script swaps in, and the JSON of a decision, carry the same card
        card = client.get(f"/queue/card/{ids['/queue']}")
        assert page_problems(card.text) == []
        decided = client.post(
            f"/queue/{ids['/queue']}/snooze", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
        )
        assert decided.status_code in (200, 409)
        assert page_problems(str(decided.json().get("card", ""))) == []
    assert shown >= 6  # the hostile text was on the pages, as text (queue, members, audit…)


def test_every_word_is_in_english_and_spanish() -> None:
    placeholders = string.Formatter()
    everything = dict(i18n.STRINGS)
    for page in load_pages(PAGES):
        for key, words in page.strings.items():  # all pages share one table: a key means one thing
            assert everything.get(key, words) == words, (page.name, key)
        everything.update(page.strings)
        assert page.title_key in everything, page.name
    for key, words in everything.items():
        assert len(words) == len(i18n.LANGUAGES) == 2, key
        assert all(w.strip() for w in words), key
        names = [{f for _, f, _, _ in placeholders.parse(w) if f} for w in words]
        assert names[0] == names[1], key  # the same {placeholders} in both


def test_every_page_in_spanish_has_all_its_words(console_factory: ConsoleFactory) -> None:
    console, ids = _console(console_factory)
    client, _ = console.signed_in_client("ana")  # Spanish: the community's first language
    pages = 0
    for path, query in _pages(console, ids):
        html = html_of(get(client, path, params=query))
        if html is not None and html.startswith("<!doctype html>"):  # a page, not a card
            pages += 1
            assert '<html lang="es">' in html, path
    assert pages >= 9
    assert _state(console).untranslated == set()  # no page asked for a word it does not have


@pytest.mark.usefixtures("browser")
def test_every_page_in_a_phone_browser_in_both_languages(
    console_factory: ConsoleFactory, new_page: Any
) -> None:
    """Each page, 390 px wide, in Spanish then English, with a hostile store: axe finds nothing
    serious, nothing is wider than the screen, no dialog opens and no script fails; a screenshot
    of each is kept in .cache/screenshots for a person to look at."""
    console, ids = _console(console_factory)
    plant(console.store, HOSTILE[1] + " " + HOSTILE[0])
    page = new_page(width=390, height=844)
    sign_in(page, console, "ana", "/queue")
    SHOTS.mkdir(parents=True, exist_ok=True)
    seen = 0
    problems: list[str] = []
    for language in ("es", "en"):
        if language == "en":
            page.click("button[name=language][value=en]")
            page.wait_for_selector('html[lang="en"]')
        for path, query in _pages(console, ids):
            if path.endswith((".png", ".csv", ".html")) or path.startswith("/queue/card"):  # files, a card
                continue
            if "/transcript." in path:  # a download (a chat's transcript), not a page
                continue
            url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
            page.goto(console.url + url)
            name = re.sub(r"\W+", "-", url.strip("/")).strip("-") or "home"
            page.screenshot(path=str(SHOTS / f"{name}-{language}-390.png"), full_page=True)
            if page.evaluate("document.documentElement.lang") != language:
                problems.append(f"{url} ({language}): not in {language}")
            try:
                assert_accessible(page)
            except AssertionError as exc:
                problems.append(f"{url} ({language}): {exc}")
            wide = page.evaluate(WIDEST)
            if wide:
                problems.append(f"{url} ({language}): wider than the screen: {wide}")
            seen += 1
    assert not problems, "\n".join(problems)
    assert page.watched.dialogs == []
    assert page.watched.page_errors == []
    assert page.watched.csp_errors == []
    assert seen >= 18
