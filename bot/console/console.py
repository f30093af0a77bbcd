"""The curators' console: a card for every new candidate from any platform, decided with a tap.

Platform-free: what a card says, which cards to send, edit, re-surface or expire, who may
decide, and the curators' commands. A front end on one platform (adapters/telegram/console.py)
renders cards in its markup and turns taps and commands into the events below.

Cards go out at most once per candidate, even across restarts: the ``cards`` row is written
before the send and completed after it. A send that may or may not have reached the platform
(a timeout) is never repeated; the nudge re-surfaces the candidate later instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from bot.clock import Clock
from bot.config import Curator, Settings
from bot.console.alerts import AlertOutbox, raise_alert
from bot.curation.amplifier import Amplifier
from bot.curation.flags import view_flags
from bot.curation.queue import CandidateView, Queue
from bot.domain import OPEN_STATES, CandidateState, Platform
from bot.errors import (
    NotFound,
    PlatformError,
    QueueError,
    RateLimited,
    Rejected,
    SeriesError,
    Unauthorized,
)
from bot.links import safe_url
from bot.ports import Button, Card, Command, ConsoleFront, Tap, Verb
from bot.richtext import Doc, Line, Span
from bot.series.interview_chat import InterviewChat
from bot.series.interviews import InterviewBook
from bot.series.opportunities import OpportunityDraft, OpportunityList, guess_kind
from bot.store import models as m
from bot.store.store import Store, _insert

log = logging.getLogger(__name__)

SEND_BATCH = 50  # cards sent per sync pass; the next pass follows at once while more wait
COMMANDS = ("queue", "stats", "freeze", "unfreeze", "block", "unblock", "opportunity", "interview", "help")
BLOCK_USAGE = "Usage: /block account|domain|did|keyword VALUE [reason…] (e.g. /block domain pile.example)"
INTERVIEW_USAGE = "Usage: /interview @handle Name… (e.g. /interview @maria_md María Pérez)"
OPPORTUNITY_USAGE = (
    "Usage: /opportunity URL TITLE… (e.g. /opportunity https://aamc.org/visiting Visiting rotation)"
)


def surely_undelivered(exc: PlatformError) -> bool:
    return isinstance(exc, RateLimited | Rejected | NotFound | Unauthorized)


# -- composing cards (pure) -------------------------------------------------------------------------


def when(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %H:%M} UTC"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _names(view: CandidateView, action: str) -> list[str]:
    return list(dict.fromkeys(d.curator for d in view.decisions if d.action == action))


def _last(view: CandidateView, action: str) -> datetime | None:
    times = [d.at for d in view.decisions if d.action == action]
    return times[-1] if times else None


def _why(view: CandidateView, hashtags: Sequence[str]) -> Line:
    if view.reason == "nomination":
        who = view.nominated_by or "a member"
        return (Span("Why: "), Span("nominated by "), Span(who, untrusted=True))
    mine = set(view.hashtags.split())
    shown = [t for t in hashtags if t.lstrip("#").casefold() in mine] or list(hashtags[:1])
    why = (Span("Why: "), Span(" ".join("#" + t.lstrip("#") for t in shown)))
    if view.reason == "forward":  # the author above wrote it; this member passed it on
        return (*why, Span(" · ↪️ forwarded by "), Span(view.nominated_by or "a member", untrusted=True))
    return why


def _flags(view: CandidateView, noted: Sequence[str]) -> Line | None:
    flags: list[tuple[Span, ...]] = []
    if view.is_reply:
        flags.append((Span("a reply"),))
    flags.extend((Span(text),) for text in noted)
    if view.content_warning:
        flags.append((Span("content warning: "), Span(view.content_warning, untrusted=True)))
    if not flags:
        return None
    line: list[Span] = [Span("⚑ ", "bold")]
    for i, flag in enumerate(flags):
        line.extend(((Span(" · "),) if i else ()) + flag)
    return tuple(line)


def _outcome(view: CandidateView, required: int, expire_after: timedelta) -> list[Line]:
    state = CandidateState(view.state)
    approvers = _names(view, "approve")
    lines: list[Line] = []
    edits = [d for d in view.decisions if d.action == "edit"]
    if edits:
        lines.append((Span(f"✏️ Edited by the author · {when(edits[-1].at)}", "italic"),))
    if state in (CandidateState.PENDING, CandidateState.SNOOZED) and required > 1:
        tally = f"🗳 {view.approvals} of {required} approvals"
        lines.append((Span(tally, "bold"), Span(f": {', '.join(approvers)}" if approvers else "")))
    if state is CandidateState.SNOOZED and view.snoozed_until is not None:
        who = ", ".join(_names(view, "snooze")[-1:])
        lines.append((Span(f"💤 Snoozed by {who} until {when(view.snoozed_until)}"),))
    if state in (CandidateState.APPROVED, CandidateState.AMPLIFIED, CandidateState.FAILED):
        at = _last(view, "approve")
        lines.append(
            (
                Span("✅ Approved", "bold"),
                Span(f" by {', '.join(approvers)}" + (f" · {when(at)}" if at else "")),
            )
        )
    if state is CandidateState.APPROVED and view.last_error:
        # held by the last look (a profile that could not be read, a freeze) or a retry: say why
        later = f" · next look {when(view.next_attempt_at)}" if view.next_attempt_at else ""
        why = view.last_error.removeprefix("waiting: ")
        lines.append((Span("⏸ Waiting: ", "bold"), Span(why, untrusted=True), Span(later)))
    if state is CandidateState.REJECTED:
        at = _last(view, "reject")
        who = ", ".join(_names(view, "reject"))
        reasons = [d.reason for d in view.decisions if d.action == "reject" and d.reason]
        lines.append((Span("❌ Rejected", "bold"), Span(f" by {who}" + (f" · {when(at)}" if at else ""))))
        if reasons:
            lines.append((Span("Reason: "), Span(reasons[-1], untrusted=True)))
    if state is CandidateState.EXPIRED:
        at = _last(view, "expire")
        lines.append(
            (
                Span("⌛ Expired", "bold"),
                Span(f": nobody decided within {duration(expire_after)}" + (f" · {when(at)}" if at else "")),
            )
        )
    if state is CandidateState.WITHDRAWN:
        withdrawals = [d.reason for d in view.decisions if d.action == "withdraw" and d.reason]
        lines.append(
            (
                Span("↩️ Withdrawn", "bold"),
                Span(f": {withdrawals[-1]}" if withdrawals else ": the member opted out or deleted the post"),
            )
        )
    for amp in view.amplifications:
        where = f"{amp.action} on {Platform(amp.platform).value.capitalize()}"
        if amp.state == "done":
            url = safe_url(amp.url)
            lines.append((Span(f"📣 {where}: "), Span("done", url=url) if url else Span("done")))
        elif amp.state in ("intent", "retry"):
            note = f" (retrying: {amp.error})" if amp.error else ""
            lines.append((Span(f"⏳ {where}: under way"), Span(note, untrusted=True)))
        elif amp.state == "failed":
            lines.append((Span(f"⚠️ {where} failed: "), Span(amp.error or "unknown error", untrusted=True)))
    if (
        state is CandidateState.FAILED
        and view.last_error
        and not any(a.state == "failed" for a in view.amplifications)
    ):
        lines.append((Span("⚠️ Failed: "), Span(view.last_error, untrusted=True)))
    return lines


def compose_card(
    view: CandidateView,
    now: datetime,
    *,
    hashtags: Sequence[str] = (),
    snooze: timedelta = timedelta(hours=24),
    expire_after: timedelta = timedelta(days=7),
    nudged: bool = False,
    flags: Sequence[str] = (),
) -> Card:
    """The card of one candidate as it stands: who, what, why, flags, and the outcome so far.
    ``flags`` are the trust checks' notes (a new account, many mentions, patient details…).

    Everything a member wrote (text, names, content warning) is an untrusted span; the link to
    the original is a trusted line, so cutting the text to fit never loses it.
    """
    platform = Platform(view.platform).value.capitalize()
    url = safe_url(view.url)
    lines: list[Line | None] = [
        (Span(f"{platform} · candidate #{view.id}", "bold"),),
        (
            Span(view.author_name or view.author_handle, "bold", untrusted=True),
            Span(" "),
            Span(f"({view.author_handle})", untrusted=True) if view.author_name else Span(""),
        ),
        (Span(view.text or "(no text)", "quote", untrusted=True, cuttable=True),),
        (Span("Quotes a post by "), Span(view.quoted_handle, untrusted=True)) if view.quoted_handle else None,
        _flags(view, flags),
        _why(view, hashtags),
        (
            Span(f"Posted {when(view.posted_at)} · "),
            Span("open the original", url=url) if url else Span("no web link", "italic"),
        ),
    ]
    state = CandidateState(view.state)
    if nudged and state is CandidateState.PENDING:
        lines.append((Span(f"⏰ Still waiting: queued {when(view.queued_at)}", "bold"),))
    lines.extend(_outcome(view, view.approvals_required, expire_after))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if state in OPEN_STATES:
        snooze_label = f"💤 Snooze {duration(snooze)}"
        second: tuple[Button, ...] = (
            (Button(snooze_label, "snooze"),) if state is CandidateState.PENDING else ()
        )
        if url:
            second += (Button("🔗 Open", url=url),)
        buttons = ((Button("✅ Approve", "approve"), Button("❌ Reject", "reject")), second)
        buttons = tuple(row for row in buttons if row)
    elif state is CandidateState.FAILED:
        buttons = ((Button("🔁 Retry", "retry"),) + ((Button("🔗 Open", url=url),) if url else ()),)
    return Card(Doc.of(*lines), buttons, view.id)


def failure_note(view: CandidateView) -> Card:
    return Card(
        Doc.of(
            (
                Span(f"⚠️ Candidate #{view.id} could not be amplified: ", "bold"),
                Span(view.last_error or "unknown error", untrusted=True),
            ),
            "Retry it from its card once the platform is back, or check the platform by hand first "
            "when the card says it may have gone out.",
        )
    )


def resurfaced_note(candidate_id: int) -> Card:
    return Card(Doc.of((Span(f"⤵ Candidate #{candidate_id} was re-surfaced below.", "italic"),)))


HELP = Doc.of(
    (Span("Curators' console", "bold"),),
    "Every new candidate arrives here as a card: Approve, Reject or Snooze it with a tap.",
    "/queue — how many wait, and the oldest",
    "/stats — this week in numbers",
    "/freeze — stop all amplification at once (a pile-on, a mistake)",
    "/unfreeze — start again",
    "/block KIND VALUE [reason…] — keep an account, a server (domain), a DID or a keyword out "
    "of the queue; /unblock KIND VALUE lifts it",
    "/opportunity URL TITLE… — add an opportunity to the weekly digest",
    "/interview @handle Name… — invite a member to the mini-interview (you get a link to forward)",
    "/help — this message",
)


# -- the console service ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _CardRow:
    id: int
    candidate_id: int
    message_id: str | None
    delivery: str
    text_hash: str | None
    nudged: bool
    state_shown: str | None


class Console:
    """Runs as one of the app's services: sends and refreshes cards, handles taps and commands."""

    def __init__(
        self,
        front: ConsoleFront,
        store: Store,
        queue: Queue,
        amplifier: Amplifier,
        settings: Settings,
        clock: Clock,
        on_approved: Callable[[], None] = lambda: None,
    ) -> None:
        self.front = front
        self.store = store
        self.queue = queue
        self.amplifier = amplifier
        self.settings = settings
        self.clock = clock
        self.on_approved = on_approved
        self.timings = front.timings
        self.snooze = timedelta(hours=settings.curation.snooze_hours)
        self._poked = asyncio.Event()
        self.idle = asyncio.Event()  # set while the sync loop waits for its next pass
        # one lock per candidate while anyone holds it: sends, edits and nudges of a card in turn
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ctx = {"community": settings.community.slug, "platform": front.platform.value}

    # -- running ---------------------------------------------------------------------------------

    def poke(self) -> None:
        """New candidates may be waiting: look now rather than at the next sync."""
        self._poked.set()

    async def run(self, app: object = None, stop: asyncio.Event | None = None) -> None:
        """The service: taps and commands as they come, and a sync pass whenever poked or due."""
        await asyncio.to_thread(self._forget_unfinished_sends)
        await asyncio.to_thread(AlertOutbox(self.store).forget_unfinished)
        events = asyncio.create_task(self.serve_events(), name="console-events")
        try:
            await self._sync_forever()
        finally:
            events.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(events, *self._tasks, return_exceptions=True)

    async def run_once(self) -> None:
        """One pass for ``run --once``: send the cards that are due, refresh the changed ones."""
        await asyncio.to_thread(self._forget_unfinished_sends)
        while await self.sync():
            pass

    async def finish_events(self) -> None:
        """Wait for the taps and commands being applied (``run --once`` ends with them)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_events(self) -> None:
        """Taps and commands as they come, each applied in a task of its own."""
        while True:
            event = await self.front.next_event()
            task = asyncio.create_task(self.handle(event), name="console-event")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sync_forever(self) -> None:
        while True:
            self._poked.clear()
            more = False
            try:
                more = await self.sync()
            except Exception:  # a broken pass must not end the console; the next one retries
                log.exception("console sync failed", extra=self._ctx)
            if more:
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(self.timings.sync_every.total_seconds()))
            poked = asyncio.ensure_future(self._poked.wait())
            if not self._poked.is_set():
                self.idle.set()
            try:
                await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.idle.clear()
                sleeper.cancel()
                poked.cancel()

    async def handle(self, event: Tap | Command) -> None:
        """One tap or command; whatever goes wrong with it, the person who sent it is answered
        (and the error logged) and the console goes on with the next."""
        ok = False
        try:
            if isinstance(event, Tap):
                await self.on_tap(event)
            else:
                await self.on_command(event)
            ok = True
        except Exception as exc:
            log.exception("console event failed", extra=self._ctx)
            reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
            if isinstance(event, Tap) and hasattr(self.front, "settled"):
                # A front that reads a failed tap again retries it, and that attempt answers the
                # curator (a tap is answered once); the spinner stops by itself meanwhile.
                return
            try:
                if isinstance(event, Tap):
                    await self.front.answer(event, f"That did not work: {reason}", alert=True)
                else:
                    await self.front.reply(
                        event, Doc.of((Span("⚠️ That did not work: "), Span(reason, untrusted=True)))
                    )
            except Exception:  # the platform refused the answer too: the log has both
                log.exception("could not answer a console event", extra=self._ctx)
        finally:
            self._settle(event, ok=ok)

    def _settle(self, event: Tap | Command, *, ok: bool) -> None:
        """A front that confirms events to its platform only once applied (Telegram's update
        stream) learns the outcome here, first word counting; a failed one is read again."""
        settled = getattr(self.front, "settled", None)
        if settled is not None:
            settled(event, ok)

    def _lock(self, candidate_id: int) -> asyncio.Lock:
        lock = self._locks.get(candidate_id)
        if lock is None:
            lock = self._locks[candidate_id] = asyncio.Lock()
        return lock

    # -- who may act -----------------------------------------------------------------------------

    def curator_for(self, user: str) -> Curator | None:
        for curator in self.settings.curators:
            if curator.identities().get(self.front.platform) == user:
                return curator
        return None

    # -- taps --------------------------------------------------------------------------------------

    async def on_tap(self, tap: Tap) -> None:
        curator = self.curator_for(tap.user)
        if curator is None:
            log.info("tap by someone who is not a curator", extra={**self._ctx, "user": tap.user})
            await self.front.answer(tap, "Only the community's curators can decide.", alert=True)
            return
        now = self.clock.now()
        try:
            view = await asyncio.to_thread(self._decide, tap.verb, tap.candidate_id, curator.name, now)
        except QueueError as exc:
            await self.front.answer(tap, str(exc), alert=True)
            await self.refresh(tap.candidate_id)  # a stale card shows what really happened
            return
        log.info(
            "decided from the console",
            extra={**self._ctx, "candidate": view.id, "action": tap.verb, "curator": curator.name},
        )
        await self.front.answer(tap, _toast(view, tap.verb), alert=False)
        if view.state == CandidateState.APPROVED:
            self.on_approved()
        await self.refresh(tap.candidate_id)

    def _decide(self, verb: Verb, candidate_id: int, curator: str, now: datetime) -> CandidateView:
        if verb == "approve":
            return self.queue.approve(candidate_id, curator, now)
        if verb == "reject":
            return self.queue.reject(candidate_id, curator, now)
        if verb == "retry":
            return self.queue.retry(candidate_id, curator, now)
        return self.queue.snooze(candidate_id, curator, now + self.snooze, now)

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
        """Alerts about work that failed for good (bot.console.alerts), each sent at most once."""
        outbox = AlertOutbox(self.store)
        sent = 0
        for waiting in await asyncio.to_thread(outbox.waiting):
            if not await asyncio.to_thread(outbox.claim, waiting.id):
                continue
            card = Card(Doc.of((Span(waiting.text, untrusted=True),)))
            try:
                message = await self.front.send_card(card)
            except PlatformError as exc:
                delivery = "retry" if surely_undelivered(exc) else "unknown"
                await asyncio.to_thread(outbox.settle, waiting.id, delivery, self.clock.now())
                log.warning("alert not sent", extra={**self._ctx, "alert": waiting.key, "error": str(exc)})
                continue
            await asyncio.to_thread(outbox.settle, waiting.id, "sent", self.clock.now(), message)
            sent += 1
        return sent

    async def expire_overdue(self, now: datetime) -> int:
        ids = await asyncio.to_thread(self._overdue, now - self.timings.expire_after)
        expired = 0
        for cid in ids:
            try:
                await asyncio.to_thread(
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
        ids = await asyncio.to_thread(self._without_card, SEND_BATCH + 1)
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
                await asyncio.to_thread(self._card_failed, candidate_id, exc)
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
        """Send the card of one candidate, at most once; True if it was sent now."""
        async with self._lock(candidate_id):
            card_id = await asyncio.to_thread(self._claim_send, candidate_id)
            if card_id is None:
                return False
            version, view = await asyncio.to_thread(self._view, candidate_id)
            card = self._compose(view, nudged=False)
            try:
                message = await self.front.send_card(card)
            except PlatformError as exc:
                delivery = "retry" if surely_undelivered(exc) else "unknown"
                await asyncio.to_thread(self._set_delivery, card_id, delivery)
                log.warning(
                    "card not sent",
                    extra={**self._ctx, "candidate": candidate_id, "error": str(exc), "delivery": delivery},
                )
                return False
            await asyncio.to_thread(
                self._shown, card_id, view, version, card, self.clock.now(), message=message, sent=True
            )
            return True

    async def refresh_changed(self) -> None:
        for cid in await asyncio.to_thread(self._changed):
            try:
                await self.refresh(cid)
            except Exception:  # one card that cannot be redrawn must not hold the others
                log.exception("card could not be refreshed", extra={**self._ctx, "candidate": cid})

    async def refresh(self, candidate_id: int) -> None:
        """Edit the candidate's card in place if what it should show has changed."""
        async with self._lock(candidate_id):
            row = await asyncio.to_thread(self._card, candidate_id)
            if row is None or row.delivery != "sent" or row.message_id is None:
                return
            version, view = await asyncio.to_thread(self._view, candidate_id)
            card = self._compose(view, nudged=row.nudged)
            if card.fingerprint() != row.text_hash:
                try:
                    await self.front.edit_card(row.message_id, card)
                except NotFound:
                    await asyncio.to_thread(self._set_delivery, row.id, "gone")
                    return
                except PlatformError as exc:  # the version stays behind: the next pass tries again
                    log.warning(
                        "card not updated", extra={**self._ctx, "candidate": candidate_id, "error": str(exc)}
                    )
                    return
                if view.state == CandidateState.FAILED.value and row.state_shown != view.state:
                    await self._announce_failure(view, row.message_id)
            await asyncio.to_thread(self._shown, row.id, view, version, card, self.clock.now())

    async def _announce_failure(self, view: CandidateView, card_message: str) -> None:
        """An edited card makes no sound: a failure also gets a message of its own, under the
        card, so a curator notices and can retry (or check by hand)."""
        try:
            await self.front.send_card(failure_note(view), reply_to=card_message)
        except PlatformError as exc:  # the card itself says it; the next failure is announced again
            log.warning("failure not announced", extra={**self._ctx, "candidate": view.id, "error": str(exc)})

    async def nudge_waiting(self, now: datetime) -> int:
        """Re-surface, once, each candidate that has waited longer than ``nudge_after``."""
        nudged = 0
        for cid in await asyncio.to_thread(self._waiting_since, now - self.timings.nudge_after):
            async with self._lock(cid):
                row = await asyncio.to_thread(self._claim_nudge, cid, now)
                if row is None:
                    continue
                version, view = await asyncio.to_thread(self._view, cid)
                card = self._compose(view, nudged=True)
                try:
                    message = await self.front.send_card(card, reply_to=row.message_id)
                except PlatformError as exc:
                    if surely_undelivered(exc):
                        await asyncio.to_thread(self._unclaim_nudge, row.id)
                    log.warning("nudge not sent", extra={**self._ctx, "candidate": cid, "error": str(exc)})
                    continue
                await asyncio.to_thread(
                    self._shown, row.id, view, version, card, self.clock.now(), message=message, sent=True
                )
                nudged += 1
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

    # -- commands ----------------------------------------------------------------------------------

    async def on_command(self, command: Command) -> None:
        if command.name == "help":
            await self.front.reply(command, HELP)
            return
        curator = self.curator_for(command.user)
        if curator is None:
            await self.front.reply(command, Doc.of("Only the community's curators can do that."))
            return
        now = self.clock.now()
        if command.name == "queue":
            doc = await asyncio.to_thread(self._queue_summary, now)
        elif command.name == "stats":
            doc = await asyncio.to_thread(self.stats, now)
        elif command.name in ("freeze", "unfreeze"):
            doc = await asyncio.to_thread(self._freeze, curator.name, now, command.name == "freeze")
        elif command.name in ("block", "unblock"):
            doc = await asyncio.to_thread(self._block, curator.name, command, now)
        elif command.name == "interview":
            doc = await asyncio.to_thread(self._invite, curator.name, command.args, now)
        elif command.name == "opportunity":
            doc = await asyncio.to_thread(self._add_opportunity, curator.name, command.args, now)
        else:
            doc = HELP
        await self.front.reply(command, doc)

    def _block(self, curator: str, command: Command, now: datetime) -> Doc:
        """/block and /unblock: the runtime blocklist, as ``python -m bot block`` keeps it."""
        from bot.trust.safety import Blocklist, normalize  # the console is imported by the adapters: late

        kind, _, rest = command.args.strip().partition(" ")
        value, _, reason = rest.strip().partition(" ")
        if not kind or not value:
            return Doc.of(BLOCK_USAGE)
        blocklist = Blocklist(self.store, self.settings)
        try:
            value = normalize(kind, value)  # as it is stored and matched (lower-case, no @…)
            if command.name == "unblock":
                if not blocklist.remove(kind, value, curator, now):
                    return Doc.of(
                        (Span(f"{kind} "), Span(value, untrusted=True)),
                        "was not blocked here (a block in the config file stays until the file changes).",
                    )
                return Doc.of((Span("Unblocked", "bold"), Span(f": {kind} "), Span(value, untrusted=True)))
            new, withdrawn = blocklist.add(kind, value, curator, now, reason.strip() or None)
        except QueueError as exc:
            return Doc.of(f"⚠️ {exc}", BLOCK_USAGE)
        head = "🚫 Blocked" if new else "🚫 Already blocked"
        plural = "s" if withdrawn != 1 else ""
        left = f"{withdrawn} waiting candidate{plural} left the queue." if withdrawn else None
        return Doc.of(
            (Span(head, "bold"), Span(f" (by {curator}): {kind} "), Span(value, untrusted=True)),
            "Their posts no longer reach the queue.",
            left,
        )

    def _invite(self, curator: str, args: str, now: datetime) -> Doc:
        words = args.split()
        handle = words.pop(0) if words and words[0].startswith("@") else ""
        name = " ".join(words)
        if not name:
            return Doc.of("⚠️ Whom are we interviewing? Give their name after the handle.", INTERVIEW_USAGE)
        chat = InterviewChat(InterviewBook.of(self.store, self.settings), self.front.platform)
        try:
            interview, payload = chat.invite(
                name,
                handle=handle,
                language=self.settings.community.languages[0],
                invited_by=curator,
                now=now,
            )
        except SeriesError as exc:
            return Doc.of((Span("⚠️ Not invited: "), Span(str(exc), untrusted=True)), INTERVIEW_USAGE)
        log.info("interview invited from the console", extra={**self._ctx, "interview": interview.id})
        link = self.front.start_link(payload)
        head = (
            Span(f"🎙️ Interview #{interview.id} for ", "bold"),
            Span(interview.name, "bold", untrusted=True),
        )
        if link is None:  # a front without start links: the invitation to pass on by hand
            invitation = chat.book.message(interview.id, "interview_invite")
            return Doc.of(
                head,
                "Send them this invitation; import their answers with python -m bot interviews import.",
                (Span(invitation, untrusted=True),),
            )
        return Doc.of(
            head,
            "Forward this link to them: it opens a private chat with me, where I ask the questions "
            "one at a time. Then approve the text (interviews approve) and I ask them to confirm it.",
            (Span(link, url=link),),
        )

    def _add_opportunity(self, curator: str, args: str, now: datetime) -> Doc:
        url, _, title = args.strip().partition(" ")
        title = " ".join(title.split())
        if not url:
            return Doc.of("⚠️ Give the opportunity's link and title.", OPPORTUNITY_USAGE)
        if not title:
            return Doc.of("⚠️ The opportunity needs a title after its link.", OPPORTUNITY_USAGE)
        draft = OpportunityDraft(
            title=title, url=url, kind=guess_kind(title), submitted_by=curator, source="console"
        )
        try:
            added = OpportunityList(self.store).add(draft, now)
        except SeriesError as exc:
            return Doc.of((Span("⚠️ Not added: "), Span(str(exc), untrusted=True)), OPPORTUNITY_USAGE)
        o = added.opportunity
        head = (
            f"#{o.id} already had that link; merged what was new: "
            if added.merged
            else f"#{o.id} added for the next digest ({o.kind}): "
        )
        log.info(
            "opportunity from the console",
            extra={**self._ctx, "opportunity": o.id, "curator": curator, "merged": added.merged},
        )
        return Doc.of((Span(head, "bold"), Span(o.title, untrusted=True)), (Span(o.url, untrusted=True),))

    def _freeze(self, curator: str, now: datetime, frozen: bool) -> Doc:
        changed = self.amplifier.freeze(curator, now, frozen=frozen)
        if frozen:
            head = "🧊 Amplification is frozen" if changed else "🧊 Amplification was already frozen"
            return Doc.of(
                (Span(head, "bold"), Span(f" (by {curator})")),
                "Nothing is boosted, copied or spotlighted on any platform, and no scheduled series "
                "is published, until a curator sends /unfreeze.",
                "Decisions still count: approved posts wait. A digest or interview whose slot comes "
                "meanwhile goes out on /unfreeze if that is within its grace window.",
            )
        head = "▶️ Amplification is back on" if changed else "▶️ Amplification was not frozen"
        return Doc.of(
            (Span(head, "bold"), Span(f" (by {curator})")),
            "Approved posts go out at the usual pace, and the series on their schedule.",
        )

    def _queue_summary(self, now: datetime) -> Doc:
        counts = self.queue.counts()
        pending = self.queue.list(CandidateState.PENDING.value, limit=5)
        lines: list[Line | str | None] = [
            (Span("The queue", "bold"),),
            f"{counts.get('pending', 0)} pending, {counts.get('snoozed', 0)} snoozed, "
            f"{counts.get('approved', 0)} approved and waiting to go out",
        ]
        if self.amplifier.frozen:
            lines.append((Span("🧊 Amplification is frozen (/unfreeze to restart)", "bold"),))
        if pending:
            lines.append("Oldest first:")
        for c in pending:
            lines.append(
                (
                    Span(f"#{c.id} · {Platform(c.platform).value.capitalize()} · "),
                    Span(c.author_handle, untrusted=True),
                    Span(f" · waiting {duration(now - c.queued_at)}"),
                )
            )
        return Doc.of(*lines)

    def stats(self, now: datetime) -> Doc:
        """This week in numbers: seen, queued, approved, rejected, expired, amplified, and the
        median time from queue to decision."""
        since = now - timedelta(days=7)
        cid = self.store.community_id
        c, a = m.Candidate, m.Amplification
        decided = c.decided_at >= since
        with self.store.engine.connect() as conn:
            seen = conn.execute(
                select(func.count()).where(m.Post.community_id == cid, m.Post.seen_at >= since)
            ).scalar_one()
            queued = conn.execute(
                select(func.count()).where(c.community_id == cid, c.created_at >= since)
            ).scalar_one()
            by_state = {
                str(state): int(n)
                for state, n in conn.execute(
                    select(c.state, func.count()).where(c.community_id == cid, decided).group_by(c.state)
                )
            }
            amplified = conn.execute(
                select(func.count()).where(a.community_id == cid, a.state == "done", a.completed_at >= since)
            ).scalar_one()
            waits = [
                (done - created).total_seconds()
                for created, done, state in conn.execute(
                    select(c.created_at, c.decided_at, c.state).where(c.community_id == cid, decided)
                )
                if done is not None and state != CandidateState.EXPIRED.value
            ]
        approved = sum(by_state.get(s, 0) for s in ("approved", "amplified", "failed"))
        median = duration(timedelta(seconds=statistics.median(waits))) if waits else "—"
        return Doc.of(
            (Span("The last 7 days", "bold"),),
            f"seen: {seen} posts · queued: {queued}",
            f"approved: {approved} · rejected: {by_state.get('rejected', 0)} · "
            f"expired: {by_state.get('expired', 0)}",
            f"amplified: {amplified}",
            f"median time to a decision: {median}",
        )

    # -- the database (called in threads) ------------------------------------------------------------

    def _forget_unfinished_sends(self) -> None:
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
                _insert(conn, m.table(m.Card))
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


def _toast(view: CandidateView, verb: Verb) -> str:
    if verb == "approve" and view.state == CandidateState.PENDING:
        return f"Your approval is recorded: {view.approvals} of {view.approvals_required}."
    if verb == "approve":
        return "Approved: it goes out at the next turn."
    if verb == "reject":
        return "Rejected."
    if verb == "retry":
        return "Sent back: it is tried again at the next turn."
    return f"Snoozed until {when(view.snoozed_until)}." if view.snoozed_until else "Snoozed."
