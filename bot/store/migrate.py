"""Schema migrations (Alembic), run programmatically: ``python -m bot db upgrade``.

Alembic (with Mako and the Pygments lexers Mako's error pages load) is imported only inside the
functions that use it: importing this module costs nothing, so the long-running ``run`` can keep
it out of its memory for good by migrating in a child process (``upgrade_apart``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_table", "alembic_version")
    return cfg


def current(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a new database)."""
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, revision: str = "heads") -> list[str]:
    """Bring the schema to the newest revision (every branch head); returns what was applied."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config(engine)
    before = current(engine)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    if before == heads:
        return []
    log.info("migrating the database", extra={"from": ",".join(sorted(before)) or "empty"})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    applied = sorted(current(engine) - before)
    log.info("database migrated", extra={"to": ",".join(sorted(current(engine)))})
    return applied


def upgrade_apart(url: str, file_mode: int) -> list[str]:
    """``upgrade`` the database at ``url`` in a child process that ends once it is done, so
    Alembic and the migration scripts (some 7 MB) never join the memory of the process that
    called it; what was applied is logged here. A fresh interpreter ("spawn"): forking a process
    that may run threads is unsafe. The database is opened there as ``make_engine`` opens it
    (``file_mode`` for a new SQLite file), so it must be one a second process can open: a file
    or a server, not SQLite in memory."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        applied = pool.submit(_upgrade_url, url, file_mode).result()
    if applied:
        log.info("database migrated", extra={"applied": ",".join(applied)})
    return applied


def _upgrade_url(url: str, file_mode: int) -> list[str]:
    """In the child: open the database and migrate it."""
    from bot.store.engine import make_engine

    engine = make_engine(url, file_mode=file_mode)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def revision(engine: Engine, message: str, rev_id: str, head: str = "head") -> None:
    """Developer helper: autogenerate a migration against ``engine`` (used to draft new ones)."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id, head=head)
