"""Every route of the real app, found by walking it (so a page added later is covered by itself):
each state change refuses a missing, forged or another session's form token with nothing written
to the store; nothing but the sign-in pages opens without a session; and every redirect the app
answers with — after a GET, after a POST, with hostile ``next=`` and headers — stays on the site."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import Console, ConsoleFactory, _meta_csrf
from tests.web.every import Endpoint, changed, endpoints, fill, get, seed, snapshot
from tests.web.test_web_attacks import _same_origin

MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
PUBLIC = ("/sign-in", "/static")
EVIL = "//evil.example/x"

# What each state change is sent with, so that with the right token it would change something:
# a refusal that writes nothing then proves the guard stopped it, not an empty form.
FORMS: dict[str, dict[str, Any]] = {
    "/sign-in": {"token": "made-up", "next": EVIL},
    "/language": {"language": "es", "next": EVIL},
    "/queue/{id:int}/reject": {"reason": "spam"},
    "/queue/reject-many": {"ids": ["1", "2", "3"], "reason": "spam wave"},
    "/opportunities/add": {"title": "New grant", "url": "https://grants.example/new"},
    "/opportunities/{id}/edit": {"title": "Renamed grant"},
    "/interviews/{id}/confirm": {"via": "email"},
    "/members/{action}": {"ref": "mastodon:acc-0", "handle": "member0@med.example", "q": EVIL},
    "/compose": {"text": "Hello from the curators", "platform": "mastodon", "when": "now"},
    "/compose/preview": {"text": "Hello"},
    "/compose/{original_id:int}/edit": {"text": "A new text"},
    "/compose/{original_id:int}/schedule": {"when": "now"},
    "/conferences/add": {
        "name": "NeuroConf",
        "tag": "Neuro26",
        "starts_on": "2026-03-10",
        "ends_on": "2026-03-12",
        "timezone": "UTC",
    },
    "/conferences/{id:int}/edit": {
        "name": "MedConf, renamed",
        "tag": "MedConf26",
        "starts_on": "2026-03-03",
        "ends_on": "2026-03-05",
        "timezone": "UTC",
    },
    "/conferences/{id:int}/champions/add": {"platform": "mastodon", "handle": "member1@med.example"},
    "/conferences/{id:int}/champions/remove": {"platform": "mastodon", "handle": "member0@med.example"},
    "/conferences/{id:int}/meetups/add": {"at": "2026-03-04T09:00", "place": "Hall A", "ribbon": "Teal"},
    "/conferences/{id:int}/hold": {"day": "2026-03-04"},
    "/conferences/{id:int}/release": {"day": "2026-03-04"},
    "/chats/add": {
        "topic": "Match day",
        "host": "Dra. Ruiz",
        "tag": "MatchChat",
        "start": "2026-04-01T19:00",
        "timezone": "America/New_York",
        "languages": "en",
        "questions": "0: How did it go?",
    },
}
UPLOADS = {"/opportunities/import": {"file": ("list.yaml", b"- title: A\n  url: https://a.example\n")}}


def _console(console_factory: ConsoleFactory) -> tuple[Console, dict[str, int]]:
    console = console_factory(platforms=MASTODON, community__languages=["es", "en"])
    return console, seed(console)


def _changes(console: Console) -> list[Endpoint]:
    found = [e for e in endpoints(console) if e.method != "GET"]
    assert {e.method for e in found} == {"POST"}, found  # a PUT or DELETE would need its own case
    assert len(found) >= 20, found  # the walk found the pages' routes, not only the sign-in ones
    return found


def _post(
    client: httpx.Client, endpoint: Endpoint, path: str, link: str | None = None, **extra: Any
) -> httpx.Response:
    """``endpoint`` posted with its FORMS fields (and, for the sign-in form, ``link``'s token)."""
    data = dict(FORMS.get(endpoint.template, {}))
    if link is not None and endpoint.template == "/sign-in":
        data["token"] = link
    token = extra.pop("token", None)
    if token is not None:
        data["csrf_token"] = token
    files = UPLOADS.get(endpoint.template)
    return client.post(path, data=data, files=files, **extra)


def test_every_state_change_refuses_a_missing_forged_or_borrowed_token(
    console_factory: ConsoleFactory,
) -> None:
    console, ids = _console(console_factory)
    ana, csrf = console.signed_in_client("ana")
    _rosa, rosa_csrf = console.signed_in_client("rosa")
    before = snapshot(console.store)
    for endpoint in _changes(console):
        path = fill(endpoint.template, ids)
        for name, extra in (
            ("no token", {}),
            ("forged token", {"token": "A" * len(csrf)}),
            ("rosa's token", {"token": rosa_csrf}),
            ("rosa's token in the header", {"headers": {"X-CSRF-Token": rosa_csrf}}),
            ("an empty header", {"headers": {"X-CSRF-Token": ""}}),
        ):
            answer = _post(ana, endpoint, path, **extra)
            assert answer.status_code == 403, (endpoint, name, answer.status_code)
            assert "coalesce_session" not in answer.headers.get("set-cookie", "")
        assert changed(before, snapshot(console.store)) == [], endpoint
    # the same requests with the right token do reach the pages (so the refusals above were the
    # guard's, not a form the page could not use)
    reached = 0
    for endpoint in _changes(console):
        client, token = console.signed_in_client("ana")
        link = console.token("rosa")
        answer = _post(client, endpoint, fill(endpoint.template, ids), link, token=token)
        assert answer.status_code not in (403, 500), (endpoint, answer.status_code, answer.text[:300])
        reached += answer.status_code in (200, 303)
    assert reached >= len(_changes(console)) - 2


def test_nothing_opens_without_a_session(console_factory: ConsoleFactory) -> None:
    console, ids = _console(console_factory)
    before = snapshot(console.store)
    client = console.client()
    visitor = _meta_csrf(client.get("/sign-in").text)  # a real form token, of a visitor
    for endpoint in endpoints(console):
        path = fill(endpoint.template, ids)
        public = endpoint.template.startswith(PUBLIC)
        if endpoint.method == "GET":
            answer = get(client, path, params={"next": EVIL})
            if public:
                assert answer.status_code in (200, 404), (endpoint, answer.status_code)
                continue
            assert answer.status_code == 303, (endpoint, answer.status_code)
            location = answer.headers["location"]
            assert location.startswith("/sign-in?next="), (endpoint, location)
            assert _same_origin(console.url, location)
        else:
            answer = _post(client, endpoint, path, token=visitor)
            expected = (403, 303) if public else (401, 403)  # the sign-in form refuses a bad link
            assert answer.status_code in expected, (endpoint, answer.status_code)
            assert "coalesce_session" not in answer.headers.get("set-cookie", "")
    assert changed(before, snapshot(console.store)) == []


HOSTILE_NEXT = [EVIL, "/\\evil.example", "https://evil.example/", "/\t/evil.example", "javascript:alert(1)"]


def test_every_redirect_stays_on_the_site(console_factory: ConsoleFactory) -> None:
    """GETs with hostile ``next=`` and query words, POSTs with hostile fields and the queue's
    filter header: whatever the app answers with, a Location never leaves the site."""
    console, ids = _console(console_factory)
    seen = 0
    client, _ = console.signed_in_client("ana")
    for endpoint in endpoints(console):
        if endpoint.method != "GET":
            continue
        for value in HOSTILE_NEXT:
            query = {"next": value, "from": value, "view": value, "edit": value, "q": value, "since": value}
            answer = get(client, fill(endpoint.template, ids), params=query)
            assert answer.status_code < 500, (endpoint, value, answer.status_code)
            if answer.is_redirect:
                seen += 1
                assert _same_origin(console.url, answer.headers["location"]), (endpoint, value)
    for endpoint in _changes(console):
        for value in HOSTILE_NEXT:
            fresh, token = console.signed_in_client("ana")
            headers = {"X-Queue-Filters": value.replace("\t", " ")}
            path = fill(endpoint.template, ids)
            answer = _post(fresh, endpoint, path, console.token("rosa"), token=token, headers=headers)
            assert answer.status_code < 500, (endpoint, value, answer.status_code)
            if answer.is_redirect:
                seen += 1
                assert _same_origin(console.url, answer.headers["location"]), (endpoint, value)
    assert seen > 50  # the walk met the redirects it is about
