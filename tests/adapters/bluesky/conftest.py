"""Fixtures for the Bluesky adapter: the loopback sandbox (XRPC + Jetstream), the reference
atproto network (imported from tests/atproto_network), and adapters pointed at either."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from adapters.bluesky.adapter import BlueskyAdapter, make_client
from adapters.bluesky.session import SessionVault, session_key
from adapters.bluesky.settings import BlueskySettings
from adapters.bluesky.xrpc import RateBudget
from bot.clock import Clock, FakeClock
from bot.domain import Batch
from bot.store.store import make_engine
from sandbox.bluesky import BlueskySandbox
from tests.atproto_network.fixture import AtprotoNetwork
from tests.schema_template import lay_schema

TAG = "LatinasInMedicine"
WAIT_S = 30.0


async def follow_until(
    adapter: BlueskyAdapter, cursors: dict[str, str | None], done: Callable[[list[Batch]], bool]
) -> list[Batch]:
    """Watch with ``follow=True`` until ``done(batches)``, saving cursors as the core would:
    waits on the stream, never sleeps."""
    batches: list[Batch] = []

    async def go() -> None:
        async for batch in adapter.watch([TAG], cursors, follow=True):
            batches.append(batch)
            cursors[batch.source] = batch.cursor
            if done(batches):
                return

    await asyncio.wait_for(go(), WAIT_S)
    return batches


def uris(batches: list[Batch]) -> list[str]:
    return [p.post_id for b in batches for p in b.posts]


def texts(batches: list[Batch]) -> list[str]:
    return [p.text for b in batches for p in b.posts]


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[BlueskySandbox]:
    with BlueskySandbox(clock=clock.now) as sb:
        yield sb


def sandbox_settings(sandbox: BlueskySandbox, **overrides: Any) -> BlueskySettings:
    base = BlueskySettings(
        handle="coalesce.test",
        app_password=sandbox.password,
        watch="jetstream",
        service_url=sandbox.base_url,
        jetstream_url=sandbox.ws_url,
        jetstream_compress=False,
        caught_up_idle_seconds=0.3,
        request_timeout=10,
    )
    return replace(base, **overrides)


def network_settings(network: AtprotoNetwork, **overrides: Any) -> BlueskySettings:
    central = network.central
    values: dict[str, Any] = {
        "handle": central.handle,
        "app_password": central.password,
        "watch": "firehose",
        "service_url": network.pds_url,
        "firehose_url": network.pds_ws_url,
        "caught_up_idle_seconds": 1.0,
        "request_timeout": 20,
        **overrides,
    }
    return BlueskySettings(**values)


@pytest.fixture
def vault_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database for the session vault of adapter-level tests (the app-level ones use
    the ``engine`` fixture, on both backends)."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    lay_schema(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def build_adapter(
    settings: BlueskySettings, clock: Clock, engine: Engine | None, **kwargs: Any
) -> BlueskyAdapter:
    budget = RateBudget()
    vault = None
    if engine is not None:
        key = session_key(settings.app_password, settings.account)
        vault = SessionVault(engine, "lim", "Latinas in Medicine", settings.account, key)
    client = make_client(settings.service_url, timeout=settings.request_timeout, budget=budget)
    return BlueskyAdapter(client, settings, vault=vault, budget=budget, clock=clock, **kwargs)


@pytest.fixture
async def make_adapter(
    sandbox: BlueskySandbox, clock: FakeClock, vault_engine: Engine
) -> AsyncIterator[Callable[..., BlueskyAdapter]]:
    """Adapters on the sandbox, each with a session vault (``vault=False``: none)."""
    made: list[BlueskyAdapter] = []

    def build(*, vault: bool = True, engine: Engine | None = None, **overrides: Any) -> BlueskyAdapter:
        adapter = build_adapter(
            sandbox_settings(sandbox, **overrides), clock, (engine or vault_engine) if vault else None
        )
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.close()
