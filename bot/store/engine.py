"""The engine: SQLite (a file, no set-up, private to its owner) or PostgreSQL by URL, each tuned
for how the bot writes (see the notes on ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from bot.files import OWNER_ONLY, private_sqlite

if TYPE_CHECKING:
    from bot.config import Settings


def make_engine(url: str, *, file_mode: int = OWNER_ONLY, **kwargs: Any) -> Engine:
    """An engine tuned for the backend: SQLite gets WAL, foreign keys and a busy timeout, and its
    files (the database, ``-wal``, ``-shm``) are readable by their owner only (``file_mode``)."""
    if url.startswith("sqlite"):
        private_sqlite(make_url(url).database or "", file_mode)
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=NullPool, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            # Let SQLAlchemy own transactions: BEGIN IMMEDIATE below takes the write lock up
            # front, so two writers queue up instead of failing with "database is locked".
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def engine_for(settings: Settings) -> Engine:
    """The engine of a deployment's database, its files as private as ``files.mode`` says."""
    return make_engine(settings.database.url, file_mode=settings.files.file_mode)


def dialect_insert(conn: Connection, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
