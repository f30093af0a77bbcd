"""Members talking to the central account on Bluesky, through the whole bot: ``optout``, ``optin``
and ``link`` in a post that mentions it (from the stream and from search), answered in a reply
under their post; and answers that arrive broken are retried, never a crash."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import BlueskyAdapter
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.bluesky import POST, BlueskySandbox
from tests.adapters.bluesky.conftest import TAG, build_adapter, sandbox_settings


@pytest.fixture(params=["jetstream", "search"])
def watch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(
    engine: Engine, sandbox: BlueskySandbox, clock: FakeClock, settings: Settings, watch: str
) -> AsyncIterator[Coalesce]:
    adapter: BlueskyAdapter = build_adapter(sandbox_settings(sandbox, watch=watch), clock, engine)
    bot = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter}, clock=clock)
    await bot.start()
    yield bot
    for adapter_ in bot.adapters.values():
        await adapter_.close()


def answers(sandbox: BlueskySandbox) -> list[dict[str, Any]]:
    """The central account's posts, in the order it made them."""
    return sandbox.records(sandbox.central, POST)


def states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(m.Candidate.state).order_by(m.Candidate.id)).scalars())


def consent(engine: Engine, did: str) -> str | None:
    with engine.connect() as conn:
        value: str | None = conn.execute(
            select(m.Account.consent).where(m.Account.platform_account_id == did)
        ).scalar_one()
        return value


async def test_opting_out_by_mention_withdraws_and_is_answered_under_the_post(
    app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    ana = sandbox.add_account("ana.test")
    sandbox.post(ana, f"Matched into cardiology! #{TAG}")
    sandbox.post(ana, f"Grand rounds today #{TAG}")
    clock.advance(1)
    await app.run_once()
    assert states(engine) == ["pending", "pending"]

    asked = sandbox.post(ana, "@coalesce.test optout")
    clock.advance(1)
    report = await app.run_once()

    assert Platform.BLUESKY not in report.errors, report.errors
    assert states(engine) == ["withdrawn", "withdrawn"]
    assert consent(engine, ana) == "out"
    (answer,) = answers(sandbox)
    assert answer["reply"]["parent"]["uri"] == asked
    assert answer["text"].startswith("@ana.test Done: the community account will not share your posts")
    assert "2 waiting posts taken out of the queue" in answer["text"]
    mentioned = [f["features"][0].get("did") for f in answer.get("facets", [])]
    assert ana in mentioned  # a real mention: she is notified

    # Her later posts never reach the queue, and the request is not taken for a post either.
    sandbox.post(ana, f"Another one #{TAG}")
    clock.advance(1)
    later = await app.run_once()
    assert later.ingested[Platform.BLUESKY].skipped.get("opted_out") == 1
    assert len(states(engine)) == 2
    assert len(answers(sandbox)) == 1  # answered once, though search sees the request again

    sandbox.post(ana, "@coalesce.test opt in please")  # not a command: conversation
    sandbox.post(ana, "@coalesce.test Opt in!")
    clock.advance(1)
    await app.run_once()
    assert consent(engine, ana) == "in"
    assert "Welcome back" in answers(sandbox)[-1]["text"]


async def test_link_on_bluesky_gets_no_code_only_where_to_ask(
    app: Coalesce, sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    """Bluesky's answers are public replies: a code there is anyone's. The member is told where
    to ask for one in private instead, and no code is made."""
    ana = sandbox.add_account("ana.test")
    sandbox.post(ana, f"Matched! #{TAG}")
    clock.advance(1)
    await app.run_once()
    sandbox.post(ana, "@coalesce.test link")
    clock.advance(1)
    await app.run_once()
    answer = answers(sandbox)[-1]["text"]
    assert "only sent in private" in answer
    assert re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", answer) is None
    with engine.connect() as conn:
        assert conn.execute(select(m.LinkCode.code)).scalars().all() == []


async def test_broken_answers_are_retried_not_crashes(
    app: Coalesce,
    sandbox: BlueskySandbox,
    clock: FakeClock,
    engine: Engine,
    watch: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ana = sandbox.add_account("ana.test")
    await app.run_once()  # the watch has started: what comes next comes by the stream (or search)
    sandbox.post(ana, f"Matched into cardiology! #{TAG}")
    clock.advance(1)
    # A cut connection and a body that is not JSON, where the watch reads (profiles, search).
    route = r"getProfiles" if watch == "jetstream" else r"searchPosts"
    sandbox.faults.add(route, Fault("drop"))
    sandbox.faults.add(route, Fault("malformed"))

    failures = []
    for _ in range(2):
        report = await app.run_once()  # an untranslated error would be raised here
        failures.append(report.errors.get(Platform.BLUESKY) or "")
    assert all(f.startswith("Bluesky: ") for f in failures), failures
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]

    report = await app.run_once()
    assert Platform.BLUESKY not in report.errors, report.errors
    assert states(engine) == ["pending"]
