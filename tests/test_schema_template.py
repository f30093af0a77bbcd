"""The schema a test's ``engine`` gets (laid from one migration run, tests/schema_template.py) is
the schema the migrations build on an empty database, on both backends: tables, columns,
defaults, indexes, constraints, triggers, functions and the alembic revision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.store.migrate import current, upgrade
from bot.store.store import make_engine
from tests.conftest import PG_ADMIN_URL
from tests.schema_template import lay_schema, migrated_postgres_url


def _sqlite_schema(engine: Engine, _schema: str) -> list[Any]:
    """Each object's SQL as a sorted set of lines: the migrations' table rebuilds list a table's
    constraints in an order that varies from run to run."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        return [(*r[:3], sorted(line.strip().rstrip(",") for line in str(r[3]).splitlines())) for r in rows]


PG_QUERIES = [
    """SELECT table_name, column_name, data_type, is_nullable, column_default,
              character_maximum_length
       FROM information_schema.columns WHERE table_schema = :s ORDER BY 1, 2""",
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s ORDER BY 1, 2",
    """SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints
       WHERE constraint_schema = :s AND constraint_name NOT LIKE '%_not_null' ORDER BY 1, 2""",
    """SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = :s AND NOT t.tgisinternal ORDER BY 1, 2""",
    """SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s ORDER BY 1""",
    "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :s ORDER BY 1",
]


def _pg_schema(engine: Engine, schema: str) -> list[Any]:
    out: list[Any] = []
    with engine.connect() as conn:
        for query in PG_QUERIES:
            rows = conn.execute(text(query), {"s": schema})
            out.append([tuple(str(v).replace(schema, "<schema>") for v in r) for r in rows])
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[tuple[str, str]]]:
    """Two empty databases of one backend: (url, schema name) each."""
    if request.param == "sqlite":
        yield [(f"sqlite:///{tmp_path / name}", "") for name in ("laid.db", "migrated.db")]
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield [(f"{PG_ADMIN_URL}?options=-csearch_path%3D{s}", s) for s in schemas]
    finally:
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_laid_schema_is_the_migrated_one(two_empty: list[tuple[str, str]]) -> None:
    (laid_url, laid_schema), (migrated_url, migrated_schema) = two_empty
    lay_schema(laid_url)
    laid, migrated = make_engine(laid_url), make_engine(migrated_url)
    try:
        upgrade(migrated)
        describe = _sqlite_schema if laid_url.startswith("sqlite") else _pg_schema
        assert describe(laid, laid_schema) == describe(migrated, migrated_schema)
        assert len(describe(laid, laid_schema)) > 5  # not two empty descriptions
        assert current(laid) == current(migrated) != set()
        assert upgrade(laid) == []  # nothing left for the migrations to do
    finally:
        laid.dispose()
        migrated.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_kept_postgres_schema_is_lent_empty_and_as_laid(engine: Engine, db_url: str) -> None:
    """A test's ``engine`` on PostgreSQL is this process's kept schema: the next test gets it with
    no rows and its sequences restarted, and a schema a test changed is replaced, not lent."""
    community = "INSERT INTO communities (slug, name, created_at) VALUES (:s, 'C', now()) RETURNING id"
    with engine.begin() as conn:
        conn.execute(text(community), {"s": "a"})
        first = conn.execute(text(community), {"s": "b"}).scalar_one()
    assert first >= 2
    again = make_engine(migrated_postgres_url(PG_ADMIN_URL))
    try:
        assert again.url == engine.url  # the same schema, lent again
        with again.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM communities")).scalar_one() == 0
            assert conn.execute(text(community), {"s": "c"}).scalar_one() == 1
            assert current(again) != set()
            conn.execute(text("ALTER TABLE communities ADD COLUMN extra INTEGER"))
    finally:
        again.dispose()
    changed_url = str(again.url.render_as_string(hide_password=False))
    replaced = make_engine(migrated_postgres_url(PG_ADMIN_URL))
    try:
        assert replaced.url.render_as_string(hide_password=False) != changed_url
        with replaced.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = 'communities'"
                )
            ).scalars()
            assert "extra" not in set(columns)
    finally:
        replaced.dispose()
