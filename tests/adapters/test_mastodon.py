"""Mastodon end to end: the real Mastodon.py against the loopback sandbox, the store on SQLite
and PostgreSQL. Hashtag to queue to boost, once, through downtime, faults and crashes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text, to_post
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Action, Platform
from bot.errors import MalformedPayload, RateLimited, Unauthorized
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.conftest import StartApp
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


def make_adapter(
    sandbox: MastodonSandbox, clock: FakeClock, *, token: str | None = None, page_size: int = 40
) -> MastodonAdapter:
    return sandbox_adapter(sandbox.base_url, token or sandbox.token, clock, page_size=page_size)


@pytest.fixture
def app_factory(start_app: StartApp, sandbox: MastodonSandbox, clock: FakeClock) -> Callable[..., Any]:
    async def build(settings: Settings, **kw: Any) -> Coalesce:
        adapter = make_adapter(sandbox, clock, page_size=kw.pop("page_size", 40))
        return await start_app(settings, {Platform.MASTODON: adapter}, **kw)

    return build


@pytest.fixture
async def app(app_factory: Callable[..., Any], settings: Settings) -> Coalesce:
    built: Coalesce = await app_factory(settings)
    return built


def member(sandbox: MastodonSandbox, name: str, **kw: Any) -> dict[str, Any]:
    account: dict[str, Any] = sandbox.add_account(name, **kw)
    return account


def hashtag_posts(
    sandbox: MastodonSandbox, author: Any, n: int, clock: FakeClock, start: int = 0
) -> list[Any]:
    out = []
    for i in range(start, start + n):
        out.append(
            sandbox.post(author, f"Post {i} #{TAG}", created_at=clock.now() - timedelta(minutes=n - i))
        )
    return out


def candidates(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(m.Candidate.id, m.Candidate.state, m.Candidate.reason)))


# -- watching ------------------------------------------------------------------------------------


async def test_catches_up_across_pages_after_downtime(
    app_factory: Callable[..., Any],
    settings: Settings,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    maria = member(sandbox, "maria")
    hashtag_posts(sandbox, maria, 45, clock)
    app = await app_factory(settings, page_size=20)
    first = await app.run_once()
    assert first.ingested[Platform.MASTODON].stored == 45
    assert len(candidates(engine)) == 45
    # the bot is down while 50 more are posted; on its return it pages forward until caught up
    clock.advance(hours=2)
    hashtag_posts(sandbox, maria, 50, clock, start=45)
    second = await app.run_once()
    assert second.ingested[Platform.MASTODON].stored == 50
    assert len(candidates(engine)) == 95
    timeline_calls = [p for method, p in sandbox.requests if "/timelines/tag/" in p]
    assert len(timeline_calls) >= 3 + 3  # several pages each time
    third = await app.run_once()
    assert third.ingested[Platform.MASTODON].stored == 0


async def test_a_first_start_tells_its_backfill_page_by_page_with_counts(
    app_factory: Callable[..., Any],
    settings: Settings,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only the running bot backfills (run, run --once): a person watching a first start sees a
    log line per page read, with counts and how far back of how far, then one per batch stored."""
    maria = member(sandbox, "maria")
    hashtag_posts(sandbox, maria, 45, clock)
    app = await app_factory(settings, page_size=20)
    with caplog.at_level(logging.INFO):
        first = await app.run_once()
    assert first.ingested[Platform.MASTODON].stored == 45
    pages = [r for r in caplog.records if r.getMessage() == "mastodon backfill"]
    assert [(r.pages, r.posts) for r in pages] == [(1, 20), (2, 40), (3, 45)]
    assert all(r.of_at_most == 50 and r.until and r.back_to for r in pages)
    (read,) = [r for r in caplog.records if r.getMessage() == "mastodon backfill read"]
    assert (read.pages, read.posts) == (3, 45)
    stored = [r for r in caplog.records if r.getMessage() == "ingested batch" and r.source == "hashtag"]
    assert [r.stored for r in stored] == [5, 20, 20]  # oldest first, so the cursor only moves forward


