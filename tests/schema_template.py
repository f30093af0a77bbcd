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

import atexit
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
        admin_url = make_url(url).difference_update_query(["options"]).render_as_string(hide_password=False)
        schema = f"tmpl_{uuid.uuid4().hex[:12]}"
        recorded = _Recorded()
        _as_admin(admin_url, f"CREATE SCHEMA {schema}")
        engine = make_engine(_schema_url(admin_url, schema))

        @event.listens_for(engine, "before_cursor_execute")
        def _record(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            recorded.calls.append((statement, parameters, many))

        try:
            upgrade(engine)
        finally:
            engine.dispose()
            _drop(admin_url, schema)
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


# -- PostgreSQL: one migrated schema per test process, emptied for each test -------------------
#
# Even replayed, the migrations' DDL costs PostgreSQL about a second per test (every table and
# index is a file it creates and later drops). So each test process keeps one migrated schema
# and, before lending it to the next test, checks that its structure is still what was laid
# (a test may add a trigger or rename a table to make a fault) and deletes every row. A schema
# found changed, or that cannot be emptied at once (a connection some test left open holds a
# lock), is dropped and a new one laid.

FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
  SELECT 'rel:' || c.relname || ':' || c.relkind::text || ':' || coalesce(a.attname, '') || ':'
         || coalesce(format_type(a.atttypid, a.atttypmod), '') || ':' || coalesce(a.attnotnull::text, '')
         || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS item
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE n.nspname = current_schema()
  UNION ALL
  SELECT 'trigger:' || c.relname || ':' || t.tgname || ':' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND NOT t.tgisinternal
  UNION ALL
  SELECT 'constraint:' || con.conname || ':' || pg_get_constraintdef(con.oid)
    FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
   WHERE n.nspname = current_schema()
  UNION ALL
  SELECT 'function:' || p.proname || ':' || md5(pg_get_functiondef(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = current_schema()
  UNION ALL
  SELECT 'revision:' || version_num FROM alembic_version
) items
"""


@dataclass
class _Kept:
    schema: str
    url: str
    fingerprint: str
    emptying: str  # the statements that delete every row and restart every sequence


_kept: _Kept | None = None


def _schema_url(admin_url: str, schema: str) -> str:
    return f"{admin_url}?options=-csearch_path%3D{schema}"


def _as_admin(admin_url: str, statement: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


def _lay_kept(admin_url: str) -> _Kept:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    _as_admin(admin_url, f"CREATE SCHEMA {schema}")
    url = _schema_url(admin_url, schema)
    lay_schema(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            fingerprint = conn.execute(text(FINGERPRINT)).scalar_one()
            tables = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version' ORDER BY 1"
                )
            ).scalars()
            sequences = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1")
            ).scalars()
            emptying = ";".join(
                [
                    "SET LOCAL lock_timeout = '5s'",
                    "SET LOCAL session_replication_role = replica",  # no triggers, no key checks
                    *(f'DELETE FROM "{t}"' for t in tables),
                    *(f'ALTER SEQUENCE "{s}" RESTART' for s in sequences),
                ]
            )
    finally:
        engine.dispose()
    return _Kept(schema, url, fingerprint, emptying)


def _drop(admin_url: str, schema: str) -> None:
    _as_admin(admin_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _emptied(kept: _Kept) -> bool:
    """Whether the kept schema is as laid and now holds no row."""
    engine = make_engine(kept.url)
    try:
        with engine.begin() as conn:
            if conn.execute(text(FINGERPRINT)).scalar_one() != kept.fingerprint:
                return False
            conn.connection.dbapi_connection.cursor().execute(kept.emptying)  # type: ignore[union-attr]
        return True
    except Exception:  # a lock held by a connection a test left open: lay a new one
        return False
    finally:
        engine.dispose()


def migrated_postgres_url(admin_url: str) -> str:
    """The URL of this process's migrated, empty PostgreSQL schema, lent to one test at a time."""
    global _kept
    if _kept is not None and not _emptied(_kept):
        _drop(admin_url, _kept.schema)
        _kept = None
    if _kept is None:
        _kept = _lay_kept(admin_url)
        atexit.register(_drop, admin_url, _kept.schema)
    return _kept.url


def is_migrated_postgres(url: str) -> bool:
    """Whether ``url`` is the kept schema (already migrated: nothing to lay)."""
    return _kept is not None and url == _kept.url
