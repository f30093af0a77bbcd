"""Telegram in cron mode: ``run --once`` sends the cards that are due and applies the curators'
taps it reads, and no update is confirmed to Telegram (getUpdates' offset moved past it) before
it has been applied or stored — a tap whose application fails is read again by the next run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from adapters.telegram.updates import APPLY_ATTEMPTS
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.domain import Platform
from bot.store.migrate import upgrade
from bot.store.store import make_engine
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import ANA, CHANNEL, COMMUNITY, CURATORS, MARIA, TAG, Harness

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
harness_factory = world.harness_factory


@pytest.fixture
def broken_decisions(engine: Engine) -> Callable[[bool], None]:
    """A real database failure on demand: while switched on, writing a curator's decision fails
    (a trigger raises), as when the database goes away in the middle of a run."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE fail_decisions (on_ INTEGER)"))
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_decision() RETURNS trigger AS $$ BEGIN "
                    "IF EXISTS (SELECT 1 FROM fail_decisions) THEN RAISE EXCEPTION 'injected'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_decision BEFORE INSERT ON decisions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_decision()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_decision BEFORE INSERT ON decisions "
                    "WHEN (SELECT count(*) FROM fail_decisions) > 0 "
                    "BEGIN SELECT RAISE(ABORT, 'injected'); END"
                )
            )

    def switch(on: bool) -> None:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fail_decisions"))
            if on:
                conn.execute(text("INSERT INTO fail_decisions VALUES (1)"))

    return switch


def card_of(tg: TelegramSandbox, candidate_id: int) -> Any:
    cards = [m for m in tg.messages(CURATORS, by_bot=True) if f"candidate #{candidate_id}\n" in m.text]
    assert len(cards) == 1, [m.text for m in cards]
    return cards[0]


