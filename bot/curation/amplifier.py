"""Turns approved candidates into boosts, once, at a pace the platforms and the audience accept.

For each (candidate, platform, action) the intent row is committed *before* the platform call
and completed after it. After a crash an intent row with no outcome is reconciled: adapters
whose amplification is idempotent (a Mastodon reblog) are simply asked again; the others are
reported to the curators instead of risking a second post.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.conference.model import conferences, open_at
from bot.config import Settings
from bot.curation.candidate_work import LEASE, CandidateWork, Outcome
from bot.curation.filing import file_approved_opportunities
from bot.domain import Action, Author, Platform, Post, Receipt
from bot.durable import Failure, perform, run_sync, untranslated
from bot.errors import PlatformError, Transient
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.trust.consent import ConsentRegistry
from bot.trust.discovery import OPTED_OUT, ProfileRule, objection
from bot.trust.freeze import FROZEN, freeze_account, is_frozen
from bot.trust.veto import Verdict, reads_profiles

__all__ = ["FROZEN", "LEASE", "Amplifier", "Outcome", "Verdict", "Veto", "is_frozen"]

log = logging.getLogger(__name__)

# A post whose author (or quoted author) holds discovery back on their platform waits this long
# before its author's profile and consent are read again (an opt-in lets it go at the next look).
WITHHELD_HOLD = timedelta(hours=1)

# A last look before each amplification (consent, blocks, freeze…); None lets it through.
Veto = Callable[[int, Post], Awaitable[Verdict | None]]
LastCheck = Callable[[int, Post, datetime], Verdict | None]


class Amplifier:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[Platform, PlatformAdapter],
        settings: Settings,
        clock: Clock,
        *,
        dry_run: bool = False,
        worker: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self.dry_run = dry_run
        self.worker = worker or uuid.uuid4().hex[:12]
        self.rng = rng or random.Random()
        self.work = CandidateWork(store, settings, clock, worker=self.worker, rng=self.rng)
        self.vetoes: list[Veto] = []
        #: The same vetoes read synchronously, right before each intent is written (in its thread).
        self.last_checks: list[LastCheck] = []
        self.rule = ProfileRule.of(settings)
        self.consent = ConsentRegistry(store, settings)

    def targets(self, post: Post) -> list[tuple[Platform, Action]]:
        """Where a candidate is amplified: on its own platform, by that platform's boost; and as a
        spotlight on every other platform whose adapter shows posts from elsewhere."""
        out = [(post.platform, Action.BOOST)] if post.platform in self.adapters else []
        out += [
            (platform, Action.SPOTLIGHT)
            for platform, adapter in self.adapters.items()
            if platform != post.platform and adapter.spotlights(post)
        ]
        return out

    # -- the curators' emergency stop ----------------------------------------------------------

    @property
    def frozen(self) -> bool:
        return is_frozen(self.store)

    def freeze(self, by: str, now: datetime, *, frozen: bool = True) -> bool:
        """Stop (``frozen=False``: restart) all amplification (bot.trust.freeze); True if changed."""
        return freeze_account(self.store, by, now, frozen=frozen, community=self.settings.community.slug)

    # -- pacing ------------------------------------------------------------------------------

    def next_slot(self, platform: Platform, now: datetime) -> datetime:
        """When the next amplification on ``platform`` may start (``now`` if it may already).

        A sliding window derived from the amplifications table itself, so it holds across
        restarts and across several workers: at most ``burst`` starts in ``burst`` intervals.
        """
        burst = self.settings.amplify.burst
        with self.store.engine.connect() as conn:
            # Conference mode: while one is open the pace may rise, within the platform's limits.
            busy = bool(open_at(conferences(conn, self.store.community_id), now))
            budget = self.settings.amplify.hourly_budget(platform, conference=busy)
            window = timedelta(seconds=3600.0 * burst / budget)
            starts = list(
                conn.execute(
                    select(m.Amplification.started_at)
                    .where(
                        m.Amplification.community_id == self.store.community_id,
                        m.Amplification.platform == platform.value,
                        m.Amplification.started_at > now - window,
                    )
                    .order_by(m.Amplification.started_at.desc())
                    .limit(burst)
                ).scalars()
            )
        if len(starts) < burst:
            return now
        return min(starts) + window

    # -- the work ----------------------------------------------------------------------------

    def due(self, now: datetime, limit: int = 100, *, opportunities: bool = False) -> list[int]:
        return self.work.due(now, limit, opportunities=opportunities)

    async def run_due(self) -> list[Outcome]:
        """Amplify every approved candidate that is due and fits the pacing; return what happened.
        Each candidate is handled on its own: whatever goes wrong with one fails it alone."""
        if await run_sync(is_frozen, self.store):
            return []
        now = self.clock.now()
        outcomes: list[Outcome] = []
        if not self.dry_run:
            outcomes += await file_approved_opportunities(self.store, self.work, self._vetoed, now)
        held: set[Platform] = set()
        for cid in await run_sync(self.work.due, now):
            platform = Platform.MASTODON
            try:
                post = await run_sync(self.store.post_of_candidate, cid)
                platform = post.platform
                outcomes.extend(await self._one_candidate(cid, post, held))
            except Exception as exc:
                outcomes.append(await run_sync(self.work.failed_alone, cid, platform, exc))
        return outcomes

    async def _one_candidate(self, cid: int, post: Post, held: set[Platform]) -> list[Outcome]:
        targets = self.targets(post)
        # Spotlights ride along with a boost and never hold a platform's queue: a slow or
        # rate-limited spotlight platform must not delay boosts elsewhere.
        paced = await run_sync(self._to_pace, cid, targets)
        if paced & held:
            return []
        blocked = await run_sync(self._blocked, paced)
        if blocked:
            held.update(blocked)  # keep order: nothing jumps the queue on a paced platform
            return []
        if not await run_sync(self.work.claim, cid, self.clock.now()):
            return []
        try:
            verdict = await self._vetted(cid, post)
        except PlatformError as exc:
            await run_sync(self.work.profile_unreadable, cid, exc)
            return []
        except Exception as exc:  # untranslated by its adapter: waited out like an outage
            log.exception("re-checking before amplifying failed unexpectedly", extra={"candidate": cid})
            await run_sync(self.work.profile_unreadable, cid, untranslated(post.platform.value, exc))
            return []
        if verdict is not None:
            await run_sync(self.work.set_aside, cid, verdict)
            return []
        return await self._amplify(cid, post, targets)

    def _to_pace(self, cid: int, targets: list[tuple[Platform, Action]]) -> set[Platform]:
        # Spotlights ride along with a boost and never hold a platform's queue (see above).
        return {p for p, a in targets if a is not Action.SPOTLIGHT and not self._done(cid, p, a)}

    def _blocked(self, paced: set[Platform]) -> list[Platform]:
        return [p for p in paced if self.next_slot(p, self.clock.now()) > self.clock.now()]

    async def _vetted(self, cid: int, post: Post) -> Verdict | None:
        """The last look before amplifying: the author's profile as it is *now* (a #nobot added
        since the post was queued counts), then the vetoes (consent, blocks, freeze). The vetoes
        come last, read from the database just before the intent row is written: an opt-out that
        lands while the profile is fetched (seconds, on a slow platform) is still seen.

        A profile that cannot be read is never taken as a yes: an error raises (the caller holds
        the candidate and looks again later), and a platform that can read profiles but finds
        none holds it too."""
        adapter = self.adapters.get(post.platform)
        for author, whose in zip(post.authors(), ("the author", "the quoted author"), strict=False):
            fresh = await adapter.fetch_author(author) if adapter is not None else None
            if fresh is None and adapter is not None and reads_profiles(adapter):
                raise ProfileUnreadable(f"{post.platform.value}: {whose}'s profile was not found")
            verdict = await run_sync(self._profile_verdict, post.platform, fresh or author, whose)
            if verdict is not None:
                return verdict
        return await self._vetoed(cid, post)

    def _profile_verdict(self, platform: Platform, profile: Author, whose: str) -> Verdict | None:
        """The profile rule (bot.trust.discovery) on the profile as just read (or, where the platform
        cannot read one, as stored: its platform signals still count)."""
        self.store.set_withheld(platform, profile)
        found = objection(
            self.rule,
            bio=profile.bio,
            withheld=profile.withheld,
            opted_in=bool(profile.withheld) and self._opted_in(platform, profile.account_id),
            whose=whose,
        )
        if found is None:
            return None
        if found.kind == OPTED_OUT:
            self.store.set_account_flags(platform, profile.account_id, consent="out", source="profile marker")
            return Verdict(found.reason)
        return Verdict(found.reason, until=self.clock.now() + WITHHELD_HOLD)

    def _opted_in(self, platform: Platform, account_id: str) -> bool:
        with self.store.engine.connect() as conn:
            pk = self.consent.account_pk(conn, platform, account_id)
            return pk is not None and self.consent.consent_of(conn, pk)["consent"] == "in"

    async def _vetoed(self, cid: int, post: Post) -> Verdict | None:
        for veto in self.vetoes:
            verdict = await veto(cid, post)
            if verdict is not None:
                return verdict
        return None

    async def _amplify(self, cid: int, post: Post, targets: list[tuple[Platform, Action]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failure: PlatformError | None = None
        for i, (platform, action) in enumerate(targets):
            if i > 0:  # the first platform call may have taken a while: look again before the next
                verdict = await self._vetoed(cid, post)
                if verdict is not None:
                    await run_sync(self.work.set_aside, cid, verdict)
                    return outcomes
            outcome, error = await self._one(cid, post, platform, action)
            if outcome is not None:
                outcomes.append(outcome)
            if isinstance(error, _SetAside):  # already set aside by the last look
                return outcomes
            if error is not None:
                failure = error
                break
        if failure is None:
            await run_sync(self.work.amplified, cid)
        elif isinstance(failure, _DryRun):
            await run_sync(self.work.release, cid)
        else:
            await run_sync(self.work.schedule_retry, cid, failure)
        return outcomes

    async def _one(
        self, cid: int, post: Post, platform: Platform, action: Action
    ) -> tuple[Outcome | None, PlatformError | None]:
        adapter = self.adapters[platform]
        ctx = {"community": self.settings.community.slug, "platform": platform.value, "candidate": cid}
        row = await run_sync(self._intent, cid, platform, action)
        if row is not None and row["state"] == "done":
            return None, None
        if row is not None and row["state"] == "intent" and not adapter.amplify_is_idempotent:
            error = PlatformError(
                "interrupted during the platform call; check the platform before retrying by hand"
            )
            await run_sync(self._finish, row["id"], "failed", error=str(error))
            return Outcome(cid, platform, action, False, str(error)), _Final(str(error))
        if self.dry_run:
            log.info("dry run: would amplify", extra={**ctx, "url": post.url})
            return Outcome(cid, platform, action, True, "dry run"), _DryRun("dry run")

        def failed(amp_id: int, failure: Failure) -> None:
            self._finish(amp_id, "failed" if failure.kind == "uncertain" else "retry", error=_said(failure))

        vetoed: list[Verdict] = []

        def intent() -> int | None:
            # The last look and the intent in one step off the loop: however long the worker
            # threads are busy, an opt-out, block or freeze that lands before the intent is seen.
            for check in self.last_checks:
                verdict = check(cid, post, self.clock.now())
                if verdict is not None:
                    vetoed.append(verdict)
                    return None
            return self._open_intent(cid, platform, action, row)

        done = await perform(
            intent,
            lambda _: adapter.amplify(post, action),
            lambda amp_id, receipt: self._finish(amp_id, "done", receipt=receipt),
            failed,
            platform=platform.value,
            idempotent=adapter.amplify_is_idempotent,
        )
        if done is None:  # the last look said no: nothing was asked of the platform
            await run_sync(self.work.set_aside, cid, vetoed[0])
            return None, _SetAside(vetoed[0].reason)
        if done.failure is not None:
            error = done.failure.error
            if done.failure.kind == "uncertain":
                # A timeout or a cut answer: the platform may have acted, and asking again would post
                # twice where nothing tells one copy from two. The curators check, as after a crash.
                error = _Final(_said(done.failure))
                log.warning(
                    "amplification may or may not have happened", extra={**ctx, "error": str(done.failure)}
                )
            else:
                log.warning(
                    "amplification failed", extra={**ctx, "error": str(error), "retryable": error.retryable}
                )
            return Outcome(cid, platform, action, False, str(error)), error
        receipt = done.result
        assert receipt is not None
        log.info(
            "amplified", extra={**ctx, "action": action.value, "url": receipt.url, "already": receipt.already}
        )
        return Outcome(
            cid, platform, action, True, "already done" if receipt.already else "done", receipt.url
        ), None

    def _done(self, cid: int, platform: Platform, action: Action) -> bool:
        row = self._intent(cid, platform, action)
        return row is not None and row["state"] == "done"

    def _intent(self, cid: int, platform: Platform, action: Action) -> dict[str, Any] | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(m.Amplification.id, m.Amplification.state).where(
                    m.Amplification.candidate_id == cid,
                    m.Amplification.platform == platform.value,
                    m.Amplification.action == action.value,
                )
            ).one_or_none()
        return dict(row._mapping) if row else None

    def _open_intent(self, cid: int, platform: Platform, action: Action, row: dict[str, Any] | None) -> int:
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            if row is not None:
                conn.execute(
                    update(m.Amplification)
                    .where(m.Amplification.id == row["id"])
                    .values(state="intent", started_at=now, error=None)
                )
                return int(row["id"])
            try:
                res = conn.execute(
                    dialect_insert(conn, m.table(m.Amplification))
                    .values(
                        community_id=self.store.community_id,
                        candidate_id=cid,
                        platform=platform.value,
                        action=action.value,
                        state="intent",
                        started_at=now,
                    )
                    .returning(m.Amplification.id)
                )
                return int(res.scalar_one())
            except IntegrityError:  # pragma: no cover - the lease makes this a two-worker race
                raise _Final("another worker is amplifying this candidate") from None

    def _finish(
        self, amp_id: int, state: str, *, receipt: Receipt | None = None, error: str | None = None
    ) -> None:
        values: dict[str, Any] = {"state": state, "completed_at": self.clock.now(), "error": error}
        if receipt is not None:
            values.update(receipt_ref=receipt.ref, receipt_url=receipt.url)
        with self.store.engine.begin() as conn:
            conn.execute(update(m.Amplification).where(m.Amplification.id == amp_id).values(**values))

    async def reconcile(self) -> int:
        """After a restart: free the leases this worker held when it died, and count the intent
        rows it left open. ``run_due`` then finishes those (see the module docstring). The
        database work runs in a worker thread, off the event loop."""
        return await run_sync(self.work.reconcile)


class ProfileUnreadable(Transient):
    """The platform answered, but without the author's profile."""


class _Final(PlatformError):
    """Not to be retried automatically."""


class _SetAside(PlatformError):
    """The last look stopped it right before the intent; the candidate is already set aside."""


class _DryRun(PlatformError):
    """Nothing was attempted; release the candidate untouched."""


def _said(failure: Failure) -> str:
    """What the amplification row and the card say about a failed call."""
    if failure.kind == "uncertain":
        return f"{failure.error}; it may have gone out: check before retrying by hand"
    return str(failure.error)
