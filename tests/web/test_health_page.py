"""The Health page in a real browser: signed in by link, the freeze switch, axe, and Spanish."""

from __future__ import annotations

from typing import Any

from bot.trust.veto import freeze_switch
from tests.web.conftest import Console, assert_accessible, sign_in


def test_sign_in_by_link_and_freeze_from_the_health_page(console: Console, page: Any) -> None:
    sign_in(page, console, "ana", "/health")
    assert page.url.endswith("/health")
    assert_accessible(page)
    page.watched.accept_dialogs = True
    page.click("#freeze")
    page.wait_for_selector("#unfreeze")
    assert freeze_switch(console.store).frozen
    assert page.watched.dialogs == ["Stop all amplification on every platform now?"]
    assert "frozen" in page.inner_text("#toasts").lower()
    page.click("#unfreeze")
    page.wait_for_selector("#freeze")
    assert not freeze_switch(console.store).frozen
    assert not page.watched.page_errors


def test_the_sign_in_page_is_accessible_and_asks_for_a_link(console: Console, page: Any) -> None:
    page.goto(console.url + "/health")
    assert "/sign-in" in page.url
    assert "/signin" in page.inner_text("main")
    assert_accessible(page)


def test_spanish_first_when_the_community_speaks_it_first(console_factory: Any, new_page: Any) -> None:
    console = console_factory(
        community={
            "slug": "lim",
            "name": "Latinas en Medicina",
            "hashtags": ["LatinasEnMedicina"],
            "languages": ["es", "en"],
        }
    )
    page = new_page(width=390, height=844)
    page.goto(console.link("ana", "/health"))
    page.click("#sign-in")
    page.wait_for_selector("h1:has-text('Estado')")
    assert_accessible(page)
    page.click("button[name=language][value=en]")
    page.wait_for_selector("h1:has-text('Health')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
