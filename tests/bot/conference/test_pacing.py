"""Conference mode raises the amplification pace while a conference is open, by
``amplify.conference_pacing_factor``, never past the platform's own hourly limit; before and
after the window the usual pace holds. Real Mastodon.py on the sandbox, injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import PLATFORM_HOURLY_LIMITS, Settings
from bot.domain import Platform
from bot.ops import conferences as conf_ops
from sandbox.mastodon import MastodonSandbox
from tests.adapters.test_mastodon import _approved
from tests.adapters.test_mastodon import app_factory as app_factory
from tests.adapters.test_mastodon import sandbox as sandbox

# The clock starts on Monday 2 March 2026 at 15:00 UTC; the conference is that day only (UTC).
CONFERENCE = conf_ops.ConferenceFields(
    name="Spring Summit", tag="Summit26", starts_on="2026-03-02", ends_on="2026-03-02", timezone="UTC"
)


def test_the_budget_rises_within_the_platform_limit(settings_factory: Callable[..., Settings]) -> None:
    amplify = settings_factory(amplify={"max_per_hour": 12, "conference_pacing_factor": 3}).amplify
    assert amplify.hourly_budget(Platform.MASTODON) == 12
    assert amplify.hourly_budget(Platform.MASTODON, conference=True) == 36
    greedy = settings_factory(
        amplify={"max_per_hour": 60, "conference_pacing_factor": 10, "per_platform": {"telegram": 2000}}
    ).amplify
    limit = PLATFORM_HOURLY_LIMITS[Platform.MASTODON]
    assert greedy.hourly_budget(Platform.MASTODON, conference=True) == limit  # 600 asked: 100 allowed
    assert greedy.hourly_budget(Platform.TELEGRAM, conference=True) == 2000  # never below the usual
    usual = settings_factory().amplify
    assert usual.hourly_budget(Platform.BLUESKY, conference=True) == usual.max_per_hour  # factor 1
    with pytest.raises(Exception, match="conference_pacing_factor"):
        settings_factory(amplify={"conference_pacing_factor": 50})


async def test_boosts_come_faster_during_the_conference_and_slow_down_after(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    settings = settings_factory(amplify={"max_per_hour": 6, "burst": 1, "conference_pacing_factor": 3})
    app = await app_factory(settings)
    added = conf_ops.add_conference(app.store, settings, CONFERENCE, by="ana", now=clock.now())
    assert added.ok, added.message
    posts = await _approved(app, sandbox, clock, 4)
    assert len((await app.run_once()).outcomes) == 1
    assert (await app.run_once()).outcomes == []
    clock.advance(minutes=3)
    assert (await app.run_once()).outcomes == []
    clock.advance(minutes=0, seconds=21)  # 18 an hour during the conference: one every 3 min 20 s
    assert len((await app.run_once()).outcomes) == 1
    # Midnight UTC: the conference is over, and the pace is back to 6 an hour (one every 10 min).
    midnight = datetime(2026, 3, 3, tzinfo=UTC)
    clock.advance((midnight - clock.now()).total_seconds())
    assert len((await app.run_once()).outcomes) == 1
    clock.advance(minutes=3, seconds=21)
    assert (await app.run_once()).outcomes == []
    clock.advance(seconds=(timedelta(minutes=10) - timedelta(minutes=3, seconds=20)).total_seconds())
    assert len((await app.run_once()).outcomes) == 1
    assert [len(sandbox.reblogs_of(p)) for p in posts] == [1, 1, 1, 1]
