"""Alerts to the curators: one message in their chat for each piece of work that failed for good
(an undo a platform refuses, a member request that could not be handled, a publication that
could not go out). Raised by whoever gave up, under a key, so the same failure alerts once;
sent by the console at most once (the row is marked before the send, as cards are)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.store import models as m
from bot.store.store import Store, dialect_insert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    id: int
    key: str
    text: str


def raise_alert(conn: Connection, community_id: int, key: str, text: str, now: datetime) -> bool:
    """Queue an alert inside ``conn``'s transaction; False when ``key`` was alerted before."""
    made = conn.execute(
        dialect_insert(conn, m.table(m.CuratorAlert))
        .values(
            community_id=community_id, key=key[:128], text=text[:3000], created_at=now, delivery="pending"
        )
        .on_conflict_do_nothing(index_elements=["community_id", "key"])
        .returning(m.CuratorAlert.id)
    ).scalar_one_or_none()
    if made is not None:
        log.warning("curators alerted", extra={"alert": key})
    return made is not None


def alert(store: Store, key: str, text: str, now: datetime) -> bool:
    with store.engine.begin() as conn:
        return raise_alert(conn, store.community_id, key, text, now)


class AlertOutbox:
    """The console's side: the alerts still to send, claimed one at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def waiting(self, limit: int = 20) -> list[Alert]:
        a = m.CuratorAlert
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(a.id, a.key, a.text)
                .where(a.community_id == self.store.community_id, a.delivery.in_(("pending", "retry")))
                .order_by(a.id)
                .limit(limit)
            ).all()
        return [Alert(int(r.id), str(r.key), str(r.text)) for r in rows]

    def claim(self, alert_id: int) -> bool:
        a = m.CuratorAlert
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(a)
                .where(a.id == alert_id, a.delivery.in_(("pending", "retry")))
                .values(delivery="intent")
            )
            return res.rowcount == 1

    def settle(self, alert_id: int, delivery: str, now: datetime, message_id: str | None = None) -> None:
        values: dict[str, object] = {"delivery": delivery}
        if delivery == "sent":
            values.update(sent_at=now, message_id=message_id)
        with self.store.engine.begin() as conn:
            conn.execute(update(m.CuratorAlert).where(m.CuratorAlert.id == alert_id).values(**values))

    def forget_unfinished(self) -> None:
        """A send cut short by a stop may have gone out: never send it again."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.CuratorAlert)
                .where(
                    m.CuratorAlert.community_id == self.store.community_id,
                    m.CuratorAlert.delivery == "intent",
                )
                .values(delivery="unknown")
            )
