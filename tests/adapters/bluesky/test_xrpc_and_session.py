"""The SDK edge (errors, rate-limit headers, write pacing) and the stored session."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_client.request import Response
from sqlalchemy import Engine, select

from adapters.bluesky.session import SessionVault, session_key
from adapters.bluesky.xrpc import RateBudget, WritePacer, is_session_error, translate
from bot.clock import FakeClock
from bot.errors import MalformedPayload, NotFound, RateLimited, Rejected, Transient, Unauthorized
from bot.store import models as m


def _sdk_error(
    cls: type, status: int, error: str | None = None, headers: dict[str, str] | None = None
) -> Exception:
    content = XrpcError(error=error, message=f"{error} happened") if error else b""
    exc: Exception = cls(Response(False, status, content, headers or {}))
    return exc


def test_sdk_errors_become_ours_without_secrets(clock: FakeClock) -> None:
    now = clock.now()
    reset = str(int(now.timestamp()) + 90)
    limited = translate(
        _sdk_error(RateLimitExceededError, 429, "RateLimitExceeded", {"ratelimit-reset": reset}), now
    )
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == pytest.approx(90)
    assert isinstance(translate(_sdk_error(BadRequestError, 400, "RecordNotFound"), now), NotFound)
    assert isinstance(
        translate(_sdk_error(UnauthorizedError, 401, "AuthenticationRequired"), now), Unauthorized
    )
    assert isinstance(translate(_sdk_error(RequestException, 503), now), Transient)
    assert isinstance(translate(InvokeTimeoutError(), now), Transient)
    refused = translate(_sdk_error(BadRequestError, 400, "InvalidRecord"), now)
    assert isinstance(refused, Rejected)
    assert "InvalidRecord: InvalidRecord happened" in str(refused)
    assert is_session_error(_sdk_error(BadRequestError, 400, "ExpiredToken"))
    assert not is_session_error(_sdk_error(BadRequestError, 400, "InvalidRecord"))
    from atproto_client.exceptions import ModelError

    assert isinstance(translate(ModelError("bad"), now), MalformedPayload)


async def test_rate_limit_headers_of_any_answer_stop_the_next_write(clock: FakeClock) -> None:
    budget = RateBudget()
    reset = clock.now().timestamp() + 600
    request = httpx.Request("POST", "http://127.0.0.1/xrpc/com.atproto.repo.createRecord")
    headers = {"ratelimit-remaining": "2", "ratelimit-reset": str(int(reset)), "ratelimit-limit": "5000"}
    await budget.observe(httpx.Response(200, headers=headers, request=request))
    budget.check("write", 1, clock.now())  # a delete (1 point) still fits
    with pytest.raises(RateLimited) as limited:
        budget.check("write", 3, clock.now())  # a create does not
    assert limited.value.retry_after == pytest.approx(600, abs=1)
    clock.advance(601)
    budget.check("write", 3, clock.now())  # the window turned


def test_write_pacing_keeps_under_the_hourly_points(clock: FakeClock) -> None:
    pacer = WritePacer(clock, points_per_hour=9)
    for _ in range(3):
        pacer.reserve(3)
        clock.advance(minutes=10)
    with pytest.raises(RateLimited) as limited:
        pacer.reserve(3)
    assert limited.value.retry_after == pytest.approx(timedelta(minutes=30).total_seconds())
    clock.advance(minutes=30)
    pacer.reserve(3)
    assert pacer.used() == 9


def test_the_session_is_stored_encrypted_and_read_back(engine: Engine, clock: FakeClock) -> None:
    secret = "alice.test:::did:plc:x:::eyJaccess.jwt:::eyJrefresh.jwt:::http://pds"
    vault = SessionVault(
        engine, "lim", "Latinas in Medicine", "alice.test", session_key("app-pass", "alice.test")
    )
    assert vault.load(clock.now()) is None
    vault.save(secret, clock.now())
    vault.save(secret + "2", clock.now())  # a refresh replaces it
    with engine.connect() as conn:
        rows = conn.execute(select(m.PlatformSession.session, m.PlatformSession.platform)).all()
    assert len(rows) == 1
    assert "access.jwt" not in rows[0][0]
    assert "refresh.jwt" not in rows[0][0]
    assert rows[0][1] == "bluesky"
    assert vault.load(clock.now()) == secret + "2"
    # A new app password cannot read it: the adapter logs in afresh instead of failing.
    other = SessionVault(
        engine, "lim", "Latinas in Medicine", "alice.test", session_key("new-pass", "alice.test")
    )
    assert other.load(clock.now()) is None
    vault.clear(clock.now())
    assert vault.load(clock.now()) is None
