"""When each approved amplification is expected to go out: the amplifier's pacing (at most
``burst`` starts in ``burst`` intervals of an hourly budget, per platform; bot.curation.amplifier)
played forward over the approved candidates in the order the amplifier takes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.config import Settings
from bot.domain import CandidateState, Platform
from bot.store import models as m
from bot.store.store import Store


@dataclass(frozen=True)
class Waiting:
    """An approved candidate waiting for its paced turn."""

    candidate_id: int
    platform: Platform
    author_handle: str
    text: str
    url: str
    expected_at: datetime


def next_start(starts: list[datetime], at: datetime, burst: int, window: timedelta) -> datetime:
    """The first moment from ``at`` on when a start fits the sliding window (as
    ``Amplifier.next_slot`` decides it), given the ``starts`` before it, oldest first."""
    recent = [s for s in starts if s > at - window][-burst:]
    return at if len(recent) < burst else max(at, min(recent) + window)


def expected(store: Store, settings: Settings, now: datetime, *, limit: int = 2000) -> list[Waiting]:
    """Every approved candidate (oldest decision first, as the amplifier works them) with the time
    its platform's pacing lets it start, assuming nothing else is approved meanwhile."""
    c, p, a, x = m.Candidate, m.Post, m.Account, m.Amplification
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(c.id, p.platform, a.handle, p.text, p.url, c.next_attempt_at)
            .join(p, p.id == c.post_id)
            .join(a, a.id == p.account_id)
            .where(
                c.community_id == store.community_id,
                c.state == CandidateState.APPROVED.value,
                c.kind != "opportunity",
            )
            .order_by(c.decided_at, c.id)
            .limit(limit)
        ).all()
        platforms = {Platform(r.platform) for r in rows}
        windows = {
            pf: timedelta(seconds=3600.0 * settings.amplify.burst / settings.amplify.hourly_budget(pf))
            for pf in platforms
        }
        starts: dict[Platform, list[datetime]] = {
            pf: sorted(
                conn.execute(
                    select(x.started_at).where(
                        x.community_id == store.community_id,
                        x.platform == pf.value,
                        x.started_at > now - windows[pf],
                    )
                ).scalars()
            )
            for pf in platforms
        }
    out = []
    burst = settings.amplify.burst
    last: dict[Platform, datetime] = {}
    for r in rows:
        platform = Platform(r.platform)
        # The amplifier keeps order on a paced platform: nobody jumps the queue.
        earliest = max(now, r.next_attempt_at or now, last.get(platform, now))
        at = next_start(starts[platform], earliest, burst, windows[platform])
        starts[platform].append(at)
        last[platform] = at
        out.append(Waiting(r.id, platform, r.handle, r.text, r.url, at))
    return out
