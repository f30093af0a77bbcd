"""The trust service: the platform side of consent and safety, worked by every worker.

Each round: the consent sweep (:meth:`ConsentRegistry.enforce`), the undos that are due
(unboost, delete repost or channel copy), the confirmations owed to members, and — every
``trust.recheck_minutes`` — a look at recently amplified posts to find those their authors
deleted, and a count of the replies from strangers to the posts still waiting for the curators
(a pile-on, flagged on their cards). It also gives the amplifier its last veto before each
amplification.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Settings
from bot.console.alerts import raise_alert
from bot.domain import OPEN_STATES, Action, Author, CandidateState, Platform, Post, Receipt
from bot.errors import PlatformError, RateLimited, Transient
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, _insert, to_domain
from bot.trust.consent import ConsentRegistry
from bot.trust.safety import Blocklist
from bot.trust.veto import LastLook, Verdict

if TYPE_CHECKING:
    from bot.app import Coalesce

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
UNDO_ATTEMPTS = 12
REPLY_ATTEMPTS = 8
REFUSED_ATTEMPTS = 3  # a platform that refuses outright is asked a few times more, with backoff
GIVEN_UP_PAUSE = timedelta(hours=6)  # an undo given up on (the curators alerted) is tried again then
PER_ROUND = 25
PILE_ON_DAYS = 3  # open candidates' posts this young have their replies counted
PILE_ON_BATCH = 10  # posts per platform per round (each costs a platform two requests or more)


@dataclass
class TrustReport:
    enforced: dict[str, int] = field(default_factory=dict)
    undone: int = 0
    undo_failed: int = 0
    replies: int = 0
    checked: int = 0
    gone: int = 0
    replies_counted: int = 0  # posts whose replies from strangers were counted
    piling_on: int = 0  # of those, how many reached the card's flag threshold this round
    interviews_withdrawn: int = 0  # interviews of members who opted out or were blocked
    replies_vetoed: int = 0  # answers to members the veto stopped (not their consent answers)


class TrustService:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        worker: str,
        consent: ConsentRegistry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self.worker = worker
        self.consent = consent or ConsentRegistry(store, settings)
        self.blocklist = Blocklist(store, settings, self.consent)
        # the one veto every way the account speaks passes (see bot.trust.veto)
        self.last_look = LastLook(store, settings, self.consent, self.blocklist)
        self.rng = rng or random.Random()
        # Told the database id of each post found deleted, after its undos are queued (digests
        # drop it there). Called in a worker thread.
        self.on_post_gone: list[Callable[[int], None]] = []
        self._next_recheck: datetime | None = None

    @property
    def cid(self) -> int:
        return self.store.community_id

    # -- the amplifier's last look -------------------------------------------------------------

    async def veto(self, candidate_id: int, post: Post) -> Verdict | None:
        return await asyncio.to_thread(self.verdict, candidate_id, post, self.clock.now())

    def verdict(self, candidate_id: int, post: Post, now: datetime) -> Verdict | None:
        return self.last_look.amplification(candidate_id, post, now)

    # -- one round -------------------------------------------------------------------------------

    async def run_once(self) -> TrustReport:
        report = TrustReport()
        report.enforced = await asyncio.to_thread(self.consent.enforce, self.clock.now())
        report.interviews_withdrawn = await asyncio.to_thread(self.last_look.sweep, self.clock.now())
        report.checked, report.gone = await self.recheck()
        report.replies_counted, report.piling_on = await self.count_stranger_replies()
        report.undone, report.undo_failed = await self.undo_due()
        report.replies = await self.deliver_replies()
        return report

    async def serve(self, app: Coalesce, stop: asyncio.Event) -> None:
        """The service ``run`` starts: a round every ``trust.cycle_seconds`` until stopped. A
        round that fails (the database restarting, say) is logged and the next one tries again."""
        while not stop.is_set():
            try:
                await self.run_once()
            except (PlatformError, SQLAlchemyError, OSError) as exc:
                log.warning("trust round failed; next round retries", extra={"error": str(exc)[:300]})
            except Exception:  # a bug: logged with its traceback, and the next round goes on
                log.exception("trust round failed unexpectedly; next round retries")
            await self.clock.sleep(self.settings.trust.cycle_seconds)

    # -- undos -------------------------------------------------------------------------------------

    async def undo_due(self, limit: int = PER_ROUND) -> tuple[int, int]:
        """Take back what is due; returns (done, given up). One platform refusing (rate limit,
        outage) holds only its own undos."""
        now = self.clock.now()
        u, x = m.Undo, m.Amplification
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(u.id, u.reason, u.attempts, x.id.label("amp"), x.platform, x.action, x.receipt_ref)
                .add_columns(x.receipt_url, x.candidate_id)
                .join(x, x.id == u.amplification_id)
                .where(
                    u.community_id == self.cid,
                    u.state == "pending",
                    or_(u.next_attempt_at.is_(None), u.next_attempt_at <= now),
                    or_(u.lease_until.is_(None), u.lease_until < now),
                )
                .order_by(u.requested_at, u.id)
                .limit(limit)
            ).all()
        done = failed = 0
        held: set[str] = set()
        for row in rows:
            try:
                outcome = await self._undo_one(row, now, held)
            except Exception as exc:  # bad data or a bug in one undo: it alone backs off
                log.exception("an undo failed unexpectedly", extra={"undo": row.id})
                outcome = "failed" if self._undo_failed(row, _untranslated(str(row.platform), exc)) else None
            done += outcome == "done"
            failed += outcome == "failed"
        return done, failed

    async def _undo_one(self, row: Any, now: datetime, held: set[str]) -> str | None:
        adapter = self.adapters.get(Platform(row.platform))
        if adapter is None or row.platform in held or not self._claim_undo(row.id, now):
            return None
        try:
            if row.receipt_ref:
                receipt = Receipt(
                    Platform(row.platform), Action(row.action), row.receipt_ref, row.receipt_url
                )
                await adapter.undo(receipt)
        except Exception as exc:
            error = exc if isinstance(exc, PlatformError) else _untranslated(row.platform, exc)
            if isinstance(exc, RateLimited):
                held.add(row.platform)
            return "failed" if self._undo_failed(row, error) else None
        self._undo_done(row)
        return "done"

    def _claim_undo(self, undo_id: int, now: datetime) -> bool:
        u = m.Undo
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(u)
                .where(
                    u.id == undo_id, u.state == "pending", or_(u.lease_until.is_(None), u.lease_until < now)
                )
                .values(lease_owner=self.worker, lease_until=now + LEASE)
            )
            return res.rowcount == 1

    def _undo_done(self, row: Any) -> None:
        now = self.clock.now()
        u, x, c = m.Undo, m.Amplification, m.Candidate
        with self.store.engine.begin() as conn:
            conn.execute(
                update(u)
                .where(u.id == row.id)
                .values(state="done", done_at=now, error=None, lease_owner=None, lease_until=None)
            )
            conn.execute(update(x).where(x.id == row.amp, x.state == "done").values(state="undone"))
            changed = conn.execute(
                update(c)
                .where(c.id == row.candidate_id, c.state == CandidateState.AMPLIFIED.value)
                .values(state=CandidateState.WITHDRAWN.value, version=c.version + 1, updated_at=now)
            ).rowcount
            if changed:
                conn.execute(
                    m.table(m.Decision)
                    .insert()
                    .values(
                        community_id=self.cid,
                        candidate_id=row.candidate_id,
                        curator="system",
                        action="undo",
                        reason=_UNDO_REASONS.get(row.reason, row.reason),
                        at=now,
                    )
                )
        log.info(
            "amplification taken back",
            extra={"community": self.settings.community.slug, "platform": row.platform, "reason": row.reason},
        )

    def _next_try(self, exc: PlatformError, attempts: int, limit: int) -> tuple[int, bool, float]:
        """(attempts so far, whether that was the last, seconds until the next): a rate limit is
        waited out without counting as a failure; otherwise exponential backoff with jitter."""
        if isinstance(exc, RateLimited):
            return attempts, False, exc.retry_after
        attempts += 1
        delay = min(3600.0, 30.0 * 2 ** (attempts - 1)) * (0.5 + self.rng.random())
        # A refusal is asked again a few times (platforms refuse for passing reasons too), then
        # given up: never every round forever.
        return attempts, attempts >= (limit if exc.retryable else min(limit, REFUSED_ATTEMPTS)), delay

    def _undo_failed(self, row: Any, exc: PlatformError) -> bool:
        """Schedule the next try; True when this was the last one."""
        now = self.clock.now()
        attempts, last, delay = self._next_try(exc, row.attempts, UNDO_ATTEMPTS)
        u = m.Undo
        with self.store.engine.begin() as conn:
            conn.execute(
                update(u)
                .where(u.id == row.id)
                .values(
                    state="failed" if last else "pending",
                    attempts=attempts,
                    error=str(exc)[:1000],
                    # given up: the sweep queues it again only after GIVEN_UP_PAUSE, never every round
                    next_attempt_at=now + (GIVEN_UP_PAUSE if last else timedelta(seconds=delay)),
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if last:
                raise_alert(
                    conn,
                    self.cid,
                    f"undo:{row.id}",
                    f"⚠️ Could not take back the {row.action} of candidate #{row.candidate_id} on "
                    f"{str(row.platform).capitalize()} after {attempts} tries: {str(exc)[:300]}. "
                    f"Please take it back by hand: {row.receipt_url or 'see the candidate'}",
                    now,
                )
        ctx = {"community": self.settings.community.slug, "platform": row.platform, "error": str(exc)}
        if last:
            log.error("could not take back an amplification; the curators are alerted", extra=ctx)
        else:
            log.warning("taking back an amplification failed; will retry", extra=ctx)
        return last

    # -- confirmations to members -------------------------------------------------------------

    async def deliver_replies(self, limit: int = PER_ROUND) -> int:
        now = self.clock.now()
        r, a = m.MemberRequest, m.Account
        with self.store.engine.begin() as conn:
            # A worker that died while sending leaves "sending" behind: its lease ran out.
            conn.execute(
                update(r)
                .where(r.community_id == self.cid, r.reply_state == "sending", r.reply_next_at < now)
                .values(reply_state="pending")
            )
            rows = conn.execute(
                select(r.id, r.platform, r.request_ref, r.reply_text, r.reply_attempts, r.kind, r.account_id)
                .add_columns(a.platform_account_id, a.handle, a.display_name)
                .join(a, a.id == r.account_id)
                .where(r.community_id == self.cid, r.reply_state == "pending", r.reply_next_at <= now)
                .order_by(r.id)
                .limit(limit)
            ).all()
        sent = 0
        held: set[str] = set()
        for row in rows:
            try:
                sent += await self._deliver_one(row, now, held)
            except Exception as exc:  # bad data or a bug in one answer: it alone backs off
                log.exception("an answer to a member failed unexpectedly", extra={"request": row.id})
                self._reply_failed(row, _untranslated(str(row.platform), exc))
        return sent

    async def _deliver_one(self, row: Any, now: datetime, held: set[str]) -> bool:
        r = m.MemberRequest
        adapter = self.adapters.get(Platform(row.platform))
        if adapter is None or row.platform in held or not self._claim_reply(row.id, now):
            return False
        # the last look, right before the platform call: consent answers always go
        verdict = await asyncio.to_thread(
            self.last_look.reply, row.kind, int(row.account_id), self.clock.now()
        )
        if verdict is not None:
            self._reply_vetoed(row, verdict)
            return False
        member = Author(account_id=row.platform_account_id, handle=row.handle, display_name=row.display_name)
        reply_to = None if row.request_ref.startswith("local:") else row.request_ref
        try:
            receipt = await adapter.send_direct(member, row.reply_text or "", reply_to=reply_to)
        except Exception as exc:
            if isinstance(exc, RateLimited):
                held.add(row.platform)
            self._reply_failed(
                row, exc if isinstance(exc, PlatformError) else _untranslated(row.platform, exc)
            )
            return False
        state = "sent" if receipt is not None else "unsupported"
        with self.store.engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.id == row.id)
                .values(reply_state=state, replied_at=self.clock.now(), reply_error=None)
            )
        return receipt is not None

    def _reply_vetoed(self, row: Any, verdict: Verdict) -> None:
        """Held (a freeze): back to pending until then. Stopped (opted out, blocked): never sent."""
        r = m.MemberRequest
        values: dict[str, Any] = {"reply_error": verdict.reason[:1000]}
        if verdict.until is not None:
            values.update(reply_state="pending", reply_next_at=verdict.until)
        else:
            values.update(reply_state="vetoed")
        with self.store.engine.begin() as conn:
            conn.execute(update(r).where(r.id == row.id).values(**values))
        log.info(
            "answer to a member " + ("held" if verdict.until is not None else "not sent"),
            extra={
                "community": self.settings.community.slug,
                "platform": row.platform,
                "reason": verdict.reason,
            },
        )

    def _claim_reply(self, request_id: int, now: datetime) -> bool:
        r = m.MemberRequest
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(r)
                .where(r.id == request_id, r.reply_state == "pending")
                .values(reply_state="sending", reply_next_at=now + LEASE)
            )
            return res.rowcount == 1

    def _reply_failed(self, row: Any, exc: PlatformError) -> None:
        now = self.clock.now()
        attempts, last, delay = self._next_try(exc, row.reply_attempts, REPLY_ATTEMPTS)
        r = m.MemberRequest
        with self.store.engine.begin() as conn:
            conn.execute(
                update(r)
                .where(r.id == row.id)
                .values(
                    reply_state="failed" if last else "pending",
                    reply_attempts=attempts,
                    reply_error=str(exc)[:1000],
                    reply_next_at=now + timedelta(seconds=delay),
                )
            )
            if last:
                raise_alert(
                    conn,
                    self.cid,
                    f"reply:{row.id}",
                    f"⚠️ Could not answer a member ({row.handle} on {str(row.platform).capitalize()}, "
                    f"about {row.kind}) after {attempts} tries: {str(exc)[:300]}",
                    now,
                )
        log.warning(
            "could not confirm to a member"
            + ("; giving up, the curators are alerted" if last else "; will retry"),
            extra={"community": self.settings.community.slug, "platform": row.platform, "error": str(exc)},
        )

    # -- deleted originals ----------------------------------------------------------------------

    async def recheck(self) -> tuple[int, int]:
        """Every ``trust.recheck_minutes``: ask each platform about the amplified posts looked at
        longest ago (``trust.recheck_batch`` of them); take back what their authors deleted."""
        cfg = self.settings.trust
        now = self.clock.now()
        if not cfg.recheck_minutes or (self._next_recheck is not None and now < self._next_recheck):
            return 0, 0
        checked = gone_total = 0
        for platform, adapter in self.adapters.items():
            posts = await asyncio.to_thread(self._amplified_recently, platform, now)
            if not posts:
                continue
            self._next_recheck = now + timedelta(minutes=cfg.recheck_minutes)
            try:
                gone = await adapter.posts_gone([p for _, p in posts])
            except Exception as exc:  # nothing is taken back on a failed look: next round asks again
                log.warning(
                    "could not re-check amplified posts",
                    extra={"platform": platform.value, "error": str(exc)},
                )
                continue
            gone_pks = [pk for pk, p in posts if gone is not None and p.post_id in gone]
            await asyncio.to_thread(self._checked, [pk for pk, _ in posts], gone_pks, now)
            for pk in gone_pks:
                await asyncio.to_thread(self.post_gone, pk, now)
            checked += len(posts)
            gone_total += len(gone_pks)
        return checked, gone_total

    # -- pile-ons -------------------------------------------------------------------------------

    async def count_stranger_replies(self) -> tuple[int, int]:
        """Ask each platform how many accounts that don't follow the author replied to the posts
        of open candidates (pending or snoozed, posted in the last PILE_ON_DAYS), each post at
        most every ``trust.flags.pile_on_recheck_minutes``; store the counts. A card whose
        stranger_replies flag comes or goes gets its candidate's version bumped, so the console
        shows it again. Returns (posts counted, posts newly over the threshold)."""
        flags = self.settings.trust.flags
        if not flags.pile_on_recheck_minutes or not flags.stranger_replies:
            return 0, 0
        counted = flagged = 0
        for platform, adapter in self.adapters.items():
            now = self.clock.now()
            posts = await asyncio.to_thread(self._claim_pile_on_checks, platform, now)
            if not posts:
                continue
            try:
                counts = await adapter.stranger_replies([p for _, p, _ in posts])
            except Exception as exc:  # nothing changes on a failed look: the next interval asks again
                log.warning(
                    "could not count replies from strangers",
                    extra={"platform": platform.value, "error": str(exc)[:300]},
                )
                continue
            if counts is None:
                continue  # this platform cannot tell; the claim keeps it from asking every round
            known = [(pk, counts[p.post_id], before) for pk, p, before in posts if p.post_id in counts]
            flagged += await asyncio.to_thread(self._store_stranger_replies, known, now)
            counted += len(known)
        return counted, flagged

    def _claim_pile_on_checks(self, platform: Platform, now: datetime) -> list[tuple[int, Post, int | None]]:
        """The posts due a count on ``platform`` (never counted first, then the longest ago),
        each claimed by setting its ``replies_checked_at`` so two workers do not both ask.
        Returns (post pk, post, the count stored before)."""
        due = now - timedelta(minutes=self.settings.trust.flags.pile_on_recheck_minutes)
        p, c = m.Post, m.Candidate
        not_recent = or_(p.replies_checked_at.is_(None), p.replies_checked_at <= due)
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(p, m.Account)
                .join(m.Account, m.Account.id == p.account_id)
                .join(c, c.post_id == p.id)
                .where(
                    p.community_id == self.cid,
                    p.platform == platform.value,
                    p.deleted.is_(False),
                    p.created_at >= now - timedelta(days=PILE_ON_DAYS),
                    c.state.in_([s.value for s in OPEN_STATES]),
                    not_recent,
                )
                .order_by(p.replies_checked_at.is_not(None), p.replies_checked_at, p.id)
                .limit(PILE_ON_BATCH)
            ).all()
            found = [(post.id, to_domain(post, account), post.stranger_replies) for post, account in rows]
        claimed = []
        with self.store.engine.begin() as conn:
            for pk, post, before in found:
                res = conn.execute(update(p).where(p.id == pk, not_recent).values(replies_checked_at=now))
                if res.rowcount == 1:
                    claimed.append((pk, post, before))
        return claimed

    def _store_stranger_replies(self, counts: list[tuple[int, int, int | None]], now: datetime) -> int:
        """Store each post's count; bump the version of an open candidate whose card flag comes or
        goes with it. Returns how many posts newly reached the threshold."""
        threshold = self.settings.trust.flags.stranger_replies
        p, c = m.Post, m.Candidate
        reached = 0
        with self.store.engine.begin() as conn:
            for pk, count, before in counts:
                conn.execute(update(p).where(p.id == pk).values(stranger_replies=count))
                was = before is not None and before >= threshold
                if (count >= threshold) == was:
                    continue
                conn.execute(
                    update(c)
                    .where(c.post_id == pk, c.state.in_([s.value for s in OPEN_STATES]))
                    .values(version=c.version + 1, updated_at=now)
                )
                if not was:
                    reached += 1
                    log.info(
                        "many replies from accounts that don't follow the author",
                        extra={"community": self.settings.community.slug, "post": pk, "replies": count},
                    )
        return reached

    def _amplified_recently(self, platform: Platform, now: datetime) -> list[tuple[int, Post]]:
        """Posts to look up again: amplified lately, or behind an opportunity still listed."""
        cfg = self.settings.trust
        x, c, p, chk = m.Amplification, m.Candidate, m.Post, m.PostCheck
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(p, m.Account)
                .join(m.Account, m.Account.id == p.account_id)
                .outerjoin(chk, chk.post_id == p.id)
                .where(
                    p.community_id == self.cid,
                    p.platform == platform.value,
                    p.deleted.is_(False),
                    or_(
                        p.id.in_(
                            select(c.post_id)
                            .join(x, x.candidate_id == c.id)
                            .where(
                                x.community_id == self.cid,
                                x.state == "done",
                                x.completed_at >= now - timedelta(days=cfg.recheck_days),
                            )
                        ),
                        # a member's post behind an opportunity on the digest's list
                        p.id.in_(
                            select(c.post_id)
                            .join(m.Opportunity, m.Opportunity.candidate_id == c.id)
                            .where(m.Opportunity.community_id == self.cid, m.Opportunity.removed_at.is_(None))
                        ),
                    ),
                )
                .order_by(chk.checked_at.is_not(None), chk.checked_at, p.id)
                .limit(cfg.recheck_batch)
            ).all()
            return [(post.id, to_domain(post, account)) for post, account in rows]

    def _checked(self, pks: list[int], gone: list[int], now: datetime) -> None:
        with self.store.engine.begin() as conn:
            stmt = _insert(conn, m.table(m.PostCheck))
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["post_id"], set_={"checked_at": now}),
                [{"post_id": pk, "community_id": self.cid, "checked_at": now} for pk in pks],
            )
            if gone:
                conn.execute(
                    update(m.PostCheck)
                    .where(and_(m.PostCheck.post_id.in_(gone), m.PostCheck.gone_at.is_(None)))
                    .values(gone_at=now)
                )

    def post_gone(self, post_pk: int, now: datetime) -> None:
        """The author deleted the post: it leaves the queue and every place we amplified it."""
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Post).where(m.Post.id == post_pk).values(deleted=True))
            self.consent.withdraw(conn, m.Post.id == post_pk, "the author deleted the post", now)
            undos = self.consent.schedule_undos(conn, m.Post.id == post_pk, "deleted", "system", now)
        log.info(
            "amplified post deleted by its author",
            extra={"community": self.settings.community.slug, "post": post_pk, "undos": undos},
        )
        self._leave_digests(post_pk, now)
        for hook in self.on_post_gone:
            hook(post_pk)

    def _leave_digests(self, post_pk: int, now: datetime) -> None:
        """An opportunity taken from the deleted post goes off the digest's list (the series'
        own way of removing one, so a digest not yet published no longer names it)."""
        from bot.series.opportunities import OpportunityList

        o = m.Opportunity
        with self.store.engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(o.id)
                    .join(m.Candidate, m.Candidate.id == o.candidate_id)
                    .where(o.community_id == self.cid, m.Candidate.post_id == post_pk, o.removed_at.is_(None))
                ).scalars()
            )
        book = OpportunityList(self.store)
        for opportunity_id in ids:
            book.remove(opportunity_id, "system: the author deleted the post", now)


def _untranslated(platform: str, exc: Exception) -> Transient:
    log.error("an adapter let an error through untranslated", extra={"platform": platform}, exc_info=exc)
    return Transient(f"{platform}: {type(exc).__name__} (an error its adapter did not translate)")


_UNDO_REASONS = {
    "optout": "the member opted out: boost taken back",
    "deleted": "the author deleted the post: boost taken back",
    "frozen": "the curators froze this member: boost taken back",
    "blocked": "blocked: boost taken back",
}
