"""Respect what members already said on Bluesky, on the reference network (PLC + PDS +
AppView): a member whose profile record carries the ``!no-unauthenticated`` self-label, as the
Bluesky app writes it, reaches the curators with the reason on the card and is not reposted
until she opts in; a member who adds the label after approval is caught at the last look.
(Issue 10, class 10; here rather than in tests/attacks/ so it shares this folder's network.)"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from bot.app import Coalesce
from tests.adapters.bluesky.test_issue16_network import (
    Run,
    candidate_of,
    central_did,
    new_person,
    outcome,
    run_app,
    say,
    set_profile,
)
from tests.atproto_network.fixture import AtprotoNetwork

pytestmark = pytest.mark.atproto_network
__all__ = ["run_app"]

LOGGED_IN_ONLY = "!no-unauthenticated"


async def _reposted(app: Coalesce, network: AtprotoNetwork, uri: str) -> bool:
    adapter = app.adapters[next(iter(app.adapters))]
    client = adapter.client  # type: ignore[attr-defined]
    listed = await client.com.atproto.repo.list_records(
        {"repo": central_did(network), "collection": "app.bsky.feed.repost", "limit": 100}
    )
    return any(r.value.subject.uri == uri for r in listed.records)


async def test_a_logged_in_only_member_is_read_and_held_until_she_opts_in(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    token = uuid.uuid4().hex[:8]
    sofia = await new_person(atproto_network, "sofia", description="Surgeon", labels=(LOGGED_IN_ONLY,))
    ines = await new_person(atproto_network, "ines", description="Surgeon too")
    hers = await say(sofia, f"Board exam passed {token}")
    theirs = await say(ines, f"Board exam passed too {token}")
    await atproto_network.process_all()

    async with run_app(watch="search") as app:
        await app.run_once()
        held = candidate_of(engine, hers.uri)
        view = app.queue.show(held)
        assert view.consent_note is not None
        assert "logged-in users" in view.consent_note
        later = candidate_of(engine, theirs.uri)
        assert app.queue.show(later).consent_note is None

        # Ines adds the label after approval: the profile read before the repost sees it.
        await set_profile(ines.client, ines.did, "Surgeon too", (LOGGED_IN_ONLY,))
        await atproto_network.process_all()
        for cid in (held, later):
            app.queue.approve(cid, "ana", app.clock.now())
        outcomes = await app.amplifier.run_due()
        assert outcomes == []
        assert not await _reposted(app, atproto_network, hers.uri)
        assert not await _reposted(app, atproto_network, theirs.uri)
    assert outcome(engine, hers.uri)[1] == "approved"  # held for her opt-in, not dropped
