"""The series from the command line, as curators use it: real processes, a real database, the
Mastodon sandbox for what is published and withdrawn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from adapters.mastodon.normalize import html_to_text
from adapters.registry import REGISTRY, settings_class
from bot.clock import FakeClock
from bot.config import load
from bot.domain import Platform
from bot.schema import Environment
from bot.series.runner import SeriesRunner
from bot.store.store import Store, make_engine
from sandbox.mastodon import MastodonSandbox

TOKEN = "tok-series-cli-secret"
AT = "2027-03-01T15:00:00+00:00"  # a Monday, 09:00 in Chicago


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[tuple[Path, MastodonSandbox]]:
    with MastodonSandbox(domain="med.example", token=TOKEN) as sandbox:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "community": {
                        "slug": "lim",
                        "name": "Latinas in Medicine",
                        "hashtags": ["LatinasInMedicine"],
                        "languages": ["en", "es"],
                    },
                    "database": {"url": db_url},
                    "curators": [{"name": "ana"}, {"name": "rosa"}],
                    "platforms": {
                        "mastodon": {"api_base_url": sandbox.base_url, "access_token": "${MASTO_TOKEN}"}
                    },
                    "series": {
                        "timezone": "America/Chicago",
                        "grace_hours": 0.05,
                        "schedule": [
                            {"name": "digest", "kind": "digest", "cron": "0 9 * * mon"},
                            # every minute, so a real run --once has a slot to publish in
                            {"name": "interview", "kind": "interview", "cron": "* * * * *"},
                        ],
                    },
                }
            )
        )
        yield config, sandbox


def bot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "MASTO_TOKEN": TOKEN},
        timeout=120,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return done.stdout


def test_opportunities_from_the_command_line_and_the_digest_preview(
    world: tuple[Path, MastodonSandbox], tmp_path: Path
) -> None:
    config, _ = world
    added = ok(
        bot(
            config,
            *(
                "opportunities",
                "add",
                "--title",
                "AAMC diversity scholarship",
                "--url",
                "https://www.aamc.org/s/1",
            ),
            *(
                "--kind",
                "scholarship",
                "--org",
                "AAMC",
                "--deadline",
                "2027-03-05",
                "--eligibility",
                "students",
            ),
            *("--as", "ana"),
        )
    )
    assert added.strip() == "#1 added: AAMC diversity scholarship"
    again = ok(
        bot(
            config, "opportunities", "add", "--title", "Same", "--url", "http://aamc.org/s/1/", "--as", "rosa"
        )
    )
    assert "#1 already had that link" in again
    (tmp_path / "more.yaml").write_text(
        "- {title: Rolling research job, url: 'https://jobs.example/1', kind: job}\n"
        "- {title: Old award, url: 'https://award.example/1', kind: award, deadline: 2020-01-01}\n",
        encoding="utf-8",
    )
    run = bot(config, "opportunities", "import", str(tmp_path / "more.yaml"), "--as", "rosa")
    imported = ok(run)
    # not a terminal: the progress is log lines on stderr, and what the command prints stays clean
    assert "importing opportunities: started (2 entries)" in run.stderr
    assert "importing opportunities: done, 2 entries in " in run.stderr
    assert "importing" not in imported
    assert "2 added, 0 merged" in imported
    assert "imported by rosa" in imported
    assert "deadline 2020-01-01 has passed" in imported
    bad = bot(config, "opportunities", "add", "--title", "X", "--url", "ftp://x", "--as", "ana")
    assert bad.returncode == 1
    assert "not a web link" in bad.stderr
    listed = ok(bot(config, "opportunities", "list"))
    assert "AAMC diversity scholarship — AAMC" in listed
    assert "Rolling research job" in listed
    assert "Old award" not in listed  # its deadline passed
    assert "Old award" in ok(bot(config, "opportunities", "list", "--all"))

    preview = ok(bot(config, "digest", "preview", "--platform", "mastodon", "--at", AT))
    # exactly what the runner would publish, part by part
    settings = load(config, Environment({"MASTO_TOKEN": TOKEN}), schemas=settings_class)
    engine: Engine = make_engine(settings.database.url)
    now = datetime.fromisoformat(AT)
    store = Store.open(engine, "lim", "Latinas in Medicine", now)
    runner = SeriesRunner(store, {}, settings, FakeClock(now), worker="test", catalog=REGISTRY)
    expected = runner.digest("en", Platform.MASTODON, date(2027, 3, 1)).parts
    engine.dispose()
    (part,) = expected
    assert f"=== digest · en · mastodon · Mon 2027-03-01 09:00 CST · 1 part ===\n{part}\n" in preview
    assert "• AAMC diversity scholarship — AAMC · closes Mar 5 ⏳ closing soon · for students" in part
    assert "=== digest · es · mastodon" in preview
    assert "🎓 Becas" in preview
    only_es = ok(bot(config, "digest", "preview", "--language", "es", "--at", AT))
    assert "· en ·" not in only_es


def test_an_interview_from_invitation_to_withdrawal(
    world: tuple[Path, MastodonSandbox], tmp_path: Path
) -> None:
    config, sandbox = world
    answers = tmp_path / "answers.yaml"
    invited = ok(
        bot(
            config,
            *("interviews", "invite", "--name", "Dra. María Pérez", "--handle", "@maria@med.example"),
            *("--language", "es", "--as", "ana", "--write", str(answers)),
        )
    )
    assert "¿Cuál es tu rol y tu especialidad?" in invited
    template: dict[str, Any] = yaml.safe_load(answers.read_text(encoding="utf-8"))
    assert template == {"interview": 1, "answers": {"role": "", "goals": "", "outside": "", "advice": ""}}
    template["answers"] = {
        "role": "Residente de medicina interna",
        "goals": "Una fellowship en cardiología",
        "outside": "Bailar salsa con mi familia todos los domingos y cocinar para mis amigas del hospital",
        "advice": "Busca a tu gente desde el principio, y pide ayuda sin miedo",
    }
    answers.write_text(yaml.safe_dump(template, allow_unicode=True), encoding="utf-8")
    run = bot(config, "interviews", "import", str(answers), "--as", "ana")
    imported = ok(run)
    assert "importing answers: done, 1 interviews in " in run.stderr
    assert "Too long" in imported
    assert "The longest is the answer to “¿Algo que te encante fuera de la medicina?” (outside)" in imported
    refused = bot(config, "interviews", "approve", "1", "--as", "rosa")
    assert refused.returncode == 1
    assert "too long; edit it first" in refused.stderr
    text = "\n".join(
        [
            "🎙️ Mini-entrevista: Dra. María Pérez",
            "🩺 Residente",
            "🎯 Cardiología",
            "💡 Pide ayuda",
            "#LatinasInMedicine",
        ]
    )
    assert "Fits every platform" in ok(bot(config, "interviews", "edit", "1", "--text", text, "--as", "rosa"))
    asked = ok(bot(config, "interviews", "approve", "1", "--as", "rosa"))
    assert f"Esta es tu mini-entrevista, tal como se publicará:\n\n{text}\n" in asked
    assert "in the queue" in ok(bot(config, "interviews", "confirm", "1", "--as", "rosa", "--via", "email"))
    queue = ok(bot(config, "interviews", "list"))
    assert "#1 in the queue    es  Dra. María Pérez (@maria@med.example)" in queue
    assert "Next interview slots: " in queue
    assert "→ #1 Dra. María Pérez" in queue

    ran = ok(bot(config, "run", "--once"))
    assert "interview " in ran
    assert ": done http" in ran
    (status,) = sandbox.statuses_by(sandbox.central["id"])
    assert html_to_text(status["content"]) == text
    assert "published" in ok(bot(config, "interviews", "list", "--all"))

    gone = ok(bot(config, "interviews", "withdraw", "1", "--as", "ana"))
    assert "#1 withdrawn." in gone
    assert "mastodon: withdrawn 1 post(s) deleted" in gone
    assert sandbox.statuses_by(sandbox.central["id"]) == []


def test_schedule_lists_the_next_slots_in_local_time(world: tuple[Path, MastodonSandbox]) -> None:
    config, _ = world
    out = ok(bot(config, "schedule", "--count", "2"))
    assert "digest (digest) — 0 9 * * mon in America/Chicago; on mastodon; languages: en, es" in out
    lines = [line for line in out.splitlines() if line.startswith("  Mon ")]
    assert len(lines) == 2
    assert all(" 09:00 C" in line for line in lines)  # CST or CDT, always nine in the morning
    now = datetime.now(UTC)
    assert "interview (interview) — * * * * *" in out
    assert str(now.year) in out
