"""When the author's profile cannot be read right before an amplification (the server errs, or
answers without it), nothing of hers is amplified on consent read earlier: the candidate waits
and is tried again, its card and ``queue show`` say why, and it goes out once the profile reads
(or, if it never does within ``amplify.outage_hours``, fails saying why).

The real Mastodon.py against the loopback sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.console.cards import compose_card
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.ops.messages import queue_note as queue_show_note
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.conftest import make_settings
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def app(engine: Engine, sandbox: MastodonSandbox, clock: FakeClock) -> AsyncIterator[Coalesce]:
    adapter = sandbox_adapter(sandbox.base_url, sandbox.token, clock)
    application = Coalesce(
        make_settings(), engine=engine, adapters={Platform.MASTODON: adapter}, clock=clock, worker="w1"
    )
    await application.start()
    yield application
    await application.stop()


async def approved(app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock) -> tuple[Any, Any, int]:
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Matched into cardiology! #{TAG}")
    await app.run_once()
    queue = Queue(app.store, app.settings)
    (pending,) = queue.list("pending")
    queue.approve(pending.id, "ana", clock.now())
    return maria, status, pending.id


PROFILE_FAULTS: dict[str, Callable[[Any], Fault]] = {
    "server error": lambda _: Fault("status", status=503),
    "refused": lambda _: Fault("status", status=403, body={"error": "This action is not allowed"}),
    "not found": lambda _: Fault("status", status=404, body={"error": "Record not found"}),
    "dropped": lambda _: Fault("drop"),
}


@pytest.mark.parametrize("how", sorted(PROFILE_FAULTS))
async def test_an_unreadable_profile_holds_the_boost_and_says_why(
    how: str, app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    maria, status, cid = await approved(app, sandbox, clock)
    profile = rf"^/api/v1/accounts/{maria['id']}$"
    sandbox.faults.add(profile, PROFILE_FAULTS[how](maria), times=1000, method="GET")

    for _ in range(3):  # every round looks again, and still nothing goes out
        await app.amplifier.run_due()
        view = Queue(app.store, app.settings).show(cid)
        clock.advance(seconds=(view.next_attempt_at - clock.now()).total_seconds() + 1)
    assert sandbox.reblogs_of(status) == []

    view = Queue(app.store, app.settings).show(cid)
    assert view.state == "approved"  # waiting, not lost
    assert view.last_error is not None
    assert "the author's profile could not be read" in view.last_error
    card = compose_card(view, clock.now()).doc.plain()
    assert "⏸ Waiting: the author's profile could not be read" in card
    assert queue_show_note(view, clock.now()).startswith("waiting: the author's profile could not be read")

    sandbox.faults.clear()  # the profile reads again: the boost goes out at the next look
    clock.advance(hours=2)
    await app.amplifier.run_due()
    assert len(sandbox.reblogs_of(status)) == 1
    assert Queue(app.store, app.settings).show(cid).state == "amplified"


async def test_a_profile_unreadable_for_the_whole_outage_window_fails_saying_why(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    maria, status, cid = await approved(app, sandbox, clock)
    sandbox.faults.add(
        rf"^/api/v1/accounts/{maria['id']}$", Fault("status", status=503), times=10_000, method="GET"
    )
    for _ in range(200):
        await app.amplifier.run_due()
        view = Queue(app.store, app.settings).show(cid)
        if view.state != "approved":
            break
        clock.advance(seconds=(view.next_attempt_at - clock.now()).total_seconds() + 1)
    assert sandbox.reblogs_of(status) == []
    view = Queue(app.store, app.settings).show(cid)
    assert view.state == "failed"
    assert view.last_error is not None
    assert "profile could not be read" in view.last_error
    assert "gave up after 24 h" in view.last_error
    card = compose_card(view, clock.now())
    assert card.buttons[0][0].label == "🔁 Retry"
