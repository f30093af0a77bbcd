"""The commands that call bot/ops, through the CLI's entry point on SQLite and PostgreSQL: exit codes
0 done / 1 refused / 2 usage, ``--json`` with numbers as numbers, messages that match what happened,
and help for every option and argument."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from adapters.registry import settings_class
from bot.cli.main import build_parser, main
from bot.config import load
from bot.domain import Author, Platform
from bot.store import models as m
from bot.store.store import Item, Store, engine_for
from tests.factories import author, post

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LiM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "curators": [{"name": "ana"}, {"name": "rosa"}],
            }
        )
    )
    return path


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> tuple[int, str, str]:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            code = main([*argv, "--config", str(config), "--log-level", "ERROR"])
        except SystemExit as exc:  # argparse refusing the command line
            code = int(exc.code or 0)
        finally:  # the command set up logging for a process; this test's process goes on
            root.handlers[:], root.level = handlers, level
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def queued(config: Path, cli: Cli) -> list[int]:
    """Three candidates from maria, waiting; the store opened as the commands open it."""
    assert cli("db", "upgrade")[0] == 0
    settings = load(config, schemas=settings_class)
    engine = engine_for(settings)
    store = Store.open(engine, "lim", "LiM", datetime.now(UTC))
    items = [Item(post(by=author(), now=datetime.now(UTC))) for _ in range(3)]
    ids = list(store.ingest(Platform.MASTODON, items, datetime.now(UTC)).candidates)
    engine.dispose()
    return ids


def _state(config: Path, cid: int, state: str) -> None:
    engine = engine_for(load(config, schemas=settings_class))
    with engine.begin() as conn:
        conn.execute(update(m.Candidate).where(m.Candidate.id == cid).values(state=state, last_error="x"))
    engine.dispose()


def first_json(text: str) -> Any:
    return json.JSONDecoder().raw_decode(text)[0]


def test_decisions_exit_with_what_happened(cli: Cli, queued: list[int]) -> None:
    a, b, c = queued
    code, out, _ = cli("queue", "approve", str(a), "--as", "ana")
    assert (code, out.strip()) == (0, f"#{a} approved: the central account will amplify it at its next turn.")
    code, _, err = cli("queue", "approve", str(a), "--as", "rosa")
    assert code == 1
    assert err.strip() == f"cannot do that: #{a} is already approved (approve by ana)"
    code, _, err = cli("queue", "reject", str(b), "--as", "bob")
    assert code == 2
    assert err.strip() == "usage error: no curator named 'bob' (known: ana, rosa)"
    code, _, err = cli("queue", "reject", "999", "--as", "ana")
    assert code == 1
    assert "no candidate #999" in err
    code, _, err = cli("queue", "snooze", str(b), "--until", "someday", "--as", "ana")
    assert code == 2
    assert "usage error: cannot read 'someday' as a time" in err
    code, out, _ = cli("queue", "snooze", str(b), "--until", "2h", "--as", "ana", "--json")
    shown = first_json(out)
    assert (code, shown["outcome"], shown["data"]["state"]) == (0, "done", "snoozed")
    assert shown["data"]["id"] == b
    assert isinstance(shown["data"]["approvals"], int)
    code, _, err = cli("queue", "retry", str(b), "--as", "ana")
    assert code == 1
    assert err.strip() == f"cannot do that: #{b} is snoozed: only failed candidates can be retried."
    code, out, _ = cli("queue", "reject", str(b), str(c), str(a), "--as", "rosa", "--reason", "spam")
    assert code == 0
    assert f"Rejected 2 candidates: #{b}, #{c}" in out
    assert f"#{a} not rejected" in out


def test_retry_sends_a_failed_candidate_back(cli: Cli, queued: list[int], config: Path) -> None:
    a = queued[0]
    cli("queue", "approve", str(a), "--as", "ana")
    _state(config, a, "failed")
    code, out, _ = cli("queue", "retry", str(a), "--as", "rosa", "--json")
    assert code == 0
    assert first_json(out)["message"] == f"#{a} goes back to the amplifier."


def test_listing_with_limit_zero_shows_the_counts_not_an_empty_queue(cli: Cli, queued: list[int]) -> None:
    code, out, _ = cli("queue", "list", "--limit", "0")
    assert code == 0
    assert "empty" not in out
    assert "open: 3 pending" in out
    code, out, _ = cli("queue", "list", "--json", "--limit", "2")
    listing = first_json(out)["data"]
    assert [c["id"] for c in listing["items"]] == queued[:2]
    assert listing["counts"] == {"pending": 3}


def test_freeze_shows_in_approve_queue_and_health(cli: Cli, queued: list[int]) -> None:
    code, out, _ = cli("freeze", "--as", "rosa", "--json")
    assert (code, first_json(out)["data"]) == (0, {"frozen": True, "changed": True})
    code, out, _ = cli("queue", "approve", str(queued[0]), "--as", "ana")
    assert code == 0
    assert "amplification is frozen, so it waits for the unfreeze" in out
    assert "Amplification is FROZEN" in cli("queue", "list")[1]
    code, out, _ = cli("health")
    assert code == 0  # no platform configured: nothing stale; the freeze is shown, not failed on
    assert out.startswith("Amplification is FROZEN by rosa since ")
    code, out, _ = cli("health", "--json")
    assert first_json(out)["data"]["freeze"]["frozen"] is True
    assert cli("unfreeze", "--as", "ana")[1].strip() == "Amplification is back on."
    assert "FROZEN" not in cli("health")[1]


def test_block_add_twice_says_already_and_remove_of_nothing_is_refused(
    cli: Cli, queued: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    code, out, _ = cli("block", "add", "account", "@maria@med.example", "--as", "ana", "--reason", "spam")
    assert code == 0
    assert out.startswith("Blocked: account maria@med.example.")
    assert "3 waiting candidates left the queue." in out
    with caplog.at_level(logging.INFO, logger="bot.trust.safety"):
        code, out, _ = cli("block", "add", "account", "maria@med.example", "--as", "rosa", "--json")
    result = first_json(out)
    assert (code, result["message"]) == (0, "Already blocked: account maria@med.example.")
    assert result["data"] == {
        "kind": "account",
        "value": "maria@med.example",
        "changed": False,
        "withdrawn": 0,
    }
    assert "block added" not in caplog.text
    assert cli("block", "add", "did", "not-a-did", "--as", "ana")[0] == 2
    assert cli("block", "remove", "account", "maria@med.example", "--as", "ana")[0] == 0
    code, _, err = cli("block", "remove", "account", "maria@med.example", "--as", "ana")
    assert code == 1
    assert "was not on the runtime blocklist" in err


def test_member_commands_refuse_the_unknown_and_name_usage_errors(cli: Cli, queued: list[int]) -> None:
    code, out, _ = cli("member", "freeze", "maria", "--as", "ana", "--json")
    assert code == 0
    assert first_json(out)["data"]["accounts"] == ["mastodon maria@med.example"]
    code, out, _ = cli("member", "unfreeze", "maria", "--as", "ana")
    assert (code, out.splitlines()[0]) == (
        0,
        "Unfrozen: mastodon maria@med.example. Approved posts of theirs go ahead.",
    )
    code, _, err = cli("member", "freeze", "nobody@nowhere.example", "--as", "ana")
    assert code == 1
    assert "no member 'nobody@nowhere.example' has been seen" in err
    code, _, err = cli("member", "optout", "maria", "--as", "bob")
    assert code == 2
    assert "no curator named 'bob'" in err


def test_check_config_prints_json_and_a_broken_config_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("check-config", "--json")
    result = first_json(out)
    assert (code, result["outcome"], result["data"]["community"]) == (0, "done", "lim")
    broken = tmp_path / "broken.yaml"
    broken.write_text("community: {slug: lim, name: LIM, hashtags: [X]}\nplatforms: {mastodon: {}}\n")
    assert main(["check-config", "--config", str(broken)]) == 2


def test_every_option_and_argument_of_these_commands_has_help() -> None:
    parser = build_parser()
    ours = {"queue", "block", "member", "freeze", "unfreeze", "health", "check-config"}
    missing = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}".strip())
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path}: {action.dest}")

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if name in ours:
                    walk(child, name)
    assert missing == []


def test_a_file_a_command_cannot_read_is_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing, a folder, or not UTF-8 text: whichever command reads it says so in one line."""
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0 not text")
    for path, why in [
        (tmp_path / "missing.yaml", "no such file"),
        (tmp_path, "a folder, not a file"),
        (binary, "not a text file in UTF-8"),
    ]:
        for argv in (
            ("opportunities", "import", str(path), "--as", "ana"),
            ("interviews", "import", str(path), "--as", "ana"),
            ("interviews", "edit", "1", "--file", str(path), "--as", "ana"),
        ):
            code, out, err = cli(*argv)
            assert code == 2, (argv, out, err)
            assert "Traceback" not in err
            assert [line for line in err.splitlines() if line] == [
                f"usage error: {'--file: ' if argv[1] == 'edit' else ''}{path}: {why}"
            ]
    bad = tmp_path / "broken-config.yaml"
    bad.write_bytes(b"\xff\xfe community")
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a text file in UTF-8" in err
    assert "Traceback" not in err


def test_queue_list_and_show_name_a_telegram_member_without_a_username(cli: Cli, config: Path) -> None:
    assert cli("db", "upgrade")[0] == 0
    engine = engine_for(load(config, schemas=settings_class))
    store = Store.open(engine, "lim", "LiM", datetime.now(UTC))
    lupe = Author(account_id="5001", handle="tg:5001", display_name="Lupe Ortiz")
    item = Item(post(by=lupe, platform=Platform.TELEGRAM, now=datetime.now(UTC)))
    (cid,) = store.ingest(Platform.TELEGRAM, [item], datetime.now(UTC)).candidates
    engine.dispose()
    code, out, _ = cli("queue", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if line.strip().startswith(str(cid)))
    assert "Lupe Ortiz" in row
    assert "tg:5001" not in out
    code, out, _ = cli("queue", "show", str(cid))
    assert code == 0
    assert "Lupe Ortiz posted" in out
    assert "tg:5001" not in out
