"""Card delivery: which cards to send, edit, re-surface or expire, and the SQL that keeps each card
going out at most once.

Cards go out at most once per candidate, even across restarts: the ``cards`` row is written
before the send and completed after it (the intent row, the lease of this job). A send that may
or may not have reached the platform (a timeout) is never repeated; the nudge re-surfaces the
candidate later instead. The claim / send / settle steps of a new card, a nudge and a curator
alert go through the durable-work helper (bot.durable.perform), and every database step runs in a
worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from bot.clock import Clock
from bot.config import Settings
from bot.console.cards import compose_card, duration, failure_note, resurfaced_note
from bot.curation.flags import view_flags
from bot.curation.queue import CandidateView, Queue
from bot.domain import OPEN_STATES, CandidateState
from bot.durable import Failure, perform, run_sync
from bot.errors import NotFound, PlatformError, QueueError, RateLimited, Rejected, Unauthorized
from bot.ports import Card, ConsoleFront
from bot.richtext import Doc, Span
from bot.store import models as m
from bot.store.alerts import Alert, AlertOutbox, raise_alert
from bot.store.store import Store, dialect_insert

log = logging.getLogger(__name__)

SEND_BATCH = 50  # cards sent per sync pass; the next pass follows at once while more wait


def surely_undelivered(exc: PlatformError) -> bool:
    return isinstance(exc, RateLimited | Rejected | NotFound | Unauthorized)


@dataclass(frozen=True)
class _Sending:
    """A card about to go out: its intent row, and what it shows of which candidate version."""

    card_id: int
    version: int
    view: CandidateView
    card: Card


@dataclass(frozen=True)
class _Nudge:
    """A waiting candidate's card sent again: the claimed card row, and the card that goes out."""

    row: Any
    sending: _Sending


@dataclass(frozen=True)
class _CardRow:
    id: int
    candidate_id: int
    message_id: str | None
    delivery: str
    text_hash: str | None
    nudged: bool
    state_shown: str | None


