"""The series against the real Mastodon.py and the Mastodon sandbox, with an injected clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.mastodon.adapter import MastodonAdapter
from adapters.registry import REGISTRY
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.series.opportunities import OpportunityDraft, OpportunityList
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from sandbox.mastodon import MastodonSandbox
from tests.conftest import make_settings
from tests.mastodon_adapter import sandbox_adapter

TOKEN = "sekrit-token-value"  # what make_settings' environment gives ${MASTODON_TOKEN}
CHICAGO = "America/Chicago"
# Monday 9 March 2026, 09:00 in Chicago (CDT since 8 March): the digest slot the tests use.
SLOT = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN, clock=clock.now) as sb:
        yield sb


def mastodon_adapter(
    base_url: str, clock: FakeClock, cls: type[MastodonAdapter] = MastodonAdapter
) -> MastodonAdapter:
    """The real adapter on the real Mastodon.py, pointed at a sandbox."""
    return sandbox_adapter(base_url, TOKEN, clock, cls=cls)


def series_config(sandbox: MastodonSandbox, **series: Any) -> dict[str, Any]:
    schedule = series.pop(
        "schedule",
        [
            {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": CHICAGO},
            {"name": "interview", "kind": "interview", "cron": "0 12 * * thu", "timezone": CHICAGO},
        ],
    )
    return {
        "platforms": {"mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTODON_TOKEN}"}},
        "series": {"schedule": schedule, **series},
    }


@pytest.fixture
def series_settings(sandbox: MastodonSandbox) -> Settings:
    return make_settings(**series_config(sandbox))


@pytest.fixture
def make_runner(
    store: Store, sandbox: MastodonSandbox, clock: FakeClock, series_settings: Settings
) -> Callable[..., SeriesRunner]:
    def build(
        worker: str = "w1",
        settings: Settings | None = None,
        adapter_cls: type[MastodonAdapter] = MastodonAdapter,
    ) -> SeriesRunner:
        adapters = {Platform.MASTODON: mastodon_adapter(sandbox.base_url, clock, adapter_cls)}
        return SeriesRunner(
            store, adapters, settings or series_settings, clock, worker=worker, catalog=REGISTRY
        )

    return build


def add_opportunities(
    store: Store, n: int, now: datetime, *, first_deadline: date | None = None, first: int = 0
) -> None:
    book = OpportunityList(store)
    start = first_deadline or now.date() + timedelta(days=30)
    for i in range(first, first + n):
        book.add(
            OpportunityDraft(
                f"Scholarship for Latina medical students number {i}",
                f"https://grants.example.org/2026/latinas-in-medicine/{i}",
                kind=("scholarship", "rotation", "job")[i % 3],
                organisation="Fundación de Médicas Latinas",
                deadline=start + timedelta(days=i - first),
                eligibility=("students",),
            ),
            now,
        )


def central_statuses(sandbox: MastodonSandbox) -> list[dict[str, Any]]:
    """What the central account posted, oldest first."""
    return list(reversed(sandbox.statuses_by(sandbox.central["id"])))
