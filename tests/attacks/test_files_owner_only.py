"""Every file the CLI writes (the SQLite database and its -wal/-shm, report CSV/PNG/HTML, the
members export, interview answer files, the demo's directory and config) is readable by its
owner only, whatever the umask, unless the admin asks otherwise (``--mode``, ``files.mode``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from bot.curation.pipeline import Pipeline
from bot.domain import Author, Batch, Platform, Post
from bot.store.store import Store, make_engine
from tests.conftest import make_settings


@pytest.fixture(autouse=True)
def _open_umask() -> Iterator[None]:
    """A umask that lets everyone read what is created (as on many hosts): the bot must not rely
    on a strict one."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _config(tmp_path: Path, **extra: object) -> Path:
    config = tmp_path / "config.yaml"
    data = {
        "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
        "database": {"url": f"sqlite:///{tmp_path / 'coalesce.db'}"},
        "curators": [{"name": "ana"}],
        **extra,
    }
    config.write_text(yaml.safe_dump(data))
    return config


def _seed(tmp_path: Path) -> None:
    """One member with a display name a spreadsheet would run, so the exports have a row."""
    settings = make_settings(database={"url": f"sqlite:///{tmp_path / 'coalesce.db'}"})
    engine = make_engine(settings.database.url)
    from bot.store.migrate import upgrade

    upgrade(engine)
    now = datetime.now(UTC)
    store = Store.open(engine, settings.community.slug, settings.community.name, now)
    author = Author("7", "maria@med.example", display_name='=HYPERLINK("http://x")')
    post = Post(
        Platform.MASTODON,
        "1",
        "https://med.example/1",
        author,
        "Hi #LatinasInMedicine",
        now,
        frozenset({"latinasinmedicine"}),
    )
    Pipeline(settings, store).ingest(Platform.MASTODON, Batch("hashtag", "1", [post]), now)
    engine.dispose()


def _everything(config: Path, out: Path, *mode: str) -> None:
    """Every CLI command that writes a file."""
    today = datetime.now(UTC).date().isoformat()
    for argv in (
        ["db", "upgrade"],
        ["queue", "list"],
        [
            "report",
            "--since",
            "2026-01-01",
            "--until",
            today,
            "--csv",
            str(out / "r.csv"),
            "--chart",
            str(out / "r.png"),
            "--html",
            str(out / "r.html"),
            *mode,
        ],
        ["members", "export", "--csv", str(out / "members.csv"), *mode],
        ["interviews", "invite", "--name", "María", "--as", "ana", "--write", str(out / "maria.yaml"), *mode],
    ):
        assert main([*argv, "--config", str(config)]) == 0, argv


WRITTEN = ["r.csv", "r.png", "r.html", "members.csv", "maria.yaml"]


def test_every_file_the_cli_writes_is_owner_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _seed(tmp_path)
    # An earlier version left the database world-readable: the next start narrows it.
    os.chmod(tmp_path / "coalesce.db", 0o644)
    (out / "members.csv").write_text("old export\n")  # an existing file keeps no wider mode
    os.chmod(out / "members.csv", 0o666)
    _everything(_config(tmp_path), out)
    for name in WRITTEN:
        assert _mode(out / name) == 0o600, name
    database = sorted(p for p in tmp_path.iterdir() if p.name.startswith("coalesce.db"))
    assert database[0].name == "coalesce.db"
    for path in database:  # the database, and its -wal and -shm while they exist
        assert _mode(path) == 0o600, path.name
    assert "old export" not in (out / "members.csv").read_text()


def test_a_fresh_database_never_exists_readable_by_others(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    for path in tmp_path.glob("coalesce.db*"):
        assert _mode(path) == 0o600, path.name
    # While a connection writes, SQLite's side files exist: they take the database's mode.
    engine = make_engine(f"sqlite:///{tmp_path / 'coalesce.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x)")
        sides = sorted(p.name for p in tmp_path.glob("coalesce.db-*"))
        assert sides == ["coalesce.db-shm", "coalesce.db-wal"]
        for name in sides:
            assert _mode(tmp_path / name) == 0o600, name
    engine.dispose()


def test_the_admin_can_widen_it_with_mode_or_files_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _seed(tmp_path)
    _everything(_config(tmp_path), out, "--mode", "644")
    for name in WRITTEN:
        assert _mode(out / name) == 0o644, name

    _everything(_config(tmp_path, files={"mode": "640"}), out)
    for name in WRITTEN:
        assert _mode(out / name) == 0o640, name
    assert _mode(tmp_path / "coalesce.db") == 0o640


@pytest.mark.parametrize("mode", ["777", "400", "abc", "1000", "700"])
def test_a_mode_the_bot_cannot_use_is_refused(
    tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = _config(tmp_path)
    argv = ["members", "export", "--csv", str(out / "m.csv"), "--mode", mode, "--config", str(config)]
    assert main(argv) == 2
    assert "--mode: expected" in capsys.readouterr().err
    assert not (out / "m.csv").exists()
    assert main(["check-config", "--config", str(_config(tmp_path, files={"mode": mode}))]) == 2
    assert "files.mode: expected" in capsys.readouterr().err


def test_the_demo_directory_and_its_files_are_owner_only(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert main(["demo", "--dir", str(demo)]) == 0
    assert _mode(demo) == 0o700
    for path in demo.rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path