class CardDelivery:
    """Sends, edits, re-surfaces and expires the cards of one console front."""

    def __init__(
        self, front: ConsoleFront, store: Store, queue: Queue, settings: Settings, clock: Clock
    ) -> None:
        self.front = front
        self.store = store
        self.queue = queue
        self.settings = settings
        self.clock = clock
        self.timings = front.timings
        self.snooze = timedelta(hours=settings.curation.snooze_hours)
        # one lock per candidate while anyone holds it: sends, edits and nudges of a card in turn
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._ctx = {"community": settings.community.slug, "platform": front.platform.value}

    def _lock(self, candidate_id: int) -> asyncio.Lock:
        lock = self._locks.get(candidate_id)
        if lock is None:
            lock = self._locks[candidate_id] = asyncio.Lock()
        return lock

    # -- the sync pass -----------------------------------------------------------------------------

    async def sync(self) -> bool:
        """Expire, send new cards, refresh changed ones, nudge; True if more cards wait to go."""
        now = self.clock.now()
        await self.expire_overdue(now)
        more = await self.send_new(now)
        await self.refresh_changed()
        await self.nudge_waiting(now)
        await self.send_alerts()
        return more

    async def send_alerts(self) -> int:
        """Alerts about work that failed for good (bot.store.alerts), each sent at most once: the
        durable helper commits the claim before the send and settles the alert after it."""
        outbox = AlertOutbox(self.store)
        sent = 0
        for waiting in await run_sync(outbox.waiting):

            def intent(alert: Alert = waiting) -> Alert | None:
                return alert if outbox.claim(alert.id) else None

            async def call(alert: Alert) -> str:
                return await self.front.send_card(Card(Doc.of((Span(alert.text, untrusted=True),))))

            def done(alert: Alert, message: str) -> None:
                outbox.settle(alert.id, "sent", self.clock.now(), message)

            def failed(alert: Alert, failure: Failure) -> None:
                delivery = "retry" if surely_undelivered(failure.error) else "unknown"
                outbox.settle(alert.id, delivery, self.clock.now())
                log.warning("alert not sent", extra={**self._ctx, "alert": alert.key, "error": str(failure)})

            performed = await perform(
                intent, call, done, failed, platform=self.front.platform.value, idempotent=False
            )
            sent += performed is not None and performed.ok
        return sent

    async def expire_overdue(self, now: datetime) -> int:
        ids = await run_sync(self._overdue, now - self.timings.expire_after)
        expired = 0
        for cid in ids:
            try:
                await run_sync(
                    self.queue.expire,
                    cid,
                    now,
                    f"nobody decided within {duration(self.timings.expire_after)}",
                )
                expired += 1
            except QueueError:
                continue  # decided meanwhile
        if expired:
            log.info("candidates expired", extra={**self._ctx, "count": expired})
        return expired

    async def send_new(self, now: datetime) -> bool:
        """Cards for new candidates, oldest first; True if more wait and this pass got some out."""
        ids = await run_sync(self._without_card, SEND_BATCH + 1)
        sent = [await self._send_card_alone(cid) for cid in ids[:SEND_BATCH]]
        return len(ids) > SEND_BATCH and any(sent)

    async def _send_card_alone(self, candidate_id: int) -> bool:
        """One card whose candidate cannot be shown (bad data, a bug) stays out, the curators
        are told once, and the other cards go on."""
        try:
            return await self.send_card(candidate_id)
        except Exception as exc:
            log.exception("card could not be composed", extra={**self._ctx, "candidate": candidate_id})
            with contextlib.suppress(Exception):
                await run_sync(self._card_failed, candidate_id, exc)
            return False

    def _card_failed(self, candidate_id: int, exc: Exception) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Card)
                .where(m.Card.candidate_id == candidate_id, m.Card.delivery == "intent")
                .values(delivery="unknown")
            )
            raise_alert(
                conn,
                self.store.community_id,
                f"card:{candidate_id}",
                f"⚠️ Candidate #{candidate_id} could not be shown here: {type(exc).__name__}: "
                f"{str(exc)[:300]}. See it with python -m bot queue show {candidate_id}.",
                self.clock.now(),
            )

    async def send_card(self, candidate_id: int) -> bool:
        """Send the card of one candidate, at most once; True if it was sent now. The durable
        helper commits the intent row before the send and records the outcome after it."""

        def intent() -> _Sending | None:
            card_id = self._claim_send(candidate_id)
            if card_id is None:
                return None
            version, view = self._view(candidate_id)
            return _Sending(card_id, version, view, self._compose(view, nudged=False))

        async def call(sending: _Sending) -> str:
            return await self.front.send_card(sending.card)

        def done(sending: _Sending, message: str) -> None:
            self._shown(
                sending.card_id,
                sending.view,
                sending.version,
                sending.card,
                self.clock.now(),
                message=message,
                sent=True,
            )

        def failed(sending: _Sending, failure: Failure) -> None:
            if failure.untranslated:  # a bug in the front: the curators are told, as for bad data
                self._card_failed(candidate_id, failure.error)
                return
            delivery = "retry" if surely_undelivered(failure.error) else "unknown"
            self._set_delivery(sending.card_id, delivery)
            log.warning(
                "card not sent",
                extra={**self._ctx, "candidate": candidate_id, "error": str(failure), "delivery": delivery},
            )

        async with self._lock(candidate_id):
            performed = await perform(
                intent, call, done, failed, platform=self.front.platform.value, idempotent=False
            )
        return performed is not None and performed.ok

    async def refresh_changed(self) -> None:
        for cid in await run_sync(self._changed):
            try:
                await self.refresh(cid)
            except Exception:  # one card that cannot be redrawn must not hold the others
                log.exception("card could not be refreshed", extra={**self._ctx, "candidate": cid})

    async def refresh(self, candidate_id: int) -> None:
        """Edit the candidate's card in place if what it should show has changed."""
        async with self._lock(candidate_id):
            row = await run_sync(self._card, candidate_id)
            if row is None or row.delivery != "sent" or row.message_id is None:
                return
            version, view = await run_sync(self._view, candidate_id)
            card = self._compose(view, nudged=row.nudged)
            if card.fingerprint() != row.text_hash:
                try:
                    await self.front.edit_card(row.message_id, card)
                except NotFound:
                    await run_sync(self._set_delivery, row.id, "gone")
                    return
                except PlatformError as exc:  # the version stays behind: the next pass tries again
                    log.warning(
                        "card not updated", extra={**self._ctx, "candidate": candidate_id, "error": str(exc)}
                    )
                    return
                if view.state == CandidateState.FAILED.value and row.state_shown != view.state:
                    await self._announce_failure(view, row.message_id)
            await run_sync(self._shown, row.id, view, version, card, self.clock.now())

    async def _announce_failure(self, view: CandidateView, card_message: str) -> None:
        """An edited card makes no sound: a failure also gets a message of its own, under the
        card, so a curator notices and can retry (or check by hand)."""
        try:
            await self.front.send_card(failure_note(view), reply_to=card_message)
        except PlatformError as exc:  # the card itself says it; the next failure is announced again
            log.warning("failure not announced", extra={**self._ctx, "candidate": view.id, "error": str(exc)})

    async def nudge_waiting(self, now: datetime) -> int:
        """Re-surface, once, each candidate that has waited longer than ``nudge_after``. The claim
        of the nudge is the intent (committed before the send), settled after it by the durable
        helper; a send that surely did not arrive gives the claim back for the next pass."""
        nudged = 0
        for cid in await run_sync(self._waiting_since, now - self.timings.nudge_after):

            def intent(candidate_id: int = cid) -> _Nudge | None:
                row = self._claim_nudge(candidate_id, now)
                if row is None:
                    return None
                version, view = self._view(candidate_id)
                return _Nudge(row, _Sending(row.id, version, view, self._compose(view, nudged=True)))

            async def call(nudge: _Nudge) -> str:
                return await self.front.send_card(nudge.sending.card, reply_to=nudge.row.message_id)

            def done(nudge: _Nudge, message: str) -> None:
                s = nudge.sending
                self._shown(
                    s.card_id, s.view, s.version, s.card, self.clock.now(), message=message, sent=True
                )

            def failed(nudge: _Nudge, failure: Failure) -> None:
                if surely_undelivered(failure.error):
                    self._unclaim_nudge(nudge.row.id)
                log.warning(
                    "nudge not sent",
                    extra={**self._ctx, "candidate": nudge.sending.view.id, "error": str(failure)},
                )

            async with self._lock(cid):
                performed = await perform(
                    intent, call, done, failed, platform=self.front.platform.value, idempotent=False
                )
                if performed is None or not performed.ok:
                    continue
                nudged += 1
                row = performed.key.row
                if row.message_id is not None and row.delivery == "sent":
                    # one live card per candidate: the old one loses its buttons
                    with contextlib.suppress(PlatformError):
                        await self.front.edit_card(row.message_id, resurfaced_note(cid))
        return nudged

    def _compose(self, view: CandidateView, *, nudged: bool) -> Card:
        now = self.clock.now()
        noted = view_flags(self.settings.trust.flags, view, now)
        return compose_card(
            view,
            now,
            hashtags=self.settings.community.hashtags,
            snooze=self.snooze,
            expire_after=self.timings.expire_after,
            nudged=nudged,
            flags=[f.text for f in noted],
        )

    # -- the database (called in threads) ------------------------------------------------------------

    def forget_unfinished_sends(self) -> None:
        """A card whose send was cut short by a stop may have gone out: never send it again."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Card)
                .where(m.Card.community_id == self.store.community_id, m.Card.delivery == "intent")
                .values(delivery="unknown")
            )

    def _view(self, candidate_id: int) -> tuple[int, CandidateView]:
        """The candidate's version, then its view: the view is at least as new as the version."""
        with self.store.engine.connect() as conn:
            version = conn.execute(
                select(m.Candidate.version).where(m.Candidate.id == candidate_id)
            ).scalar_one()
        return int(version), self.queue.show(candidate_id)

    def _card(self, candidate_id: int) -> _CardRow | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(
                    m.Card.id,
                    m.Card.candidate_id,
                    m.Card.message_id,
                    m.Card.delivery,
                    m.Card.text_hash,
                    m.Card.nudged_at.is_not(None),
                    m.Card.state_shown,
                ).where(m.Card.candidate_id == candidate_id)
            ).one_or_none()
        return _CardRow(*row) if row is not None else None

    def _without_card(self, limit: int) -> list[int]:
        """Pending candidates with no card yet, or whose card the platform refused (oldest first)."""
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Candidate.id)
                    .outerjoin(m.Card, m.Card.candidate_id == m.Candidate.id)
                    .where(
                        m.Candidate.community_id == self.store.community_id,
                        m.Candidate.state == CandidateState.PENDING.value,
                        or_(m.Card.id.is_(None), m.Card.delivery == "retry"),
                    )
                    .order_by(m.Candidate.id)
                    .limit(limit)
                ).scalars()
            )

    def _claim_send(self, candidate_id: int) -> int | None:
        """Write the card's intent row (or take back a refused one); None if it exists already."""
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            taken = conn.execute(
                update(m.Card)
                .where(m.Card.candidate_id == candidate_id, m.Card.delivery == "retry")
                .values(delivery="intent", created_at=now)
                .returning(m.Card.id)
            ).scalar()
            if taken is not None:
                return int(taken)
            new = conn.execute(
                dialect_insert(conn, m.table(m.Card))
                .values(
                    community_id=self.store.community_id,
                    candidate_id=candidate_id,
                    chat_id=self.front.chat,
                    delivery="intent",
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["candidate_id"])
                .returning(m.Card.id)
            ).scalar()
        return int(new) if new is not None else None

    def _set_delivery(self, card_id: int, delivery: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Card).where(m.Card.id == card_id).values(delivery=delivery))

    def _shown(
        self,
        card_id: int,
        view: CandidateView,
        version: int,
        card: Card,
        now: datetime,
        *,
        message: str | None = None,
        sent: bool = False,
    ) -> None:
        values: dict[str, Any] = {
            "state_shown": view.state,
            "version_shown": version,
            "text_hash": card.fingerprint(),
        }
        if sent:
            values.update(message_id=message, delivery="sent", sent_at=now)
        else:
            values["edited_at"] = now
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Card).where(m.Card.id == card_id).values(**values))

    def _changed(self) -> list[int]:
        """Candidates whose card shows an older version than the candidate is at."""
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Card.candidate_id)
                    .join(m.Candidate, m.Candidate.id == m.Card.candidate_id)
                    .where(
                        m.Card.community_id == self.store.community_id,
                        m.Card.delivery == "sent",
                        or_(m.Card.version_shown.is_(None), m.Card.version_shown != m.Candidate.version),
                    )
                    .order_by(m.Card.candidate_id)
                ).scalars()
            )

    def _overdue(self, queued_before: datetime) -> list[int]:
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Candidate.id).where(
                        m.Candidate.community_id == self.store.community_id,
                        m.Candidate.state.in_([s.value for s in OPEN_STATES]),
                        m.Candidate.created_at <= queued_before,
                    )
                ).scalars()
            )

    def _waiting_since(self, queued_before: datetime) -> list[int]:
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Card.candidate_id)
                    .join(m.Candidate, m.Candidate.id == m.Card.candidate_id)
                    .where(
                        m.Card.community_id == self.store.community_id,
                        m.Card.delivery.in_(["sent", "unknown"]),
                        m.Card.nudged_at.is_(None),
                        m.Candidate.state == CandidateState.PENDING.value,
                        m.Candidate.created_at <= queued_before,
                    )
                    .order_by(m.Card.candidate_id)
                ).scalars()
            )

    def _claim_nudge(self, candidate_id: int, now: datetime) -> _CardRow | None:
        """Mark the card nudged before the nudge goes out, so it goes out once."""
        row = self._card(candidate_id)
        if row is None:
            return None
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(m.Card)
                .where(and_(m.Card.id == row.id, m.Card.nudged_at.is_(None)))
                .values(nudged_at=now)
            )
        return row if res.rowcount == 1 else None

    def _unclaim_nudge(self, card_id: int) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Card).where(m.Card.id == card_id).values(nudged_at=None))
