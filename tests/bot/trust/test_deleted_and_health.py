"""A deleted original takes our boost with it; `bot health` says when a watch has gone quiet."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.domain import Platform
from bot.health import report
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.trust.conftest import TAG, states


async def test_a_deleted_original_is_taken_back_and_leaves_the_digests(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    kept, deleted = sandbox.post(maria, f"Keep #{TAG}"), sandbox.post(maria, f"Oops #{TAG}")
    await app.run_once()
    for cid in states(engine):
        app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(kept)) == 1
    assert len(sandbox.reblogs_of(deleted)) == 1
    assert (await app.trust.run_once()).checked == 2  # the first look, right after the boosts
    told: list[int] = []
    app.trust.on_post_gone.append(told.append)
    sandbox.delete(deleted)  # Mastodon drops the boost with it; we must still know and say so

    sandbox.requests.clear()
    quiet = await app.trust.run_once()  # looked again at most every trust.recheck_minutes
    assert quiet.checked == 0
    assert quiet.gone == 0
    clock.advance(minutes=11)
    result = await app.trust.run_once()

    assert (result.checked, result.gone) == (2, 1)
    lookups = [p for verb, p in sandbox.requests if verb == "GET" and p.startswith("/api/v1/statuses")]
    assert lookups == ["/api/v1/statuses", f"/api/v1/statuses/{deleted['id']}"]  # one batch, one check
    with engine.connect() as conn:
        gone = conn.execute(select(m.Post.id, m.Post.deleted).where(m.Post.deleted.is_(True))).all()
        amps = dict(conn.execute(select(m.Amplification.candidate_id, m.Amplification.state)).all())
    assert len(gone) == 1
    assert told == [gone[0].id]
    assert sorted(amps.values()) == ["done", "undone"]
    assert len(sandbox.reblogs_of(kept)) == 1


async def test_a_failed_recheck_takes_nothing_back(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Keep #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    sandbox.faults.add(r"^/api/v1/statuses$", Fault("status", 502), method="GET")
    result = await app.trust.run_once()
    assert result.gone == 0
    assert len(sandbox.reblogs_of(status)) == 1
    sandbox.faults.add(r"^/api/v1/statuses$", Fault("status", 404), method="GET")  # an older server
    clock.advance(minutes=11)
    result = await app.trust.run_once()
    assert (result.checked, result.gone) == (1, 0)
    assert len(sandbox.reblogs_of(status)) == 1


async def test_health_reports_each_platform_and_fails_when_stale(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    settings = app.settings.__class__(**{**app.settings.__dict__, "platforms": {Platform.MASTODON: object()}})
    assert not report(app.store, settings, clock.now()).ok  # never watched yet
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Hello #{TAG}")
    await app.run_once()
    health = report(app.store, settings, clock.now())
    assert health.ok
    (mastodon,) = health.platforms
    assert mastodon.last_ok_at == clock.now()
    assert mastodon.last_progress_at == clock.now()
    assert mastodon.queue == {"pending": 1}

    sandbox.faults.add(r"^/api/", Fault("status", 503), times=10)
    clock.advance(minutes=16)
    report_ = await app.run_once()
    assert Platform.MASTODON in report_.errors
    health = report(app.store, settings, clock.now())
    assert not health.ok
    (mastodon,) = health.platforms
    assert mastodon.stale
    assert mastodon.why == "no successful watch for 16m"
    assert mastodon.last_error is not None
    assert "unavailable" in mastodon.last_error
    assert report(app.store, settings, clock.now(), stale_after=timedelta(hours=1)).ok


async def test_a_deleted_opportunity_post_leaves_the_digest_list(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    status = sandbox.post(
        maria,
        f"PA scholarship, apply by December 15 https://grants.example.org/pa #{TAG} #opportunity",
    )
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    with engine.connect() as conn:
        assert conn.execute(select(m.Opportunity.removed_at)).all() == [(None,)]
    sandbox.delete(status)
    clock.advance(minutes=11)
    result = await app.trust.run_once()
    assert result.gone == 1
    with engine.connect() as conn:
        removed_by = conn.execute(select(m.Opportunity.removed_by)).scalar_one()
    assert removed_by == "system: the author deleted the post"
