"""Respect what members already said on Bluesky (issue 10, class 10): an account with the
``!no-unauthenticated`` self-label ("show my account to logged-in users only") is treated as
not (yet) consenting — its posts reach the curators with the reason on their card, and are not
reposted until the member opts in. Read with the profile, in every watch mode, and again just
before the repost. Through the real atproto SDK against the loopback sandbox (and, in
tests/adapters/bluesky/test_desk_discoverability_network.py, the reference network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from adapters.bluesky.normalize import to_author
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.amplifier import WITHHELD_HOLD
from bot.domain import Platform
from bot.store import models as m
from sandbox.bluesky import BlueskySandbox
from tests.adapters.bluesky.conftest import TAG, build_adapter, sandbox_settings
from tests.conftest import StartApp, make_settings

LOGGED_IN_ONLY = "!no-unauthenticated"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[BlueskySandbox]:
    with BlueskySandbox(clock=clock.now) as sb:
        yield sb


@pytest.fixture
def make_app(
    start_app: StartApp, engine: Engine, sandbox: BlueskySandbox, clock: FakeClock
) -> Callable[..., Any]:
    async def build(settings: Settings | None = None, **overrides: Any) -> Coalesce:
        adapter = build_adapter(sandbox_settings(sandbox, **overrides), clock, engine)
        return await start_app(settings or make_settings(), {Platform.BLUESKY: adapter})

    return build


def only_candidate(engine: Engine) -> int:
    with engine.connect() as conn:
        (cid,) = conn.execute(select(m.Candidate.id)).scalars().all()
    return int(cid)


@pytest.mark.parametrize("watch", ["jetstream", "search"])
async def test_a_logged_in_only_member_waits_for_her_opt_in(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine, watch: str
) -> None:
    app = await make_app(watch=watch)
    sofia = sandbox.add_account("sofia.test", labels=[LOGGED_IN_ONLY])
    post = sandbox.post(sofia, f"Board exam passed #{TAG}")
    clock.advance(1)
    await app.run_once()

    cid = only_candidate(engine)
    view = app.queue.show(cid)
    assert view.state == "pending"
    assert view.consent_note is not None
    assert "logged-in users" in view.consent_note
    app.queue.approve(cid, "ana", clock.now())
    await app.amplifier.run_due()
    assert sandbox.reposts_of(post) == []

    sandbox.post(sofia, "@coalesce.test optin")
    clock.advance(1)
    await app.run_once()
    clock.advance(WITHHELD_HOLD.total_seconds() + 1)
    await app.amplifier.run_due()
    assert len(sandbox.reposts_of(post)) == 1


async def test_the_self_label_set_after_approval_stops_the_repost(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app()
    sofia = sandbox.add_account("sofia.test")
    post = sandbox.post(sofia, f"Board exam passed #{TAG}")
    clock.advance(1)
    await app.run_once()
    cid = only_candidate(engine)
    assert app.queue.show(cid).consent_note is None
    app.queue.approve(cid, "ana", clock.now())
    sandbox.set_labels(sofia, [LOGGED_IN_ONLY])

    outcomes = await app.amplifier.run_due()

    assert outcomes == []
    assert sandbox.reposts_of(post) == []
    assert "logged-in users" in (app.queue.show(cid).consent_note or "")


async def test_the_community_can_choose_not_to_respect_it(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app(make_settings(trust__respect_platform_signals={"no_unauthenticated": False}))
    sofia = sandbox.add_account("sofia.test", labels=[LOGGED_IN_ONLY])
    post = sandbox.post(sofia, f"Board exam passed #{TAG}")
    clock.advance(1)
    await app.run_once()
    cid = only_candidate(engine)
    assert app.queue.show(cid).consent_note is None
    app.queue.approve(cid, "ana", clock.now())
    await app.amplifier.run_due()
    assert len(sandbox.reposts_of(post)) == 1


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(
        st.fixed_dictionaries(
            {
                "val": st.sampled_from([LOGGED_IN_ONLY, "bot", "porn", "!hide", "no-unauthenticated"])
                | st.text()
            },
            optional={"src": st.text(max_size=10)},
        )
        | st.text(max_size=5)
        | st.none(),
        max_size=5,
    ),
    description=st.text(max_size=40),
)
def test_the_self_label_is_read_exactly_when_present(labels: list[Any], description: str) -> None:
    """Any labels a profile view may carry: the signal is read exactly when the label is there."""
    profile = {"did": "did:plc:abc", "handle": "x.test", "description": description, "labels": labels}
    author = to_author(profile)
    present = any(isinstance(x, dict) and x.get("val") == LOGGED_IN_ONLY for x in labels)
    assert author.withheld == ({"no_unauthenticated"} if present else frozenset())
    assert author.bio == description.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
