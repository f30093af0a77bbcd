"""Attacks on the web console: forged form tokens, stolen or stale sign-in links, strangers, open
redirects through ``next=``, cookies from another deployment, and script in every field a member
writes that the queue page shows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import Author, Platform
from bot.ops import web_access
from bot.store.store import Item
from tests.factories import post
from tests.web.conftest import Console, _field, _meta_csrf, sign_in

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'


def _redirect_target(console: Console, client: httpx.Client, next_value: str) -> str:
    page = client.get(f"/sign-in/{console.token('ana')}", params={"next": next_value})
    answer = client.post(
        "/sign-in",
        data={"csrf_token": _meta_csrf(page.text), "token": _field(page.text, "token"), "next": next_value},
    )
    assert answer.status_code == 303
    return answer.headers["location"]


def _same_origin(base: str, location: str) -> bool:
    # what a browser does with a Location: tabs and newlines dropped, backslashes read as slashes
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    target, origin = urlsplit(urljoin(base + "/", cleaned)), urlsplit(base)
    return (target.scheme, target.netloc) == (origin.scheme, origin.netloc)


REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/queue",
    "http:evil.example",
    "/%2F%2Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "  //evil.example",
    "/.//evil.example",
    "/queue@evil.example",
]


def test_next_never_leaves_the_site(console: Console) -> None:
    for value in REDIRECTS:
        client = console.client()
        location = _redirect_target(console, client, value)
        assert _same_origin(console.url, location), (value, location)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda a, b: a + b,
            st.sampled_from(["/", "//", "/\\", "\\", "http://", "https:", "/%09/", "javascript:", "/."]),
            st.text(st.characters(codec="utf-8"), max_size=30),
        ),
    )
)
def test_next_is_always_same_origin_whatever_it_says(console: Console, value: str) -> None:
    with console.client() as client:
        assert _same_origin(console.url, _redirect_target(console, client, value))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_a_local_path_resolves_on_this_site(value: str) -> None:
    target = web_access.local_path(value)
    assert _same_origin("https://console.example", target)


def test_a_reused_or_expired_link_and_a_stranger_get_no_session(console: Console) -> None:
    token = console.token("ana")
    now = console.deps.clock.now()
    assert web_access.redeem(console.store, console.settings, token, now).ok
    assert not web_access.redeem(console.store, console.settings, token, now).ok
    late = console.token("rosa")
    later = now + web_access.LINK_LIFETIME
    assert not web_access.redeem(console.store, console.settings, late, later).ok
    assert not web_access.redeem(console.store, console.settings, "made-up-token", now).ok
    assert web_access.sign_in_link(console.store, console.settings, "mallory", now).exit_code == 2
    client = console.client()
    page = client.get("/sign-in/made-up-token")
    refused = client.post("/sign-in", data={"csrf_token": _meta_csrf(page.text), "token": "made-up-token"})
    assert refused.status_code == 403
    assert client.get("/queue").status_code == 303


def test_a_curator_removed_from_the_config_is_signed_out(console_factory: Any) -> None:
    first = console_factory()
    client, _ = first.signed_in_client("lucia")
    assert client.get("/queue").status_code == 200
    without = console_factory(curators=[{"name": "ana"}, {"name": "rosa"}])
    client.base_url = httpx.URL(without.url)
    assert client.get("/queue").status_code == 303


def test_the_sign_in_form_needs_its_token_too(console: Console) -> None:
    client = console.client()
    answer = client.post("/sign-in", data={"token": console.token("ana")})
    assert answer.status_code == 403
    assert "coalesce_session" not in answer.headers.get("set-cookie", "")


def test_forged_tokens_on_queue_decisions_change_nothing(console: Console) -> None:
    cid = console.store.ingest(Platform.MASTODON, [Item(post())], console.deps.clock.now()).candidates[0]
    client, csrf = console.signed_in_client("ana")
    _rosa, rosa_csrf = console.signed_in_client("rosa")
    for data, headers in (
        ({}, {}),
        ({"csrf_token": "x" * len(csrf)}, {}),
        ({"csrf_token": rosa_csrf}, {}),
        ({}, {"X-CSRF-Token": rosa_csrf}),
    ):
        assert client.post(f"/queue/{cid}/approve", data=data, headers=headers).status_code == 403
    multipart = client.post(f"/queue/{cid}/approve", files={"csrf_token": (None, "nope")})
    assert multipart.status_code == 403
    assert console.deps.curation.show(cid).state == "pending"
    assert client.post(f"/queue/{cid}/approve", files={"csrf_token": (None, csrf)}).status_code == 303
    assert console.deps.curation.show(cid).state == "approved"


def test_script_in_every_member_field_stays_text(console: Console, page: Any) -> None:
    evil = Author(
        account_id="evil-1",
        handle=f"{IMG}@evil.example",
        display_name=SCRIPT,
        url="javascript:alert(document.cookie)",
        bio=f"#LatinasInMedicine {SCRIPT} {IMG}",
    )
    now = console.deps.clock.now()
    posts = [
        post(f"{SCRIPT} {IMG} <a href=javascript:alert(2)>x</a> #LatinasInMedicine", by=evil),
        replace(
            post("fine text #LatinasInMedicine", by=evil, content_warning=f"{SCRIPT}{IMG}"),
            url="javascript:alert(3)",
        ),
        replace(
            post("data link #LatinasInMedicine", by=evil), url="data:text/html,<script>alert(4)</script>"
        ),
    ]
    console.store.ingest(Platform.MASTODON, [Item(p) for p in posts[:2]], now)
    console.store.ingest(
        Platform.MASTODON, [Item(posts[2], reason="nomination", nominated_by=f"{SCRIPT}{IMG}")], now
    )
    sign_in(page, console, "ana", "/queue")
    page.wait_for_selector(".qcard")
    assert page.locator(".qcard").count() == 3
    cards = page.inner_text("#cards")
    assert SCRIPT in cards  # shown, as text
    assert IMG in cards
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.src)")
    assert scripts == [console.url + "/static/app.js"]
    handlers = page.evaluate(
        "Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)"
        ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
    )
    assert handlers == []
    # a live refresh draws the card again from the server: still text
    page.keyboard.press("j")
    page.keyboard.press("s")
    page.wait_for_selector(".qcard[data-state=snoozed]")
    assert page.watched.dialogs == []
    assert page.watched.page_errors == []
