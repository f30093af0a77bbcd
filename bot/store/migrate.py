"""Schema migrations (Alembic), run programmatically: ``python -m bot db upgrade``."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_table", "alembic_version")
    return cfg


def current(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a new database)."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, revision: str = "heads") -> list[str]:
    """Bring the schema to the newest revision (every branch head); returns what was applied."""
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


def revision(engine: Engine, message: str, rev_id: str, head: str = "head") -> None:
    """Developer helper: autogenerate a migration against ``engine`` (used to draft new ones)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id, head=head)