async def test_several_hashtags_in_one_request_with_any(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = member(sandbox, "maria")
    sandbox.post(maria, "Hoy presenté mi investigación #LatinasEnMedicina", created_at=clock.now())
    sandbox.post(maria, "Match day! #latinasinmedicine", created_at=clock.now())
    sandbox.post(maria, "Unrelated #MedTwitter", created_at=clock.now())
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].stored == 2
    # both tags came through the first tag's timeline: the second was only ever an any[] term
    paths = {p for _, p in sandbox.requests if "/timelines/tag/" in p}
    assert paths == {"/api/v1/timelines/tag/latinasinmedicine"}
    assert len(candidates(engine)) == 2


async def test_duplicate_arrivals_are_stored_once(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = member(sandbox, "maria")
    hashtag_posts(sandbox, maria, 3, clock)
    await app.run_once()
    clock.advance(minutes=1)
    again = await app.run_once()  # the look-back window re-reads the same three posts
    assert again.ingested[Platform.MASTODON].stored == 0
    assert again.ingested[Platform.MASTODON].skipped == {"duplicate": 3}
    assert len(candidates(engine)) == 3


async def test_late_federated_post_behind_the_cursor_is_not_missed(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = member(sandbox, "maria")
    hashtag_posts(sandbox, maria, 2, clock)
    await app.run_once()
    remote = sandbox.add_account("lucia", "other.example")
    # arrives now, but its id comes from its creation time five minutes ago: behind our cursor
    sandbox.post(remote, f"Late but here #{TAG}", created_at=clock.now() - timedelta(minutes=5))
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].stored == 1
    assert len(candidates(engine)) == 3


async def test_every_filter_is_applied_and_counted(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    maria = member(sandbox, "maria")
    quiet = member(sandbox, "quiet", note="Neurologist. #NoBot please")
    troll = member(sandbox, "troll")
    root = sandbox.post(maria, f"Big news #{TAG}", created_at=clock.now())
    sandbox.post(maria, f"Thanks all #{TAG}", in_reply_to=root, created_at=clock.now())
    sandbox.post(quiet, f"My paper #{TAG}", created_at=clock.now())
    sandbox.post(troll, f"Spam #{TAG}", created_at=clock.now())
    sandbox.post(maria, f"Throwback #{TAG}", created_at=clock.now() - timedelta(days=10))
    settings = settings_factory(blocklist={"accounts": ["troll@med.example"]})
    app = await app_factory(settings)
    result = (await app.run_once()).ingested[Platform.MASTODON]
    assert len(result.candidates) == 1
    assert result.skipped == {"reply": 1, "opted_out": 1, "blocked": 1, "too_old": 1}


async def test_a_mention_in_reply_nominates_the_parent_post(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    await app.run_once()  # first start: the notifications cursor begins now
    maria, rosa = member(sandbox, "maria"), member(sandbox, "rosa")
    parent = sandbox.post(maria, "I defended my PhD today!", created_at=clock.now())  # no hashtag
    sandbox.post(rosa, "@coalesce this deserves a spotlight", in_reply_to=parent, created_at=clock.now())
    await app.run_once()
    rows = candidates(engine)
    assert [r.reason for r in rows] == ["nomination"]
    view = app.queue.show(rows[0].id)
    assert view.nominated_by == "rosa@med.example"
    assert "PhD" in view.text


async def test_a_malformed_status_is_skipped_and_the_rest_stored(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = member(sandbox, "maria")
    posts = hashtag_posts(sandbox, maria, 5, clock)
    sandbox.malform(posts[2], "missing_account")
    report = await app.run_once()
    result = report.ingested[Platform.MASTODON]
    assert result.stored == 4
    assert result.skipped == {"malformed": 1}
    # the cursor moved past the broken one: the next cycle does not stall on it
    cursor = app.store.cursors(Platform.MASTODON)["hashtag"]
    assert cursor is not None
    assert int(cursor) >= int(posts[-1]["id"])


async def test_a_platform_outage_is_retried_next_cycle(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = member(sandbox, "maria")
    hashtag_posts(sandbox, maria, 3, clock)
    sandbox.faults.add("/timelines/tag/", Fault("status", status=503), times=5)
    report = await app.run_once()
    assert Platform.MASTODON in report.errors
    assert "unavailable" in report.errors[Platform.MASTODON]
    sandbox.faults.clear()
    again = await app.run_once()
    assert again.ingested[Platform.MASTODON].stored == 3


def test_normalise_turns_html_into_text_and_rejects_broken_statuses() -> None:
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four</p>") == "One & two\n\nThree\nfour"
    with pytest.raises(MalformedPayload, match="created_at"):
        to_post({"id": "1", "account": {"id": "2", "acct": "a"}, "content": "", "created_at": "soon"}, "x")
    with pytest.raises(MalformedPayload, match="account"):
        to_post({"id": "1", "content": "", "created_at": "2026-01-01T00:00:00Z"}, "x")


# -- amplifying ----------------------------------------------------------------------------------


async def _approved(app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, n: int = 1) -> list[Any]:
    maria = member(sandbox, "maria")
    posts = hashtag_posts(sandbox, maria, n, clock)
    await app.run_once()
    for c in app.queue.list("pending"):
        app.queue.approve(c.id, "ana", clock.now())
    return posts


async def test_approved_posts_are_boosted_once(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    posts = await _approved(app, sandbox, clock, 2)
    report = await app.run_once()
    assert [o.ok for o in report.outcomes] == [True, True]
    assert [len(sandbox.reblogs_of(p)) for p in posts] == [1, 1]
    assert [c.state for c in app.queue.list(everything=True)] == ["amplified", "amplified"]
    again = await app.run_once()
    assert again.outcomes == []
    assert [len(sandbox.reblogs_of(p)) for p in posts] == [1, 1]


async def test_two_curators_and_two_amplifiers_at_once_make_one_boost(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    settings = settings_factory()
    app = await app_factory(settings, worker="w1")
    other = await app_factory(settings, worker="w2")
    maria = member(sandbox, "maria")
    (post,) = hashtag_posts(sandbox, maria, 1, clock)
    await app.run_once()
    (c,) = app.queue.list("pending")

    async def approve(curator: str) -> str:
        try:
            view = await asyncio.to_thread(app.queue.approve, c.id, curator, clock.now())
            return str(view.state)
        except Exception as exc:
            return f"refused: {exc}"

    results = await asyncio.gather(approve("ana"), approve("rosa"))
    assert sorted(r.split(":")[0] for r in results) == ["approved", "refused"]
    await asyncio.gather(app.amplifier.run_due(), other.amplifier.run_due())
    assert len(sandbox.reblogs_of(post)) == 1
    assert app.queue.show(c.id).state == "amplified"


async def test_rate_limit_honours_the_reset_header(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    (post,) = await _approved(app, sandbox, clock)
    sandbox.throttle_next(r"/reblog$", reset_after=timedelta(minutes=3))
    report = await app.run_once()
    assert [o.ok for o in report.outcomes] == [False]
    (view,) = app.queue.list("approved")
    assert view.next_attempt_at is not None
    wait = (view.next_attempt_at - clock.now()).total_seconds()
    assert 170 <= wait <= 190  # the server's reset time, not our own backoff
    assert "rate limit" in (view.last_error or "")
    clock.advance(seconds=wait - 5)
    assert (await app.run_once()).outcomes == []  # not yet due
    clock.advance(seconds=10)
    sandbox.reset_rate_limits()
    assert [o.ok for o in (await app.run_once()).outcomes] == [True]
    assert len(sandbox.reblogs_of(post)) == 1


async def test_a_lost_response_is_retried_without_a_second_boost(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    (post,) = await _approved(app, sandbox, clock)
    sandbox.lose_next_response(r"/reblog$", method="POST")
    first = await app.run_once()
    assert [o.ok for o in first.outcomes] == [False]
    clock.advance(minutes=10)
    second = await app.run_once()
    assert [(o.ok, o.detail) for o in second.outcomes] == [(True, "already done")]
    assert len(sandbox.reblogs_of(post)) == 1


async def test_failures_retry_with_backoff_then_fail_with_the_reason(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    app = await app_factory(
        settings_factory(
            amplify={"max_attempts": 3, "backoff_seconds": 60, "max_per_hour": 3600, "outage_hours": 0}
        )
    )
    await _approved(app, sandbox, clock)
    sandbox.faults.add(r"/reblog$", Fault("status", status=502), times=10)
    waits = []
    for _ in range(3):
        await app.run_once()
        views = app.queue.list("approved") or app.queue.list("failed")
        if views[0].next_attempt_at:
            waits.append((views[0].next_attempt_at - clock.now()).total_seconds())
            clock.advance(seconds=waits[-1] + 1)
    (failed,) = app.queue.list("failed")
    assert "Mastodon unavailable" in (failed.last_error or "")
    assert len(waits) == 2
    assert 30 <= waits[0] <= 90  # 60 s with jitter
    assert 60 <= waits[1] <= 180  # doubled
    retried = app.queue.retry(failed.id, "ana", clock.now())
    assert retried.state == "approved"


async def test_an_outage_is_waited_out_for_outage_hours_however_many_attempts(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    amplify = {"max_attempts": 3, "backoff_seconds": 60, "backoff_max_seconds": 600, "max_per_hour": 3600}
    app = await app_factory(settings_factory(amplify={**amplify, "outage_hours": 2}))
    (first,) = await _approved(app, sandbox, clock)
    sandbox.faults.add(r"/reblog$", Fault("status", status=503), times=8)  # down for about an hour

    async def until_settled() -> int:
        tries = 0
        while app.queue.list("approved"):
            await app.run_once()
            tries += 1
            (view,) = app.queue.list("approved") or [None]
            if view is not None and view.next_attempt_at is not None:
                clock.advance(seconds=(view.next_attempt_at - clock.now()).total_seconds() + 1)
        return tries

    assert await until_settled() == 9  # eight failures, then the boost
    assert len(sandbox.reblogs_of(first)) == 1
    assert app.queue.list("failed") == []

    # Down for longer than outage_hours: given up, with the reason, once the window has passed.
    clock.advance(hours=1)
    (second,) = hashtag_posts(sandbox, member(sandbox, "ines"), 1, clock)
    await app.run_once()
    (pending,) = app.queue.list("pending")
    approved_at = clock.now()
    app.queue.approve(pending.id, "ana", approved_at)
    sandbox.faults.add(r"/reblog$", Fault("status", status=503), times=1000)
    await until_settled()
    (failed,) = app.queue.list("failed")
    assert "Mastodon unavailable" in (failed.last_error or "")
    assert clock.now() - approved_at >= timedelta(hours=2)
    assert sandbox.reblogs_of(second) == []


async def test_a_post_from_another_server_is_resolved_before_boosting(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    adapter = app.adapters[Platform.MASTODON]
    remote = sandbox.add_account("lucia", "other.example")
    status = sandbox.remote_status(remote, f"Hello from afar #{TAG}", created_at=clock.now())
    post = await adapter.resolve(status["url"])
    assert post.author.handle == "lucia@other.example"
    receipt = await adapter.amplify(post, Action.BOOST)
    assert len(sandbox.reblogs_of(receipt.ref)) == 1


async def test_dry_run_boosts_nothing(
    app_factory: Callable[..., Any], settings: Settings, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    app = await app_factory(settings, dry_run=True)
    (post,) = await _approved(app, sandbox, clock)
    report = await app.run_once()
    assert [o.detail for o in report.outcomes] == ["dry run"]
    assert sandbox.reblogs_of(post) == []
    assert app.queue.list("approved")


async def test_wrong_token_stops_start_up(
    engine: Engine, settings: Settings, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    adapter = make_adapter(sandbox, clock, token="not-the-token")
    app = Coalesce(settings, engine=engine, adapters={Platform.MASTODON: adapter}, clock=clock)
    with pytest.raises(Unauthorized):
        await app.start()


async def test_rate_limit_error_carries_the_wait(sandbox: MastodonSandbox, clock: FakeClock) -> None:
    adapter = make_adapter(sandbox, clock)
    sandbox.throttle_next(r"/statuses/", reset_after=timedelta(seconds=90))
    with pytest.raises(RateLimited) as info:
        await adapter.resolve("12345")
    assert 80 <= info.value.retry_after <= 100


# -- a real crash between the boost and the commit -----------------------------------------------


def _write_config(tmp_path: Path, db_url: str, sandbox: MastodonSandbox) -> Path:
    cfg = {
        "community": {"slug": "lim", "name": "LIM", "hashtags": [TAG]},
        "database": {"url": db_url},
        "curators": [{"name": "ana"}],
        "amplify": {"max_per_hour": 3600, "burst": 10},
        "platforms": {
            "mastodon": {"api_base_url": sandbox.base_url, "access_token": "${TEST_MASTODON_TOKEN}"}
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _bot(config: Path, token: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TEST_MASTODON_TOKEN": token, "COALESCE_WORKER_ID": "worker-1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_after_the_boost_before_the_commit_boosts_once_on_restart(
    tmp_path: Path, db_url: str, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    sandbox.clock = lambda: datetime.now(UTC)  # the bot runs in its own process, on real time
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Residency match! #{TAG}")
    config = _write_config(tmp_path, db_url, sandbox)
    first = _bot(config, sandbox.token, "run", "--once")
    assert first.wait(60) == 0, first.stderr.read() if first.stderr else ""
    approve = _bot(config, sandbox.token, "queue", "approve", "1", "--as", "ana")
    assert approve.wait(60) == 0
    # The server will do the reblog but hold its answer: the bot is killed in that window.
    sandbox.faults.add(r"/reblog$", Fault("delay_after", seconds=30), method="POST")
    doomed = _bot(config, sandbox.token, "run", "--once")
    assert sandbox.wait_for_request("POST", r"/reblog$", timeout=60)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    assert len(sandbox.reblogs_of(status)) == 1
    from bot.store.store import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(m.Amplification.state)).scalar_one() == "intent"
    restart = _bot(config, sandbox.token, "run", "--once")
    out, err = restart.communicate(timeout=60)
    assert restart.returncode == 0, err
    assert "already done" in out
    assert len(sandbox.reblogs_of(status)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(m.Amplification.state)).scalar_one() == "done"
        assert conn.execute(select(m.Candidate.state)).scalar_one() == "amplified"
    engine.dispose()


async def test_boosts_are_paced_by_the_hourly_budget(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
) -> None:
    app = await app_factory(settings_factory(amplify={"max_per_hour": 6, "burst": 1}))
    posts = await _approved(app, sandbox, clock, 3)
    assert len((await app.run_once()).outcomes) == 1
    assert (await app.run_once()).outcomes == []  # the next one waits its turn
    clock.advance(minutes=9)
    assert (await app.run_once()).outcomes == []
    clock.advance(minutes=1, seconds=1)  # 6 an hour: one every 10 minutes
    assert len((await app.run_once()).outcomes) == 1
    clock.advance(minutes=10, seconds=1)
    assert len((await app.run_once()).outcomes) == 1
    assert [len(sandbox.reblogs_of(p)) for p in posts] == [1, 1, 1]
