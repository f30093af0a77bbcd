"""What a candidate's card shows of its past: the curators' decisions and the amplifications,
read for many candidates at once (a page of cards costs two queries, not two per card)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.store import models as m


@dataclass(frozen=True)
class DecisionView:
    curator: str
    action: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class AmplificationView:
    platform: str
    action: str
    state: str
    url: str | None
    error: str | None


History = tuple[tuple[DecisionView, ...], tuple[AmplificationView, ...]]


def histories(conn: Connection, ids: Sequence[int]) -> dict[int, History]:
    """The decisions and amplifications of candidates ``ids``, oldest first: two queries in all."""
    d, x = m.Decision, m.Amplification
    decided: dict[int, list[DecisionView]] = {i: [] for i in ids}
    amplified: dict[int, list[AmplificationView]] = {i: [] for i in ids}
    if ids:
        for row in conn.execute(
            select(d.candidate_id, d.curator, d.action, d.reason, d.at)
            .where(d.candidate_id.in_(ids))
            .order_by(d.id)
        ):
            decided[row.candidate_id].append(DecisionView(row.curator, row.action, row.reason, row.at))
        for amp in conn.execute(
            select(x.candidate_id, x.platform, x.action, x.state, x.receipt_url, x.error)
            .where(x.candidate_id.in_(ids))
            .order_by(x.id)
        ):
            amplified[amp.candidate_id].append(
                AmplificationView(amp.platform, amp.action, amp.state, amp.receipt_url, amp.error)
            )
    return {i: (tuple(decided[i]), tuple(amplified[i])) for i in ids}
