"""Every line the bot writes in real runs — debug level, both log formats, faults, a refused token,
an unreachable database — is scanned for the access token, the database password and anything
shaped like a credential or a session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.conftest import BASE_CONFIG

TOKEN = "tok-Zq8v3XkP9mW2rT7yL4nB6cD1"
WRONG = "tok-Wrong0nePlease5h0uldNeverPr1nt"
DB_PASSWORD = "Pg-pass-4f7Qz9KmX2"
CREDENTIALISH = re.compile(
    r"(?i)(bearer\s+[A-Za-z0-9]|authorization:|access_token=[^*]|password=[^*]|accessJwt|refreshJwt|eyJ[A-Za-z0-9_-]{10,})"
)


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN, clock=lambda: datetime.now(UTC)) as sb:
        yield sb


def _db_url_with_password(db_url: str) -> str:
    """The test database's URL with a password in it (the server trusts loopback, so any will do)."""
    if db_url.startswith("sqlite"):
        return db_url
    return db_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)


def _config(tmp_path: Path, sandbox: MastodonSandbox) -> Path:
    cfg = {
        **BASE_CONFIG,
        "platforms": {"mastodon": {"api_base_url": sandbox.base_url, "access_token": "${TEST_TOKEN}"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _bot(config: Path, db_url: str, token: str, *args: str) -> str:
    env = {**os.environ, "TEST_TOKEN": token, "DATABASE_URL": db_url, "COALESCE_WORKER_ID": "w1"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config), "--log-level", "DEBUG"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_no_log_line_of_a_real_run_carries_a_secret(
    tmp_path: Path, db_url: str, sandbox: MastodonSandbox
) -> None:
    config = _config(tmp_path, sandbox)
    url = _db_url_with_password(db_url)
    maria = sandbox.add_account("maria")
    sandbox.post(maria, "Matched! #LatinasInMedicine")
    sandbox.post(maria, f"@{sandbox.central['acct']} optout")
    out = [
        _bot(config, url, TOKEN, "run", "--once"),
        _bot(config, url, TOKEN, "run", "--once", "--log-format", "json"),
    ]
    sandbox.faults.add(r"/timelines/tag/", Fault("status", 503), times=4)
    sandbox.faults.add(r"/notifications", Fault("malformed"))
    out.append(_bot(config, url, TOKEN, "run", "--once"))
    out.append(_bot(config, url, WRONG, "run", "--once"))  # the server refuses the token
    out.append(_bot(config, url, TOKEN, "health", "--log-format", "json"))
    out.append(_bot(config, url, TOKEN, "block", "add", "keyword", "spam", "--as", "ana"))
    if not db_url.startswith("sqlite"):  # the database is down (nothing listens on that port)
        out.append(_bot(config, re.sub(r":5432/", ":1/", url), TOKEN, "run", "--once"))
    text = "\n".join(out)

    assert "access token was refused" in text  # the runs really did log, faults and refusals included
    assert "Mastodon unavailable" in text
    assert "Traceback" not in text  # every failure is one readable line
    if not db_url.startswith("sqlite"):
        assert "database error: connection failed" in text
    for secret in (TOKEN, WRONG, DB_PASSWORD):
        assert secret not in text
    assert CREDENTIALISH.search(text) is None, CREDENTIALISH.search(text)
