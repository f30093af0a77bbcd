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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.config import Settings
from bot.domain import Action, Author, CandidateState, Platform, Post, Receipt
from bot.errors import MalformedPayload, PlatformError, RateLimited, SeriesError, Transient
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store, _insert
from bot.trust.consent import ConsentRegistry
from bot.trust.discovery import OPTED_OUT, ProfileRule, objection
from bot.trust.veto import FROZEN, Verdict, is_frozen, reads_profiles

__all__ = ["FROZEN", "Amplifier", "Outcome", "Verdict", "Veto", "is_frozen"]

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # far longer than one platform call with its timeout
# A post whose author (or quoted author) holds discovery back on their platform waits this long
# before its author's profile and consent are read again (an opt-in lets it go at the next look).
WITHHELD_HOLD = timedelta(hours=1)

# A last look before each amplification (consent, blocks, freeze…); None lets it through.
Veto = Callable[[int, Post], Awaitable[Verdict | None]]


@dataclass(frozen=True)
class Outcome:
    candidate_id: int
    platform: Platform
    action: Action
    ok: bool
    detail: str
    url: str | None = None


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
        self.vetoes: list[Veto] = []
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
        """Stop (``frozen=False``: restart) all amplification; True when that changed anything."""
        with self.store.engine.begin() as conn:
            before = conn.execute(
                select(m.Switch.enabled).where(
                    m.Switch.community_id == self.store.community_id, m.Switch.name == FROZEN
                )
            ).scalar()
            values = {"enabled": frozen, "changed_by": by, "changed_at": now}
            conn.execute(
                _insert(conn, m.table(m.Switch))
                .values(community_id=self.store.community_id, name=FROZEN, **values)
                .on_conflict_do_update(index_elements=["community_id", "name"], set_=values)
            )
        log.warning(
            "amplification frozen" if frozen else "amplification unfrozen",
            extra={"community": self.settings.community.slug, "by": by},
        )
        return bool(before) != frozen

    # -- pacing ------------------------------------------------------------------------------

    def next_slot(self, platform: Platform, now: datetime) -> datetime:
        """When the next amplification on ``platform`` may start (``now`` if it may already).

        A sliding window derived from the amplifications table itself, so it holds across
        restarts and across several workers: at most ``burst`` starts in ``burst`` intervals.
        """
        budget = self.settings.amplify.hourly_budget(platform)
        burst = self.settings.amplify.burst
        window = timedelta(seconds=3600.0 * burst / budget)
        with self.store.engine.connect() as conn:
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
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(m.Candidate.id)
                    .where(
                        m.Candidate.community_id == self.store.community_id,
                        m.Candidate.state == CandidateState.APPROVED.value,
                        or_(m.Candidate.next_attempt_at.is_(None), m.Candidate.next_attempt_at <= now),
                        (m.Candidate.kind == "opportunity")
                        if opportunities
                        else (m.Candidate.kind != "opportunity"),
                        or_(m.Candidate.lease_until.is_(None), m.Candidate.lease_until < now),
                    )
                    .order_by(m.Candidate.decided_at, m.Candidate.id)
                    .limit(limit)
                ).scalars()
            )

    def _claim(self, candidate_id: int, now: datetime) -> bool:
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(m.Candidate)
                .where(
                    m.Candidate.id == candidate_id,
                    m.Candidate.state == CandidateState.APPROVED.value,
                    or_(m.Candidate.lease_until.is_(None), m.Candidate.lease_until < now),
                )
                .values(lease_owner=self.worker, lease_until=now + LEASE, version=m.Candidate.version + 1)
            )
            return res.rowcount == 1

    def _release(self, candidate_id: int, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Candidate)
                .where(m.Candidate.id == candidate_id, m.Candidate.lease_owner == self.worker)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    version=m.Candidate.version + 1,
                    updated_at=self.clock.now(),
                    **values,
                )
            )

    async def list_opportunities(self, now: datetime) -> list[Outcome]:
        """Approved candidates of kind "opportunity" are not boosted: they join the opportunity
        list that the weekly digest is made from (merged with an entry that has their url), once
        the veto lets them. One that cannot be listed (no usable link, a link the parser
        refuses) fails alone, saying why."""
        from bot.series.opportunities import list_approved_opportunity

        outcomes = []
        for cid in [] if self.dry_run else self.due(now, opportunities=True):
            if not self._claim(cid, now):
                continue
            platform = Platform.MASTODON  # for the outcome only, until the post is read
            try:
                post = self.store.post_of_candidate(cid)
                platform = post.platform
                verdict = await self._vetoed(cid, post)
                if verdict is not None:
                    self._set_aside(cid, verdict)
                    continue
                added = list_approved_opportunity(self.store, cid, post, now)
            except SeriesError as exc:  # e.g. no usable link: the curators see why
                self._release(cid, state=CandidateState.FAILED.value, last_error=str(exc))
                outcomes.append(Outcome(cid, platform, Action.PUBLISH, False, str(exc)))
                continue
            except Exception as exc:  # one bad item fails alone; the others go on
                outcomes.append(self._failed_alone(cid, platform, exc))
                continue
            self._release(cid, state=CandidateState.AMPLIFIED.value, last_error=None, next_attempt_at=None)
            how = "merged into" if added.merged else "added to the opportunities as"
            outcomes.append(
                Outcome(cid, post.platform, Action.PUBLISH, True, f"{how} #{added.opportunity.id}")
            )
        return outcomes

    def _failed_alone(self, cid: int, platform: Platform, exc: Exception) -> Outcome:
        """Something unexpected went wrong with this candidate (bad data, a bug): it fails on its
        own, with the reason on its card, and the round goes on with the others."""
        reason = f"could not be handled: {type(exc).__name__}: {str(exc)[:300]}"
        log.error(
            "a candidate failed on its own",
            extra={"community": self.settings.community.slug, "candidate": cid, "error": reason},
            exc_info=exc,
        )
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(m.Candidate)
                    .where(m.Candidate.id == cid, m.Candidate.state == CandidateState.APPROVED.value)
                    .values(
                        state=CandidateState.FAILED.value,
                        last_error=reason,
                        next_attempt_at=None,
                        lease_owner=None,
                        lease_until=None,
                        version=m.Candidate.version + 1,
                        updated_at=self.clock.now(),
                    )
                )
        except Exception:  # the database itself failed: the lease runs out and the next round looks
            log.exception("could not record a candidate's failure", extra={"candidate": cid})
        return Outcome(cid, platform, Action.BOOST, False, reason)

    async def run_due(self) -> list[Outcome]:
        """Amplify every approved candidate that is due and fits the pacing; return what happened.
        Each candidate is handled on its own: whatever goes wrong with one fails it alone."""
        if self.frozen:
            return []
        now = self.clock.now()
        outcomes: list[Outcome] = await self.list_opportunities(now)
        held: set[Platform] = set()
        for cid in self.due(now):
            platform = Platform.MASTODON
            try:
                post = self.store.post_of_candidate(cid)
                platform = post.platform
                outcomes.extend(await self._one_candidate(cid, post, held))
            except Exception as exc:
                outcomes.append(self._failed_alone(cid, platform, exc))
        return outcomes

    async def _one_candidate(self, cid: int, post: Post, held: set[Platform]) -> list[Outcome]:
        targets = self.targets(post)
        # Spotlights ride along with a boost and never hold a platform's queue: a slow or
        # rate-limited spotlight platform must not delay boosts elsewhere.
        paced = {p for p, a in targets if a is not Action.SPOTLIGHT and not self._done(cid, p, a)}
        if paced & held:
            return []
        blocked = [p for p in paced if self.next_slot(p, self.clock.now()) > self.clock.now()]
        if blocked:
            held.update(blocked)  # keep order: nothing jumps the queue on a paced platform
            return []
        if not self._claim(cid, self.clock.now()):
            return []
        try:
            verdict = await self._vetted(cid, post)
        except PlatformError as exc:
            self._profile_unreadable(cid, exc)
            return []
        except Exception as exc:  # untranslated by its adapter: waited out like an outage
            log.exception("re-checking before amplifying failed unexpectedly", extra={"candidate": cid})
            self._profile_unreadable(cid, _untranslated(post.platform, exc))
            return []
        if verdict is not None:
            self._set_aside(cid, verdict)
            return []
        return await self._amplify(cid, post, targets)

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
            verdict = self._profile_verdict(post.platform, fresh or author, whose)
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

    def _profile_unreadable(self, cid: int, error: PlatformError) -> None:
        """Fail closed: nothing is amplified on consent read earlier. The candidate waits (with
        backoff) and is looked at again, its card saying why; after ``amplify.outage_hours``
        since approval it fails, saying why, for a curator to retry."""
        with self.store.engine.connect() as conn:
            tried, decided_at = conn.execute(
                select(m.Candidate.attempts, m.Candidate.decided_at).where(m.Candidate.id == cid)
            ).one()
        cfg = self.settings.amplify
        now = self.clock.now()
        reason = f"the author's profile could not be read ({error}); nothing is amplified until it is"
        if decided_at is not None and now - decided_at >= timedelta(hours=cfg.outage_hours):
            self._release(
                cid,
                state=CandidateState.FAILED.value,
                attempts=tried + 1,
                last_error=f"{reason}; gave up after {cfg.outage_hours:g} h",
                next_attempt_at=None,
            )
            log.error(
                "amplification gave up: profile unreadable", extra={"candidate": cid, "error": str(error)}
            )
            return
        if isinstance(error, RateLimited):
            delay = error.retry_after
        else:
            delay = min(cfg.backoff_max_seconds, cfg.backoff_seconds * 2**tried) * (0.5 + self.rng.random())
        self._release(
            cid,
            attempts=tried + 1,
            last_error=f"waiting: {reason}",
            next_attempt_at=now + timedelta(seconds=delay),
        )
        log.warning("amplification held: profile unreadable", extra={"candidate": cid, "error": str(error)})

    async def _vetoed(self, cid: int, post: Post) -> Verdict | None:
        for veto in self.vetoes:
            verdict = await veto(cid, post)
            if verdict is not None:
                return verdict
        return None

    def _set_aside(self, cid: int, verdict: Verdict) -> None:
        ctx = {"community": self.settings.community.slug, "candidate": cid, "reason": verdict.reason}
        if verdict.until is not None:
            self._release(cid, next_attempt_at=verdict.until, last_error=f"waiting: {verdict.reason}")
            log.info("amplification held", extra=ctx)
            return
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            res = conn.execute(
                update(m.Candidate)
                .where(m.Candidate.id == cid, m.Candidate.lease_owner == self.worker)
                .values(
                    state=CandidateState.WITHDRAWN.value,
                    lease_owner=None,
                    lease_until=None,
                    version=m.Candidate.version + 1,
                    updated_at=now,
                    decided_at=now,
                    next_attempt_at=None,
                )
            )
            if res.rowcount == 1:
                conn.execute(
                    m.table(m.Decision)
                    .insert()
                    .values(
                        community_id=self.store.community_id,
                        candidate_id=cid,
                        curator="system",
                        action="withdraw",
                        reason=verdict.reason,
                        at=now,
                    )
                )
        log.info("candidate withdrawn before amplifying", extra=ctx)

    async def _amplify(self, cid: int, post: Post, targets: list[tuple[Platform, Action]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failure: PlatformError | None = None
        for i, (platform, action) in enumerate(targets):
            if i > 0:  # the first platform call may have taken a while: look again before the next
                verdict = await self._vetoed(cid, post)
                if verdict is not None:
                    self._set_aside(cid, verdict)
                    return outcomes
            outcome, error = await self._one(cid, post, platform, action)
            if outcome is not None:
                outcomes.append(outcome)
            if error is not None:
                failure = error
                break
        if failure is None:
            self._release(cid, state=CandidateState.AMPLIFIED.value, last_error=None, next_attempt_at=None)
        else:
            self._schedule_retry(cid, failure)
        return outcomes

    async def _one(
        self, cid: int, post: Post, platform: Platform, action: Action
    ) -> tuple[Outcome | None, PlatformError | None]:
        adapter = self.adapters[platform]
        ctx = {"community": self.settings.community.slug, "platform": platform.value, "candidate": cid}
        row = self._intent(cid, platform, action)
        if row is not None and row["state"] == "done":
            return None, None
        if row is not None and row["state"] == "intent" and not adapter.amplify_is_idempotent:
            error = PlatformError(
                "interrupted during the platform call; check the platform before retrying by hand"
            )
            self._finish(row["id"], "failed", error=str(error))
            return Outcome(cid, platform, action, False, str(error)), _Final(str(error))
        if self.dry_run:
            log.info("dry run: would amplify", extra={**ctx, "url": post.url})
            return Outcome(cid, platform, action, True, "dry run"), _DryRun("dry run")
        amp_id = self._open_intent(cid, platform, action, row)
        try:
            receipt = await adapter.amplify(post, action)
        except PlatformError as exc:
            if not adapter.amplify_is_idempotent and isinstance(exc, Transient | MalformedPayload):
                # A timeout or a cut answer: the platform may have acted, and asking again would post
                # twice where nothing tells one copy from two. The curators check, as after a crash.
                error = _Final(f"{exc}; it may have gone out: check before retrying by hand")
                self._finish(amp_id, "failed", error=str(error))
                log.warning("amplification may or may not have happened", extra={**ctx, "error": str(exc)})
                return Outcome(cid, platform, action, False, str(error)), error
            self._finish(amp_id, "retry", error=str(exc))
            log.warning("amplification failed", extra={**ctx, "error": str(exc), "retryable": exc.retryable})
            return Outcome(cid, platform, action, False, str(exc)), exc
        except Exception as exc:  # an error its adapter let through untranslated: a bug, but retried
            log.exception("amplification failed unexpectedly", extra=ctx)
            error = _untranslated(platform, exc)
            self._finish(amp_id, "retry", error=str(error))
            return Outcome(cid, platform, action, False, str(error)), error
        self._finish(amp_id, "done", receipt=receipt)
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
                    _insert(conn, m.table(m.Amplification))
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

    def _schedule_retry(self, cid: int, error: PlatformError) -> None:
        if isinstance(error, _DryRun):
            self._release(cid)
            return
        spent = 0 if isinstance(error, RateLimited) else 1  # slowing down is not failing
        with self.store.engine.connect() as conn:
            tried, decided_at = conn.execute(
                select(m.Candidate.attempts, m.Candidate.decided_at).where(m.Candidate.id == cid)
            ).one()
        attempts = tried + spent
        cfg = self.settings.amplify
        # A platform that is down (or cuts us off) is waited out for a while, however many
        # attempts that takes: an outage of an hour must not fail the day's approvals. Other
        # errors (an answer we cannot read…) give up after max_attempts.
        outage = (
            isinstance(error, Transient)
            and decided_at is not None
            and self.clock.now() - decided_at < timedelta(hours=cfg.outage_hours)
        )
        if not error.retryable or (attempts >= cfg.max_attempts and not outage):
            self._release(
                cid,
                state=CandidateState.FAILED.value,
                attempts=attempts,
                last_error=str(error),
                next_attempt_at=None,
            )
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(m.Amplification)
                    .where(m.Amplification.candidate_id == cid, m.Amplification.state == "retry")
                    .values(state="failed")
                )
            log.error(
                "amplification gave up",
                extra={"community": self.settings.community.slug, "candidate": cid, "error": str(error)},
            )
            return
        if isinstance(error, RateLimited):
            delay = error.retry_after
        else:
            delay = min(cfg.backoff_max_seconds, cfg.backoff_seconds * 2 ** (attempts - 1))
            delay *= 0.5 + self.rng.random()  # jitter keeps workers and retries from marching in step
        self._release(
            cid,
            attempts=attempts,
            last_error=str(error),
            next_attempt_at=self.clock.now() + timedelta(seconds=delay),
        )

    def reconcile(self) -> int:
        """After a restart: free the leases this worker held when it died, and count the intent
        rows it left open. ``run_due`` then finishes those (see the module docstring)."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Candidate)
                .where(
                    m.Candidate.community_id == self.store.community_id,
                    m.Candidate.lease_owner == self.worker,
                )
                .values(lease_owner=None, lease_until=None, version=m.Candidate.version + 1)
            )
            return int(
                conn.execute(
                    select(func.count()).where(
                        m.Amplification.community_id == self.store.community_id,
                        m.Amplification.state == "intent",
                    )
                ).scalar_one()
            )


def _untranslated(platform: Platform, exc: Exception) -> Transient:
    return Transient(f"{platform.value}: {type(exc).__name__} (an error its adapter did not translate)")


class ProfileUnreadable(Transient):
    """The platform answered, but without the author's profile."""


class _Final(PlatformError):
    """Not to be retried automatically."""


class _DryRun(PlatformError):
    """Nothing was attempted; release the candidate untouched."""
