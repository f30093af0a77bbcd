"""Trust tests: the real Mastodon.py against the loopback sandbox, the store on SQLite and
PostgreSQL, time from a FakeClock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from tests.conftest import StartApp
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


def make_adapter(sandbox: MastodonSandbox, clock: FakeClock) -> MastodonAdapter:
    return sandbox_adapter(sandbox.base_url, sandbox.token, clock)


@pytest.fixture
def app_factory(start_app: StartApp, sandbox: MastodonSandbox, clock: FakeClock) -> Callable[..., Any]:
    async def build(settings: Settings, **kw: Any) -> Coalesce:
        return await start_app(settings, {Platform.MASTODON: make_adapter(sandbox, clock)}, **kw)

    return build


@pytest.fixture
async def app(app_factory: Callable[..., Any], settings: Settings) -> Coalesce:
    built: Coalesce = await app_factory(settings)
    return built


def mention(sandbox: MastodonSandbox, who: Any, text: str, **kw: Any) -> dict[str, Any]:
    """``who`` writes ``text`` to the central account (a mention, as a member would)."""
    status: dict[str, Any] = sandbox.post(who, f"@{sandbox.central['acct']}@{sandbox.domain} {text}", **kw)
    return status


def directs_to(sandbox: MastodonSandbox, account: dict[str, Any]) -> list[dict[str, Any]]:
    """Direct statuses the central account sent that mention ``account``."""
    out = []
    for status in sandbox.statuses_by(sandbox.central["id"]):
        if status["visibility"] == "direct" and any(x["id"] == account["id"] for x in status["mentions"]):
            out.append(status)
    return out


def plain(status: dict[str, Any]) -> str:
    """A status's text as a member reads it."""
    return html_to_text(str(status["content"]))


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {int(i): str(s) for i, s in conn.execute(select(m.Candidate.id, m.Candidate.state))}
