"""The curators' emergency stop for the whole account (``/freeze``, ``python -m bot freeze``): while
it is on, nothing is amplified and no series is published (bot.trust.veto reads it). A switch row
in the database, so every worker and the CLI see it at once."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust.veto import FROZEN, is_frozen

__all__ = ["FROZEN", "freeze_account", "is_frozen"]

log = logging.getLogger(__name__)


def freeze_account(store: Store, by: str, now: datetime, *, frozen: bool = True, community: str = "") -> bool:
    """Stop (``frozen=False``: restart) all amplification; True when that changed anything.
    ``community``: its slug, for the log."""
    with store.engine.begin() as conn:
        before = conn.execute(
            select(m.Switch.enabled).where(
                m.Switch.community_id == store.community_id, m.Switch.name == FROZEN
            )
        ).scalar()
        values = {"enabled": frozen, "changed_by": by, "changed_at": now}
        conn.execute(
            dialect_insert(conn, m.table(m.Switch))
            .values(community_id=store.community_id, name=FROZEN, **values)
            .on_conflict_do_update(index_elements=["community_id", "name"], set_=values)
        )
    log.warning(
        "amplification frozen" if frozen else "amplification unfrozen",
        extra={"community": community, "by": by},
    )
    return bool(before) != frozen
