"""``python -m bot conferences|champions|chats`` present the operations' results (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
                "database": {"url": db_url},
                "curators": [{"name": "ana"}, {"name": "rosa"}],
            }
        )
    )
    return path


def _bot(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str]:
    """The exit code and what the command printed: stdout when it was done, else stderr (where a
    refusal or a usage error goes, after any log lines); a failing command prints nothing on stdout."""
    code = main([*args, "--config", str(config)])
    out, err = capsys.readouterr()
    if code == 0:
        return code, out
    assert out == ""
    return code, err


def test_conferences_from_the_command_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add = (
        "conferences",
        "add",
        "--name",
        "ACS Clinical Congress",
        "--tag",
        "ACSCC27",
        "--from",
        "2027-10-16",
    )
    code, out = _bot(
        capsys, config, *add, "--to", "2027-10-20", "--timezone", "America/Chicago", "--as", "ana"
    )
    assert code == 0
    assert "Conference ACS Clinical Congress (#acscc27) added: 2027-10-16 to 2027-10-20" in out
    code, out = _bot(
        capsys, config, *add, "--to", "2027-10-01", "--timezone", "America/Chicago", "--as", "ana"
    )
    assert code == 2
    assert "\nusage error: " in "\n" + out
    assert "before it starts" in out
    code, out = _bot(
        capsys, config, "conferences", "edit", "ACSCC27", "--match", "known_members", "--as", "rosa"
    )
    assert code == 0
    code, out = _bot(capsys, config, "conferences", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(c["tag"], c["match"], c["to"]) for c in listed["data"]] == [
        ("acscc27", "known_members", "2027-10-20")
    ]
    champ = ("champions", "add", "--conference", "ACSCC27", "--platform", "mastodon")
    code, out = _bot(capsys, config, *champ, "--handle", "maria@med.example", "--as", "ana")
    assert code == 1
    assert "\ncannot do that: " in "\n" + out
    assert "no member maria@med.example seen on mastodon" in out
    code, out = _bot(capsys, config, "conferences", "remove", "ACSCC27", "--as", "ana")
    assert code == 0
    code, out = _bot(capsys, config, "conferences", "list")
    assert "No conferences yet" in out


def test_chats_from_the_command_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _bot(
        capsys, config, "chats", "add", "--topic", "Mentorship in residency", "--host", "Dra. Ruiz",
        "--tag", "#LIMchat", "--start", "2030-03-07 19:00", "--timezone", "America/New_York",
        "--languages", "en,es", "--question", "0: What did a mentor do for you?",
        "--question", "0:es: ¿Qué hizo por ti una mentora?", "--question", "10: How do you find one?",
        "--as", "ana",
    )  # fmt: skip
    assert code == 0, out
    assert (
        'Chat #1 "Mentorship in residency" (#limchat) with Dra. Ruiz: '
        "2030-03-07 19:00 America/New_York, 2 questions." in out
    )
    code, out = _bot(capsys, config, "chats", "list")
    assert "Q1 at :00  What did a mentor do for you?" in out
    assert "Q2 at :10  How do you find one?" in out
    code, out = _bot(
        capsys, config, "chats", "add", "--topic", "x", "--host", "y", "--tag", "z",
        "--start", "2030-03-10 02:30",
        "--timezone", "America/New_York", "--question", "0: q", "--as", "ana",
    )  # fmt: skip
    assert code == 2
    assert "\nusage error: " in "\n" + out
    assert "does not exist or happens twice" in out
    md, page = tmp_path / "recap.md", tmp_path / "recap.html"
    code, out = _bot(capsys, config, "chats", "recap", "1", "--markdown", str(md), "--html", str(page))
    assert (code, out.strip()) == (0, "Chat #1: 0 answers collected.")
    assert md.read_text().startswith("# Mentorship in residency\n")
    assert "<h2>Q2: How do you find one?</h2>" in page.read_text()
    code, out = _bot(capsys, config, "chats", "remove", "1", "--as", "rosa")
    assert code == 0
    code, out = _bot(capsys, config, "chats", "remove", "1", "--as", "rosa")
    assert code == 1
