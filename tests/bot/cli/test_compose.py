"""``python -m bot compose`` tells the truth: exit codes 0 done / 1 refused / 2 usage, ``--json``
with numbers as numbers, help on every option (run in-process through main, SQLite and
PostgreSQL)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import build_parser, main
from tests.bot.series.test_cli_results import _actions, write_config


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASTO_TOKEN", "tok-cli-compose")
    return write_config(tmp_path / "config.yaml", db_url)


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--config", str(config), "--log-level", "WARNING"])
    out = capsys.readouterr()
    return code, out.out, out.err


def as_json(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, config, *argv, "--json")
    return code, json.loads(out)


def test_write_approve_schedule_cancel_from_the_shell(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = as_json(
        capsys, config, "compose", "new", "Hello #LatinasInMedicine", "--as", "ana", "--approve"
    )
    assert code == 0
    post = out["data"]["post"]
    assert (post["state"], post["approvals"], post["due_at"]) == ("approved", 1, None)
    (mastodon,) = out["data"]["preview"]["platforms"]
    assert (mastodon["platform"], mastodon["max_length"], mastodon["parts"][0]["length"]) == (
        "mastodon",
        500,
        len("Hello #LatinasInMedicine"),
    )

    code, text, _ = run(capsys, config, "compose", "schedule", str(post["id"]), "--at", "2h", "--as", "rosa")
    assert code == 0
    assert "is approved and goes out at" in text
    code, _, err = run(
        capsys, config, "compose", "schedule", str(post["id"]), "--at", "2001-01-01", "--as", "rosa"
    )
    assert code == 2
    assert err.startswith("usage error:")
    assert "in the past" in err
    code, _, err = run(
        capsys, config, "compose", "schedule", str(post["id"]), "--at", "soonish", "--as", "rosa"
    )
    assert code == 2
    assert "Traceback" not in err

    thread = tmp_path / "thread.txt"
    thread.write_text("One\n---\nTwo", encoding="utf-8")
    code, text, _ = run(capsys, config, "compose", "new", "--file", str(thread), "--as", "rosa", "--parts")
    assert code == 0
    assert "a thread of 2 posts" in text
    assert "│ One 1/2" in text
    monkeypatch.setattr("sys.stdin", io.StringIO("From standard input"))
    code, out = as_json(capsys, config, "compose", "preview", "--file", "-")
    assert code == 0
    assert out["data"]["fits"] is True

    code, out = as_json(
        capsys, config, "compose", "cancel", str(post["id"]), "--as", "ana", "--reason", "later"
    )
    assert (code, out["data"]["state"]) == (0, "cancelled")
    code, _, err = run(capsys, config, "compose", "cancel", str(post["id"]), "--as", "ana")
    assert code == 1
    assert err.startswith("cannot do that:")
    assert "already cancelled" in err
    code, _, err = run(capsys, config, "compose", "approve", "99", "--as", "nobody")
    assert code == 2
    assert "nobody" in err

    code, out = as_json(capsys, config, "compose", "list", "--state", "cancelled")
    assert code == 0
    assert [o["id"] for o in out["data"]["items"]] == [post["id"]]
    code, text, _ = run(capsys, config, "compose", "show", str(post["id"]))
    assert code == 0
    assert "is cancelled" in text


def test_bad_text_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, config, "compose", "new", "   ", "--as", "ana")
    assert code == 2
    assert "empty" in err
    code, _, err = run(capsys, config, "compose", "new", "--as", "ana")
    assert code == 2
    assert "give the text" in err
    code, _, err = run(capsys, config, "compose", "new", "x", "--platform", "myspace", "--as", "ana")
    assert code == 2
    assert "myspace" in err


def test_every_compose_option_has_help() -> None:
    checked = [
        (prog, action)
        for prog, action in _actions(build_parser())
        if " compose" in prog and action.dest != "help"
    ]
    assert len(checked) > 30
    assert [f"{prog}: {action.dest}" for prog, action in checked if not action.help] == []
