"""The calendar: everything the central account will post in a week or month, in the community's
time zone, with each platform's text — on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.registry import REGISTRY, settings_class
from bot.cli.main import main
from bot.clock import FakeClock
from bot.config import Settings, parse
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.ops import calendar as cal
from bot.ops import originals, safety
from bot.ops.chats import ChatFields, add_chat
from bot.ops.conferences import ConferenceFields, add_conference
from bot.ops.pacing import next_start
from bot.schema import Environment
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from tests.bot.series.conftest import add_opportunities
from tests.bot.series.test_publishing import confirmed_interview
from tests.conftest import BASE_CONFIG
from tests.factories import author, post

CHICAGO = "America/Chicago"
CONFIG: dict[str, Any] = {
    **BASE_CONFIG,
    "amplify": {"max_per_hour": 2, "burst": 1},  # one start every 30 minutes per platform
    "community": {**BASE_CONFIG["community"], "languages": ["en", "es"]},
    "platforms": {
        "mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"},
        "bluesky": {"handle": "coalesce.test", "app_password": "${BLUESKY_PASSWORD}"},
        "telegram": {"bot_token": "${TELEGRAM_TOKEN}", "channel_id": -1001000000003},
    },
    "series": {
        "timezone": CHICAGO,
        "schedule": [
            {"name": "digest", "kind": "digest", "cron": "0 9 * * mon"},
            {"name": "interview", "kind": "interview", "cron": "0 12 * * thu", "languages": ["en"]},
        ],
    },
}
ENV = {"MASTODON_TOKEN": "t", "BLUESKY_PASSWORD": "p", "TELEGRAM_TOKEN": "1:x"}


@pytest.fixture
def three(store: Store) -> Settings:
    return parse(CONFIG, Environment(ENV), schemas=settings_class)


@pytest.fixture
def runner(store: Store, three: Settings, clock: FakeClock) -> SeriesRunner:
    return SeriesRunner(store, {}, three, clock, worker="cal", catalog=REGISTRY)


def approve_posts(store: Store, settings: Settings, clock: FakeClock, n: int) -> list[int]:
    posts = [post(f"Post number {i} #LatinasInMedicine", by=author(f"m{i}@med.example")) for i in range(n)]
    result = Pipeline(settings, store).ingest(Platform.MASTODON, Batch("tag", "c1", posts=posts), clock.now())
    queue = Queue(store, settings)
    ids = list(result.candidates)
    for cid in ids:
        queue.approve(cid, "ana", clock.now())
        clock.advance(seconds=1)
    return ids


async def test_a_week_shows_every_kind_with_each_platforms_text(
    store: Store, three: Settings, runner: SeriesRunner, clock: FakeClock
) -> None:
    # Monday 2 March 2026, 09:00 in Chicago: the week runs Monday 2 to Sunday 8 March.
    add_opportunities(store, 3, clock.now())
    await confirmed_interview(runner, clock)
    ids = approve_posts(store, three, clock, 3)
    now = clock.now()
    deps = originals.Deps(store, three, REGISTRY)
    wednesday = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
    written = originals.new(
        deps, now, "ana", "Happy Wednesday!\n---\nSecond part", approve=True, at=wednesday
    )
    assert written.data is not None
    add_chat(
        store,
        three,
        ChatFields(
            "Mentorship", "Dra. Ruiz", "LIMchat", "2026-03-06 19:00", CHICAGO, ("en",), ["0: Who helped you?"]
        ),
        by="ana",
        now=now,
    )
    add_conference(
        store,
        three,
        ConferenceFields("Med Summit", "MedSummit26", "2026-03-05", "2026-03-06", CHICAGO),
        by="ana",
        now=now,
    )

    result = cal.calendar(runner, REGISTRY, now, view="week")
    assert result.ok
    week = result.data
    assert week is not None
    assert (week.first_day, week.last_day, week.timezone) == (date(2026, 3, 2), date(2026, 3, 8), CHICAGO)
    kinds = [(e.kind, e.local.strftime("%a %H:%M")) for e in week.entries]
    assert ("series", "Mon 09:00") in kinds  # the digest, now
    assert ("series", "Thu 12:00") in kinds  # the interview
    assert ("original", "Wed 10:00") in kinds
    assert ("chat", "Fri 19:00") in kinds
    assert [k for k in kinds if k[0] == "highlights"] == [
        ("highlights", "Thu 20:00"),
        ("highlights", "Fri 20:00"),
    ]

    (digest,) = [e for e in week.entries if e.ref == "digest"]
    langs = {(v.platform, v.language) for v in digest.versions}
    assert langs == {(p, lang) for p in Platform for lang in ("en", "es")}  # two editions on every platform
    assert all(v.fits and v.parts for v in digest.versions)
    assert digest.versions[0].parts == tuple(
        runner.digest(digest.versions[0].language, digest.versions[0].platform, date(2026, 3, 2)).parts
    )

    interview = next(e for e in week.entries if e.ref == "interview")
    assert interview.detail == "mini-interview: Dra. María Pérez"
    assert all(v.parts[0].startswith("🎙️ Mini-interview: meet Dra. María Pérez") for v in interview.versions)

    original = next(e for e in week.entries if e.kind == "original")
    assert original.detail == "approved"
    assert {v.platform: v.parts for v in original.versions}[Platform.MASTODON] == (
        "Happy Wednesday! 1/2",
        "Second part 2/2",
    )

    # The paced amplifications: one start per 30 minutes on Mastodon, in the order approved.
    boosts = [e for e in week.entries if e.kind == "amplification"]
    assert [e.ref for e in boosts] == [f"candidate:{i}" for i in ids]
    assert [e.at - now for e in boosts] == [timedelta(0), timedelta(minutes=30), timedelta(minutes=60)]
    assert "Post number 0" in result.message or "boost of m0@med.example" in result.message


async def test_published_slots_show_what_was_written_and_windows_hold_their_own(
    store: Store, three: Settings, runner: SeriesRunner, clock: FakeClock
) -> None:
    runner.publisher.record(
        "digest/en", datetime(2026, 3, 2, 15, 0, tzinfo=UTC), Platform.MASTODON, "empty", "none"
    )
    week = cal.calendar(runner, REGISTRY, clock.now(), view="week").data
    assert week is not None
    states = {
        v.platform: v.state
        for e in week.entries
        if e.ref == "digest"
        for v in e.versions
        if v.language == "en"
    }
    assert states[Platform.MASTODON] == "empty"
    assert states[Platform.BLUESKY] == "planned"

    month = cal.calendar(runner, REGISTRY, clock.now(), view="month", day=date(2026, 3, 20)).data
    assert month is not None
    assert (month.first_day, month.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    mondays = [e.local.date() for e in month.entries if e.ref == "digest"]
    assert mondays == [date(2026, 3, d) for d in (2, 9, 16, 23, 30)]
    assert next(d for d, _ in month.days()) == date(2026, 3, 1)
    assert len(month.days()) == 31

    # Daylight saving starts on 8 March in Chicago: the digest stays at 09:00 local.
    assert {e.local.strftime("%H:%M") for e in month.entries if e.ref == "digest"} == {"09:00"}

    safety.freeze(store, three, "ana", clock.now())
    frozen = cal.calendar(runner, REGISTRY, clock.now())
    assert frozen.data is not None
    assert frozen.data.frozen
    assert "frozen" in frozen.message
    assert cal.calendar(runner, REGISTRY, clock.now(), view="year").outcome.value == "usage"  # type: ignore[arg-type]


def test_pacing_follows_the_amplifiers_sliding_window() -> None:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    window = timedelta(minutes=30)
    assert next_start([], at, 1, window) == at
    assert next_start([at - timedelta(minutes=10)], at, 1, window) == at + timedelta(minutes=20)
    two = [at - timedelta(minutes=20), at - timedelta(minutes=5)]
    assert next_start(two, at, 2, window) == at + timedelta(minutes=10)
    assert next_start(two, at, 3, window) == at


def test_the_calendar_command(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "database": {"url": db_url}}), encoding="utf-8")
    code = main(
        [
            "calendar",
            "--month",
            "--from",
            "2030-01-15",
            "--json",
            "--config",
            str(config),
            "--log-level",
            "WARNING",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["data"]["first_day"], out["data"]["last_day"]) == ("2030-01-01", "2030-01-31")
    assert len([e for e in out["data"]["entries"] if e["ref"] == "digest"]) == 4
    code = main(["calendar", "--from", "someday", "--config", str(config), "--log-level", "WARNING"])
    assert code == 2
    assert "--from" in capsys.readouterr().err
