"""Work that fails for good backs off, then alerts the curators once: an undo the platform keeps
refusing (the member opted out, the boost must come back) is asked a few times with growing
pauses, then given up with one message in the curators' chat — never retried every round,
not even by the consent sweep (which asks again only after a long pause) — while other undos
go on.

The real python-telegram-bot and Mastodon.py against the sandboxes; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import CURATORS, Harness, make_mastodon

tg = telegram_world.tg
masto = telegram_world.masto
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"


def unreblogs(masto: MastodonSandbox, status: Any) -> int:
    return sum(
        1
        for method, path in masto.requests
        if method == "POST" and path.endswith(f"/{status['id']}/unreblog")
    )


def alerts(tg: TelegramSandbox) -> list[str]:
    return [x.text for x in tg.messages(CURATORS, by_bot=True) if "Could not take back" in x.text]


async def test_a_refused_undo_backs_off_then_alerts_the_curators_once(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, masto: MastodonSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    maria, bea = masto.add_account("maria"), masto.add_account("bea")
    refused = masto.post(maria, f"Matched! #{TAG}")
    fine = masto.post(bea, f"Passed my boards! #{TAG}")
    await h.app.run_once()
    queue = Queue(h.app.store, h.app.settings)
    for candidate in queue.list("pending"):
        queue.approve(candidate.id, "ana", clock.now())
    await h.app.amplifier.run_due()
    assert len(masto.reblogs_of(refused)) == len(masto.reblogs_of(fine)) == 1
    masto.faults.add(
        rf"/api/v1/statuses/{refused['id']}/unreblog$",
        Fault("status", status=403, body={"error": "This action is not allowed"}),
        times=1000,
        method="POST",
    )
    for who in (maria, bea):  # both opt out: both boosts must come back
        h.app.trust.consent.opt_out(Platform.MASTODON, str(who["id"]), "cli", "ana", clock.now())

    tries = []
    for _ in range(12):  # a day of trust rounds, hours apart
        await h.app.trust.run_once()
        assert h.app.console is not None
        await h.app.console.sync()
        tries.append(unreblogs(masto, refused))
        clock.advance(hours=2)

    assert masto.reblogs_of(fine) == []  # the other undo went through at once
    assert len(masto.reblogs_of(refused)) == 1  # the platform still refuses this one
    assert tries[:5] == [1, 2, 3, 3, 3]  # asked three times with pauses, then given up…
    assert tries[-1] < len(tries)  # …and never again every round: a try every 6 h at most after
    assert tries[-1] > 3  # (the platform may accept later: it is not forgotten either)
    (alert,) = alerts(tg)  # one message to the curators, saying what and where
    assert "Mastodon" in alert
    assert "This action is not allowed" in alert or "403" in alert
    with h.engine.connect() as conn:
        states = sorted(str(s) for (s,) in conn.execute(select(m.Undo.state)))
    assert states[0] == "done"
    assert states[1] in ("failed", "pending")  # given up, or asked again after the long pause
