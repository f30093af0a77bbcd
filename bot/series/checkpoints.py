"""How far each series' schedule has been looked at: a slot before that which was never
published was missed while the bot was down (or frozen) and is skipped, saying why."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from bot.store import models as m
from bot.store.store import Store, dialect_insert


def checked_until(store: Store) -> dict[str, datetime]:
    """series name -> the moment its schedule was last looked at."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(m.SeriesCheckpoint.series, m.SeriesCheckpoint.checked_until).where(
                m.SeriesCheckpoint.community_id == store.community_id
            )
        ).all()
    return {str(series): at for series, at in rows}


def mark_checked(store: Store, series: Iterable[str], now: datetime) -> None:
    with store.engine.begin() as conn:
        for name in series:
            stmt = dialect_insert(conn, m.table(m.SeriesCheckpoint)).values(
                community_id=store.community_id, series=name, checked_until=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["community_id", "series"], set_={"checked_until": now}
                )
            )
