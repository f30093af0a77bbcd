"""A pile-on before amplifying: the trust round counts the replies from accounts that don't
follow the author to posts still waiting for the curators, and a card that newly earns the
flag has its candidate's version bumped so the console shows it again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.errors import ConfigError
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.trust.conftest import TAG, states


def version(engine: Engine, candidate_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(m.Candidate.version).where(m.Candidate.id == candidate_id)).scalar_one()
        )


def context_lookups(sandbox: MastodonSandbox) -> int:
    return sum(1 for verb, path in sandbox.requests if verb == "GET" and path.endswith("/context"))


async def test_replies_from_strangers_reach_the_card_and_bump_its_version_once(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    app: Coalesce = await app_factory(settings_factory(trust={"flags": {"stranger_replies": 3}}))
    maria = sandbox.add_account("maria")
    friend = sandbox.add_account("friend")
    sandbox.follow(friend, maria)
    status = sandbox.post(maria, f"Matched into pediatrics! #{TAG}")
    await app.run_once()  # queued, and counted in the same pass's trust round: no replies yet
    (cid,) = states(engine)
    assert app.queue.show(cid).stranger_replies == 0
    before = version(engine, cid)
    sandbox.post(friend, "so proud of you", in_reply_to=status)
    sandbox.post(maria, "thank you!", in_reply_to=status)
    for name in ("s1", "s2", "s3"):
        sandbox.post(sandbox.add_account(name), "who asked", in_reply_to=status)
    sandbox.requests.clear()
    soon = await app.trust.run_once()  # within trust.flags.pile_on_recheck_minutes: not asked
    assert soon.replies_counted == 0
    assert context_lookups(sandbox) == 0

    clock.advance(minutes=16)
    flagged = await app.trust.run_once()
    view = app.queue.show(cid)
    assert (flagged.replies_counted, flagged.piling_on) == (1, 1)
    assert view.stranger_replies == 3
    assert version(engine, cid) == before + 1
    assert view.state == "pending"

    clock.advance(minutes=16)
    again = await app.trust.run_once()
    assert (again.replies_counted, again.piling_on) == (1, 0)
    assert app.queue.show(cid).stranger_replies == 3
    assert version(engine, cid) == before + 1  # still flagged: the card needs no refresh


async def test_a_platform_error_is_logged_and_the_round_goes_on(
    caplog: pytest.LogCaptureFixture,
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    app: Coalesce = await app_factory(settings_factory(trust={"flags": {"stranger_replies": 1}}))
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Matched! #{TAG}")
    sandbox.faults.add(r"/context$", Fault("status", 502), method="GET")

    await app.run_once()  # the trust round in it fails to count, and the rest of the pass goes on

    (cid,) = states(engine)
    assert app.queue.show(cid).stranger_replies is None
    assert "could not count replies from strangers" in caplog.messages
    status = sandbox.statuses_by(maria["id"])[0]
    sandbox.post(sandbox.add_account("s1"), "hm", in_reply_to=status)
    clock.advance(minutes=16)
    later = await app.trust.run_once()
    assert (later.replies_counted, later.piling_on) == (1, 1)
    assert app.queue.show(cid).stranger_replies == 1


async def test_only_open_young_candidates_are_counted(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
) -> None:
    app: Coalesce = await app_factory(settings_factory(trust={"flags": {"stranger_replies": 1}}))
    maria = sandbox.add_account("maria")
    rejected = sandbox.post(maria, f"One #{TAG}")
    kept = sandbox.post(maria, f"Two #{TAG}")
    await app.run_once()
    by_post = {app.queue.show(cid).url: cid for cid in states(engine)}
    app.queue.reject(by_post[rejected["url"]], "ana", clock.now())
    clock.advance(minutes=16)
    sandbox.requests.clear()

    result = await app.trust.run_once()

    assert result.replies_counted == 1
    assert context_lookups(sandbox) == 1
    assert app.queue.show(by_post[kept["url"]]).stranger_replies == 0
    clock.advance(days=4)  # past PILE_ON_DAYS: no longer asked about
    assert (await app.trust.run_once()).replies_counted == 0


def test_the_recount_interval_is_read_from_the_config_and_checked(
    settings_factory: Callable[..., Settings],
) -> None:
    assert settings_factory().trust.flags.pile_on_recheck_minutes == 15
    assert (
        settings_factory(trust={"flags": {"pile_on_recheck_minutes": 0}}).trust.flags.pile_on_recheck_minutes
        == 0
    )
    with pytest.raises(ConfigError) as info:
        settings_factory(trust={"flags": {"pile_on_recheck_minutes": -1}})
    assert info.value.key == "trust.flags.pile_on_recheck_minutes"