async def test_a_once_run_sends_cards_and_the_next_applies_the_tap(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")
    first = await h.app.run_once()
    [cid] = first.ingested[Platform.TELEGRAM].candidates
    card = card_of(tg, cid)  # the first run sent the card
    assert [b["text"] for b in card.buttons][:2] == ["✅ Approve", "❌ Reject"]
    assert tg.pending_updates == 0

    tap = tg.user_taps(ANA, card, card.callback_data[0])  # between the two cron runs
    assert tg.pending_updates == 1
    second = await h.app.run_once()
    assert h.decisions(cid) == [("ana", "approve")]
    answer = tg.answer_to(tap)
    assert answer is not None
    assert "Approved" in (answer.text or "")
    assert [o.ok for o in second.outcomes] == [True]  # approved, then copied in the same run
    assert len(tg.messages(CHANNEL, by_bot=True)) == 1
    edited = card_of(tg, cid)
    assert edited.message_id == card.message_id
    assert "✅ Approved by ana" in edited.text
    assert tg.pending_updates == 0  # confirmed, now that it is applied


async def test_a_tap_whose_application_fails_is_not_confirmed_and_is_retried(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, broken_decisions: Callable[[bool], None]
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    card = card_of(tg, cid)
    tg.user_taps(ANA, card, card.callback_data[0])
    tg.user_sends(MARIA, COMMUNITY, f"And a second one #{TAG}")  # after the tap: stored all the same

    broken_decisions(True)
    failed = await h.app.run_once()
    assert h.state(cid) == "pending"
    assert tg.pending_updates == 2  # neither the tap nor what came after it was confirmed
    assert len(failed.ingested[Platform.TELEGRAM].candidates) == 1  # the message was stored

    broken_decisions(False)
    again = await h.app.run_once()
    assert h.decisions(cid) == [("ana", "approve")]
    assert h.state(cid) == "amplified"
    assert again.ingested[Platform.TELEGRAM].candidates == []  # the message read again is known
    assert tg.pending_updates == 0


async def test_a_tap_that_always_fails_is_passed_over_after_five_runs(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, broken_decisions: Callable[[bool], None]
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")
    [cid] = (await h.app.run_once()).ingested[Platform.TELEGRAM].candidates
    card = card_of(tg, cid)
    tg.user_taps(ANA, card, card.callback_data[0])
    broken_decisions(True)
    for run in range(1, 5):
        await h.app.run_once()
        assert tg.pending_updates == 1  # kept for the next run
        update_id = tg.calls_to("getUpdates")[-1].params["offset"]
        assert h.app.store.cursors(Platform.TELEGRAM)["update-retries"] == f"{update_id}:{run}"
    await h.app.run_once()
    assert tg.pending_updates == 0  # the fifth failure: logged and passed over, the line goes on
    broken_decisions(False)
    tg.user_sends(MARIA, COMMUNITY, f"Later news #{TAG}")
    later = await h.app.run_once()
    assert len(later.ingested[Platform.TELEGRAM].candidates) == 1
    assert h.state(cid) == "pending"


async def test_a_long_running_console_confirms_a_tap_only_once_applied(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, broken_decisions: Callable[[bool], None]
) -> None:
    """The same rule in ``run``: a tap the console fails to apply is not confirmed; the watch
    reads it again after a pause on the injected clock, and applies it once the database is back."""
    h: Harness = await harness_factory()
    tg.user_sends(MARIA, COMMUNITY, f"Matched into surgery! #{TAG}")
    pending = await tg.wait_for_async(lambda: h.app.queue.list("pending"))
    cid = pending[0].id
    card = await h.card(cid)
    broken_decisions(True)
    tap = tg.user_taps(ANA, card, card.callback_data[0])

    def retries() -> str | None:
        return h.app.store.cursors(Platform.TELEGRAM).get("update-retries")

    assert (await tg.wait_for_async(retries)).endswith(":1")  # failed once, now waiting to retry
    assert tg.pending_updates == 1
    assert h.decisions(cid) == []
    broken_decisions(False)
    h.clock.advance(2)  # the pause before reading it again
    await tg.wait_for_async(lambda: tg.answer_to(tap))
    assert h.decisions(cid) == [("ana", "approve")]
    await tg.wait_for_async(lambda: tg.pending_updates == 0)


# Each cron run: some members' messages, some curators' taps on the cards there are, the database
# up or down, then ``run --once``.
ROUNDS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.booleans()), min_size=2, max_size=7)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rounds=ROUNDS)
def test_no_update_is_confirmed_before_it_is_applied_or_stored(
    rounds: list[tuple[int, int, bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any interleaving of members' messages, curators' taps, database failures and cron runs:
    whatever Telegram no longer holds was stored (a message) or decided (a tap), unless that tap
    failed in five runs and was passed over."""
    db = f"sqlite:///{tmp_path_factory.mktemp('cron') / 'coalesce.db'}"
    asyncio.run(_cron_world(rounds, db))


async def _cron_world(rounds: list[tuple[int, int, bool]], db: str) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    engine = make_engine(db)
    upgrade(engine)
    switch = _failing_decisions(engine)
    with TelegramSandbox(clock=lambda: clock.now().timestamp()) as sandbox:
        users = [sandbox.add_user(ANA, "Ana", "ana_md"), sandbox.add_user(MARIA, "María", "maria_md")]
        sandbox.add_chat(CURATORS, "supergroup", "Curators", members=users[:1])
        sandbox.add_chat(COMMUNITY, "supergroup", "Latinas in Medicine", members=users[1:])
        sandbox.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
        app = Coalesce(
            world.console_settings(),
            engine=engine,
            adapters={Platform.TELEGRAM: world.make_telegram(sandbox, clock)},
            clock=clock,
            worker="cron",
        )
        await app.start()
        messages: dict[int, str] = {}  # message id -> text
        taps: dict[int, int] = {}  # update id -> candidate id
        broken_runs: dict[int, int] = {}  # update id of a tap -> runs it met a broken database in
        try:
            for n, (posts, tapped, broken) in enumerate(rounds):
                for i in range(posts):
                    sent = sandbox.user_sends(MARIA, COMMUNITY, f"News {n}.{i} #{TAG}")
                    messages[sent.message_id] = sent.text
                cards = [c for c in sandbox.messages(CURATORS, by_bot=True) if c.callback_data]
                for i in range(min(tapped, len(cards))):
                    card = cards[i]
                    cid = int(card.text.split("candidate #")[1].split("\n")[0])
                    taps[sandbox.user_taps(ANA, card, card.callback_data[0]).update_id] = cid
                switch(broken)
                clock.advance(61)  # cron runs a minute apart: cards never wait for the group's window
                waiting = {u["update_id"] for u in sandbox.pending()}
                await app.run_once()
                for update_id in waiting & set(taps):
                    broken_runs[update_id] = broken_runs.get(update_id, 0) + broken
                _check(engine, sandbox, messages, taps, broken_runs)
        finally:
            await app.stop()


def _check(
    engine: Engine,
    sandbox: TelegramSandbox,
    messages: dict[int, str],
    taps: dict[int, int],
    broken_runs: dict[int, int],
) -> None:
    pending = sandbox.pending()
    held_messages = {u["message"]["message_id"] for u in pending if "message" in u}
    held_taps = {u["update_id"] for u in pending if "callback_query" in u}
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT text FROM posts")).scalars())
        decided = {
            (int(cid), str(curator))
            for cid, curator in conn.execute(text("SELECT candidate_id, curator FROM decisions"))
        }
    for message_id, words in messages.items():
        assert message_id in held_messages or words in stored, f"message {message_id} confirmed, not stored"
    for update_id, cid in taps.items():
        if update_id in held_taps or broken_runs.get(update_id, 0) >= APPLY_ATTEMPTS:
            continue
        # Applied: the decision is there (or refused, when another tap decided the card first).
        assert (cid, "ana") in decided, f"tap {update_id} on #{cid} confirmed but never applied"


def _failing_decisions(engine: Engine) -> Callable[[bool], None]:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE fail_decisions (on_ INTEGER)"))
        conn.execute(
            text(
                "CREATE TRIGGER refuse_decision BEFORE INSERT ON decisions "
                "WHEN (SELECT count(*) FROM fail_decisions) > 0 "
                "BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
        )

    def switch(on: bool) -> None:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM fail_decisions"))
            if on:
                conn.execute(text("INSERT INTO fail_decisions VALUES (1)"))

    return switch
