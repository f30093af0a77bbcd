"""The series commands tell the truth: exit codes 0 done / 1 refused / 2 usage or configuration,
``--json`` with numbers as numbers, and help for every option (run in-process through main)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.main import build_parser, main


def write_config(path: Path, db_url: str, *, platforms: bool = True) -> Path:
    data: dict[str, Any] = {
        "community": {"slug": "lim", "name": "Latinas in Medicine", "hashtags": ["LatinasInMedicine"]},
        "database": {"url": db_url},
        "curators": [{"name": "ana"}, {"name": "rosa"}],
        "series": {
            "timezone": "America/Chicago",
            "schedule": [{"name": "digest", "kind": "digest", "cron": "0 9 * * mon"}],
        },
    }
    if platforms:
        data["platforms"] = {
            "mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTO_TOKEN}"}
        }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASTO_TOKEN", "tok-cli-results")
    return write_config(tmp_path / "config.yaml", db_url)


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--config", str(config), "--log-level", "WARNING"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_exit_codes_and_json(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        config,
        "opportunities",
        "add",
        "--title",
        "Job",
        "--url",
        "https://j.example",
        "--as",
        "ana",
        "--json",
    )
    assert code == 0
    added = json.loads(out)
    assert added["outcome"] == "done"
    oid = added["data"]["opportunity"]["id"]
    assert isinstance(oid, int)

    code, _, err = run(
        capsys, config, "opportunities", "add", "--title", "J", "--url", "https://k.example", "--as", "bob"
    )
    assert code == 2
    assert err.startswith("usage error: no curator named 'bob' (known: ana, rosa)")
    assert "config error" not in err

    code, _, err = run(capsys, config, "opportunities", "remove", "999", "--as", "ana")
    assert code == 1
    assert err.startswith("cannot do that: no opportunity #999")

    code, out, _ = run(capsys, config, "opportunities", "remove", str(oid), "--as", "ana", "--json")
    assert code == 0
    code, out, _ = run(capsys, config, "opportunities", "remove", str(oid), "--as", "ana", "--json")
    assert (code, json.loads(out)["outcome"]) == (1, "refused")

    with pytest.raises(SystemExit) as usage:
        main(["opportunities", "import", str(tmp_path / "x.yaml"), "--config", str(config)])
    assert usage.value.code == 2  # --as is required
    assert "--as" in capsys.readouterr().err

    code, out, _ = run(capsys, config, "schedule", "--json", "--count", "1")
    assert code == 0
    (series,) = json.loads(out)["data"]["series"]
    assert (series["name"], series["platforms"]) == ("digest", ["mastodon"])

    code, out, _ = run(capsys, config, "digest", "preview", "--json")
    assert code == 0
    (edition,) = json.loads(out)["data"]
    assert isinstance(edition["entries"], int)


def test_a_past_deadline_is_warned_about(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, config, "opportunities", "add", "--title", "Late", "--url", "https://l.example",
        "--deadline", "2020-01-01", "--as", "ana",
    )  # fmt: skip
    assert code == 0
    assert "warning: #" in out
    assert "deadline 2020-01-01 has passed" in out


def test_without_platforms_the_commands_say_it_is_the_configuration(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "bare.yaml", db_url, platforms=False)
    for argv in (["digest", "preview"], ["schedule"], ["refresh"]):
        code, _, err = run(capsys, config, *argv)
        assert code == 2, argv
        assert err.startswith("configuration error: no platform is configured"), argv


def test_an_answers_file_that_cannot_be_written(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "answers.yaml"
    code, _out, err = run(
        capsys, config, "interviews", "invite", "--name", "Eva", "--as", "ana", "--write", str(target)
    )
    assert code == 2
    assert err.strip().count("\n") == 0
    assert err.startswith(f"usage error: cannot write {target}")
    assert "Traceback" not in err


def _actions(parser: Any) -> list[Any]:
    found = []
    for action in parser._actions:
        if action.choices and isinstance(action.choices, dict):
            for sub in action.choices.values():
                found += _actions(sub)
        else:
            found.append((parser.prog, action))
    return found


def test_every_option_and_argument_has_help() -> None:
    ours = ("opportunities", "digest", "interviews", "schedule", "report", "members", "refresh")
    checked = [
        (prog, action)
        for prog, action in _actions(build_parser())
        if any(f" {name}" in prog for name in ours) and action.dest != "help"
    ]
    assert len(checked) > 80
    assert [f"{prog}: {action.dest}" for prog, action in checked if not action.help] == []
