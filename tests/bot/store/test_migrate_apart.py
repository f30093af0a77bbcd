"""A long run migrates in a child process, so Alembic never joins its memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from bot.store.engine import make_engine
from bot.store.migrate import current, upgrade_apart


def test_upgrade_apart_migrates_a_new_database_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    applied = upgrade_apart(url, 0o600)
    engine = make_engine(url)
    try:
        assert applied
        assert current(engine) <= set(applied)
        assert "candidates" in inspect(engine).get_table_names()
        assert upgrade_apart(url, 0o600) == []  # already at the newest revision
    finally:
        engine.dispose()
    assert (tmp_path / "bot.db").stat().st_mode & 0o777 == 0o600


def test_what_run_imports_leaves_alembic_out() -> None:
    code = (
        "import sys, bot.cli.main, bot.app, bot.web.serve, bot.store.migrate; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
