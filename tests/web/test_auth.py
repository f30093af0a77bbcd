"""Signing in to the web console: single-use links, server-side sessions, form tokens, sign-out."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.ops import web_access
from bot.store import models as m
from tests.web.conftest import Console, _field, _meta_csrf


def test_a_link_signs_in_once_and_lands_on_next(console: Console) -> None:
    client = console.client()
    link = console.link("ana", "/health")
    page = client.get(link.removeprefix(console.url))
    assert page.status_code == 200
    form = {"csrf_token": _meta_csrf(page.text), "token": _field(page.text, "token"), "next": "/health"}
    answer = client.post("/sign-in", data=form)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/health"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    health = client.get("/health")
    assert health.status_code == 200
    assert "Signed in as ana" in health.text
    # the same link again, from another browser: refused, no session
    other = console.client()
    page = other.get(link.removeprefix(console.url))
    again = other.post(
        "/sign-in", data={"csrf_token": _meta_csrf(page.text), "token": _field(page.text, "token")}
    )
    assert again.status_code == 403
    assert "used already" in again.text
    assert other.get("/health").status_code == 303


def test_only_a_hash_of_the_token_is_stored(console: Console) -> None:
    token = console.token("ana")
    with console.store.engine.connect() as conn:
        stored = conn.execute(m.table(m.WebSignInLink).select()).all()
    assert [row.token_hash for row in stored] == [web_access.digest(token)]
    assert all(token not in str(tuple(row)) for row in stored)


def test_an_expired_link_signs_no_one_in(console: Console, clock: FakeClock) -> None:
    token = console.token("ana")
    clock.advance(minutes=15, seconds=1)
    result = web_access.redeem(console.store, console.settings, token, clock.now())
    assert not result.ok
    assert "expired" in result.message


def test_no_link_for_someone_not_a_curator(console: Console) -> None:
    result = web_access.sign_in_link(console.store, console.settings, "mallory", console.deps.clock.now())
    assert result.exit_code == 2
    assert "no curator named 'mallory'" in result.message


def test_pages_send_strangers_to_sign_in(console: Console) -> None:
    client = console.client()
    answer = client.get("/health?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/health%3Fx%3D1"
    refused = client.post("/health/freeze", data={"csrf_token": _meta_csrf(client.get("/sign-in").text)})
    assert refused.status_code == 403


def test_a_state_change_without_the_form_token_is_refused_and_changes_nothing(console: Console) -> None:
    from bot.trust.veto import freeze_switch

    client, csrf = console.signed_in_client("ana")
    assert client.post("/health/freeze").status_code == 403
    assert client.post("/health/freeze", data={"csrf_token": "forged" + csrf[6:]}).status_code == 403
    assert client.post("/health/freeze", headers={"X-CSRF-Token": ""}).status_code == 403
    assert not freeze_switch(console.store).frozen
    _rosa, other_csrf = console.signed_in_client("rosa")
    assert client.post("/health/freeze", data={"csrf_token": other_csrf}).status_code == 403
    assert not freeze_switch(console.store).frozen
    done = client.post("/health/freeze", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert freeze_switch(console.store).frozen
    assert client.post("/health/unfreeze", headers={"X-CSRF-Token": csrf}).status_code == 303
    assert not freeze_switch(console.store).frozen


def test_sessions_end_when_idle(console_factory, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    console = console_factory(web={"session_idle_minutes": 30})
    client, _ = console.signed_in_client("ana")
    clock.advance(minutes=29)
    assert client.get("/health").status_code == 200
    clock.advance(minutes=29)  # used a minute ago: still alive
    assert client.get("/health").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/health").status_code == 303


def test_sign_out_everywhere_closes_every_session_of_that_curator(console: Console) -> None:
    first, csrf = console.signed_in_client("ana")
    second, _ = console.signed_in_client("ana")
    rosa, _ = console.signed_in_client("rosa")
    answer = first.post("/sign-out-everywhere", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert first.get("/health").status_code == 303
    assert second.get("/health").status_code == 303
    assert rosa.get("/health").status_code == 200


def test_sign_out_ends_this_session_only(console: Console) -> None:
    first, csrf = console.signed_in_client("ana")
    second, _ = console.signed_in_client("ana")
    assert first.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
    assert first.get("/health").status_code == 303
    assert second.get("/health").status_code == 200


def test_a_cookie_signed_by_another_deployment_is_refused(console_factory) -> None:  # type: ignore[no-untyped-def]
    ours = console_factory()
    theirs = console_factory(secret="another-deployment-secret-0123456789")
    client, _ = theirs.signed_in_client("ana")
    stolen = client.cookies.get("coalesce_session")
    assert stolen
    victim = ours.client()
    victim.cookies.set("coalesce_session", stolen)
    assert victim.get("/health").status_code == 303


def test_the_generated_secret_is_kept_once_per_deployment(console: Console, clock: FakeClock) -> None:
    first = web_access.signing_secret(console.store, console.settings, clock.now())
    assert first == web_access.signing_secret(console.store, console.settings, clock.now())
    assert len(first) >= 32


def test_next_accepts_only_local_paths() -> None:
    assert web_access.local_path("/queue?state=pending") == "/queue?state=pending"
    for bad in (
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil",
        "/\t/evil",
        "javascript:alert(1)",
        "",
        None,
        "queue",
        "/ /x",
        "http:/evil",
    ):
        assert web_access.local_path(bad) == "/", bad


def test_every_response_carries_the_security_headers(console: Console) -> None:
    client = console.client()
    for path in ("/sign-in", "/static/app.css", "/health", "/nowhere"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
