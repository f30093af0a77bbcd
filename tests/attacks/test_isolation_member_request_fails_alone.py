"""One member request that cannot be handled fails alone: the other requests in the same batch
are recorded and answered, the batch's posts reach the queue, the stream moves on (the bad
one is not replayed forever), and the curators are told once what could not be done.

The database itself refuses the one request (a trigger, on SQLite and PostgreSQL alike); the
real python-telegram-bot against the Bot API sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from bot.clock import FakeClock
from bot.curation.queue import Queue
from bot.store import models as m
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import BEA, COMMUNITY, CURATORS, MARIA, Harness

tg = telegram_world.tg
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"


def refuse_opt_ins(engine: Engine) -> None:
    """Make the database refuse to store any opt-in request: a fault in one item only."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_optin BEFORE INSERT ON member_requests "
                    "WHEN NEW.kind = 'optin' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_optin() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.kind = 'optin' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_optin BEFORE INSERT ON member_requests "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_optin()"
                )
            )


async def test_a_request_that_cannot_be_handled_fails_alone(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    refuse_opt_ins(engine)
    tg.user_sends(MARIA, MARIA, "/optin")  # the one that cannot be stored
    tg.user_sends(BEA, BEA, "/optout")
    tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")

    await h.app.run_once()
    assert h.app.console is not None
    await h.app.console.sync()

    with engine.connect() as conn:
        consents = dict(conn.execute(select(m.Account.platform_account_id, m.Account.consent)).all())
    assert consents[str(BEA)] == "out"  # the other request was handled…
    answer = await tg.wait_for_async(lambda: [x.text for x in tg.messages(BEA, by_bot=True)] or None)
    assert "will not share your posts" in answer[0]  # …and answered
    assert len(Queue(h.app.store, h.app.settings).list("pending")) == 1  # the post reached the queue
    (alert,) = [x.text for x in tg.messages(CURATORS, by_bot=True) if "could not be handled" in x.text]
    assert "optin" in alert
    assert "refused by a test trigger" in alert

    clock.advance(seconds=5)
    await h.app.run_once()  # the stream moved on: nothing is replayed, nothing alerted twice
    await h.app.console.sync()
    assert len([x for x in tg.messages(CURATORS, by_bot=True) if "could not be handled" in x.text]) == 1
