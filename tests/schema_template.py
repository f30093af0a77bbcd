"""The migrated schema, built once per test process and laid into each test's empty database.

Running the nineteen migrations takes one to three seconds per database, and most tests want a
fresh one: done per test, that was the largest single cost of the suite. So each pytest process
migrates one database with the real migrations (``bot.store.migrate.upgrade``) and then:

* on SQLite, copies that file into the test's empty database file;
* on PostgreSQL, replays into the test's empty schema the statements the migrations sent to
  the server, exactly as the driver received them (the statements name no schema, so the test
  URL's ``search_path`` puts everything in the test's own schema: tables, triggers, functions).

Either way ``upgrade`` then finds the database at its heads and does nothing, so a test sees
the same schema the migrations build. Tests of the migrations themselves call ``upgrade`` on an
empty database of their own and are untouched."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url, text

from bot.store.migrate import upgrade
from bot.store.store import make_engine


@dataclass
class _Recorded:
    """What the driver was asked to run, in order: (statement, parameters, executemany)."""

    calls: list[tuple[str, Any, bool]] = field(default_factory=list)


_sqlite_file: Path | None = None
_postgres: _Recorded | None = None


def _sqlite_template() -> Path:
    global _sqlite_file
    if _sqlite_file is None:
        folder = Path(tempfile.mkdtemp(prefix="coalesce-schema-"))
        path = folder / "migrated.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as raw:  # all in the main file: one to copy
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _sqlite_file = path
    return _sqlite_file


def _postgres_template(url: str) -> _Recorded:
    """Migrates a scratch schema once, recording what reached the driver, then drops it."""
    global _postgres
    if _postgres is None:
        admin_url = make_url(url).difference_update_query(["options"])
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        schema = f"tmpl_{uuid.uuid4().hex[:12]}"
        recorded = _Recorded()
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = make_engine(
            admin_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
        )

        @event.listens_for(engine, "before_cursor_execute")
        def _record(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            recorded.calls.append((statement, parameters, many))

        try:
            upgrade(engine)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
        _postgres = recorded
    return _postgres


def lay_schema(url: str) -> None:
    """Give the empty database at ``url`` the migrated schema (see the module's docstring)."""
    if url.startswith("sqlite"):
        target = make_url(url).database
        assert target, url
        shutil.copyfile(_sqlite_template(), target)
        os.chmod(target, 0o600)
        return
    recorded = _postgres_template(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for statement, parameters, many in recorded.calls:
                if many:
                    cursor.executemany(statement, parameters)
                else:
                    cursor.execute(statement, parameters)
    finally:
        engine.dispose()
