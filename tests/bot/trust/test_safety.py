"""Curators' safety tools through the command line, with the bot running against the Mastodon
sandbox: the runtime blocklist, the per-member freeze, a member's record."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select, update

from bot.app import Coalesce
from bot.cli.main import main
from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from bot.trust.safety import Freezer, FreezeResult
from sandbox.mastodon import MastodonSandbox
from tests.bot.trust.conftest import TAG, states
from tests.conftest import BASE_CONFIG


@pytest.fixture
def cli(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Any:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**BASE_CONFIG, "database": {"url": db_url}}))

    def run(*argv: str) -> tuple[int, str]:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            code = main([*argv, "--config", str(config)])
        except SystemExit as exc:  # argparse refusing the command line
            code = int(exc.code or 0)
        finally:  # the command set up logging for a process; this test's process goes on
            root.handlers[:], root.level = handlers, level
        out, err = capsys.readouterr()
        return code, out + err

    return run


def first_json(text: str) -> Any:
    """The JSON a command printed (its log lines on stderr come after it)."""
    return json.JSONDecoder().raw_decode(text)[0]


async def test_a_runtime_block_keeps_authors_servers_and_words_out(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine, cli: Any
) -> None:
    troll = sandbox.add_account("troll", "pile.example")
    spammer = sandbox.add_account("spam\u200b4u")  # the invisible space must not help
    maria = sandbox.add_account("maria")
    sandbox.post(troll, f"Look at her #{TAG}")
    sandbox.post(maria, f"Residency match! #{TAG}")
    await app.run_once()
    assert len(states(engine)) == 2

    code, out = cli("block", "add", "domain", "https://Pile.example/", "--as", "ana", "--reason", "pile-on")
    assert code == 0
    assert "1 waiting candidate left the queue" in out
    assert cli("block", "add", "account", "@spam4u@med.example", "--as", "rosa")[0] == 0
    assert cli("block", "add", "keyword", "Crypto", "--as", "rosa")[0] == 0
    code, out = cli("block", "add", "planet", "mars", "--as", "rosa")
    assert code == 2
    assert "invalid choice" in out
    code, out = cli("block", "add", "did", "not-a-did", "--as", "rosa")
    assert code == 2  # a usage error: what was typed is not a DID
    assert "is not a DID" in out

    sandbox.post(troll, f"Again #{TAG}")
    sandbox.post(spammer, f"Followers cheap #{TAG}")
    sandbox.post(maria, f"Buy CRYPTO now #{TAG}")
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].skipped.get("blocked") == 3
    assert sorted(states(engine).values()) == ["pending", "withdrawn"]

    code, out = cli("block", "list", "--json")
    listed = {(e["kind"], e["value"]) for e in first_json(out)["data"]}
    assert {("domain", "pile.example"), ("account", "spam4u@med.example"), ("keyword", "crypto")} <= listed
    code, out = cli("block", "remove", "domain", "pile.example", "--as", "ana")
    assert code == 0
    sandbox.post(troll, f"Now welcome #{TAG}")
    report = await app.run_once()
    assert len(report.ingested[Platform.MASTODON].candidates) == 1


async def test_blocking_after_approval_stops_the_boost(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine, cli: Any
) -> None:
    troll = sandbox.add_account("troll", "pile.example")
    status = sandbox.post(troll, f"Look #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    with engine.begin() as conn:  # a worker holds it right now: the block cannot withdraw it…
        conn.execute(
            update(m.Candidate).values(lease_owner="other", lease_until=datetime(2100, 1, 1, tzinfo=UTC))
        )
    cli("block", "add", "account", "troll@pile.example", "--as", "ana")
    assert states(engine) == {cid: "approved"}
    with engine.begin() as conn:  # that worker died; its lease ran out
        conn.execute(update(m.Candidate).values(lease_until=clock.now() - timedelta(seconds=1)))
    await app.run_once()  # …but the amplifier's last look does
    assert sandbox.reblogs_of(status) == []
    assert states(engine) == {cid: "withdrawn"}


async def test_freezing_a_member_holds_their_boosts_and_takes_back_the_last_day(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine, cli: Any
) -> None:
    maria = sandbox.add_account("maria")
    old, recent, waiting = (sandbox.post(maria, f"Post {i} #{TAG}") for i in range(3))
    await app.run_once()
    first, second, third = sorted(states(engine))
    app.queue.approve(first, "ana", clock.now())
    await app.run_once()
    clock.advance(hours=30)
    app.queue.approve(second, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(old)) == 1
    assert len(sandbox.reblogs_of(recent)) == 1
    app.queue.approve(third, "ana", clock.now())

    # (the command line reads the wall clock; this test's clock is its own: the same call it makes)
    frozen = Freezer(app.store, app.settings).freeze("maria@med.example", "rosa", clock.now())
    assert frozen == FreezeResult(["mastodon maria@med.example"], undoing=1)
    await app.run_once()
    assert len(sandbox.reblogs_of(old)) == 1  # older than a day: left alone
    assert sandbox.reblogs_of(recent) == []
    assert sandbox.reblogs_of(waiting) == []
    assert states(engine)[third] == "approved"  # held, not withdrawn
    code, out = cli("member", "show", "maria", "--json")
    assert first_json(out)["data"]["frozen"] is True

    code, out = cli("member", "unfreeze", "mastodon:maria@med.example", "--as", "rosa")
    assert code == 0
    assert "Unfrozen: mastodon maria@med.example" in out
    clock.advance(minutes=20)
    await app.run_once()
    assert len(sandbox.reblogs_of(waiting)) == 1


def test_member_commands_say_who_they_cannot_find(cli: Any) -> None:
    code, out = cli("member", "freeze", "nobody@nowhere.example", "--as", "ana")
    assert code == 1
    assert "no member 'nobody@nowhere.example' has been seen" in out
    code, out = cli("member", "freeze", "x@y.example", "--as", "mallory")
    assert code == 2
    assert "no curator named 'mallory'" in out


async def test_a_curator_records_an_opt_out_sent_by_email(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine, cli: Any
) -> None:
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Post #{TAG}")
    await app.run_once()
    code, out = cli("member", "optout", "maria@med.example", "--as", "ana")
    assert code == 0
    assert "1 waiting withdrawn" in out
    with engine.connect() as conn:
        assert conn.execute(select(m.Account.consent_source)).scalar_one() == "curator:ana"


async def test_queue_show_flags_what_a_curator_should_read_twice(
    app: Coalesce, sandbox: MastodonSandbox, engine: Engine, cli: Any
) -> None:
    fresh = sandbox.add_account(
        "fresh", created_at=datetime.now(UTC) - timedelta(days=2)
    )  # the CLI reads the wall clock
    sandbox.post(fresh, f"My patient, a 34 yo F, MRN 00482913, finally went home #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    code, out = cli("queue", "show", str(cid))
    assert code == 0
    assert "⚑ may carry patient information" in out
    assert "⚑ author's account opened" in out
    assert "00482913" in out  # the text itself is shown as it is; the flag never repeats it


async def test_health_fails_the_shell_when_a_watch_is_stale(
    app: Coalesce, sandbox: MastodonSandbox, cli: Any
) -> None:
    await app.run_once()  # on the test's clock, months before the wall clock the command reads
    code, out = cli("health")
    assert code == 1
    assert "mastodon  STALE" in out
    assert "no successful watch for" in out
    code, out = cli("health", "--json", "--stale-minutes", "10000000")
    assert code == 0
    assert first_json(out)["data"]["report"]["platforms"][0]["platform"] == "mastodon"


async def test_what_a_member_freeze_took_back_a_curator_amplifies_again(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    from bot.ops import queue as queue_ops
    from bot.ops import safety as safety_ops
    from bot.ops.result import Outcome

    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Our clinic opens #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    assert queue_ops.approve(app.queue, cid, "ana", clock.now()).ok
    await app.run_once()
    assert len(sandbox.reblogs_of(status)) == 1

    assert safety_ops.freeze_member(app.store, app.settings, "maria@med.example", "rosa", clock.now()).ok
    await app.run_once()
    assert sandbox.reblogs_of(status) == []
    assert states(engine) == {cid: "withdrawn"}

    # approved again while she is still frozen: it waits for the unfreeze, nothing goes out
    again = queue_ops.approve(app.queue, cid, "ana", clock.now())
    assert again.outcome is Outcome.DONE, again.message
    assert states(engine) == {cid: "approved"}
    await app.run_once()
    assert sandbox.reblogs_of(status) == []
    assert queue_ops.approve(app.queue, cid, "rosa", clock.now()).outcome is Outcome.REFUSED  # once is enough

    assert safety_ops.unfreeze_member(app.store, app.settings, "maria", "rosa", clock.now()).ok
    clock.advance(minutes=20)
    await app.run_once()
    assert len(sandbox.reblogs_of(status)) == 1
    assert states(engine) == {cid: "amplified"}
    decisions = app.queue.show(cid).decisions
    assert [(d.curator, d.action) for d in decisions][-2:] == [("system", "undo"), ("ana", "approve")]


async def test_a_take_back_is_retried_like_a_failure_but_a_deleted_post_stays_gone(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    from bot.ops import queue as queue_ops
    from bot.ops import safety as safety_ops
    from bot.ops.result import Outcome

    maria, lupe = sandbox.add_account("maria"), sandbox.add_account("lupe")
    kept = sandbox.post(maria, f"Kept #{TAG}")
    sandbox.post(lupe, f"Deleted later #{TAG}")
    await app.run_once()
    mine, hers = sorted(states(engine))
    for cid in (mine, hers):
        assert queue_ops.approve(app.queue, cid, "ana", clock.now()).ok
    await app.run_once()
    assert safety_ops.freeze_member(app.store, app.settings, "maria@med.example", "rosa", clock.now()).ok
    await app.run_once()
    assert sandbox.reblogs_of(kept) == []
    assert safety_ops.unfreeze_member(app.store, app.settings, "maria", "rosa", clock.now()).ok
    retried = queue_ops.retry(app.queue, mine, "rosa", clock.now())
    assert retried.outcome is Outcome.DONE, retried.message
    await app.run_once()
    assert len(sandbox.reblogs_of(kept)) == 1

    # withdrawn because its author deleted it: not something a curator can send out again
    with engine.begin() as conn:
        conn.execute(update(m.Candidate).where(m.Candidate.id == hers).values(state="withdrawn"))
        conn.execute(
            m.table(m.Decision)
            .insert()
            .values(
                community_id=app.store.community_id,
                candidate_id=hers,
                curator="system",
                action="undo",
                reason="the author deleted the post: boost taken back",
                at=clock.now(),
            )
        )
    assert queue_ops.approve(app.queue, hers, "ana", clock.now()).outcome is Outcome.REFUSED
    assert queue_ops.retry(app.queue, hers, "ana", clock.now()).outcome is Outcome.REFUSED
    assert states(engine)[hers] == "withdrawn"
