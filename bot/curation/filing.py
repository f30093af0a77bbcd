"""Approved opportunity candidates are not boosted: they are filed on the opportunity list the
weekly digest is made from (merged with an entry that has their url), once the veto lets them.
One that cannot be filed (no usable link, a link the parser refuses) fails alone, saying why.

The amplifier's work on such candidates, so it lives with curation and calls the series' list
(bot.series.opportunities); the series never import curation's candidate work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.curation.candidate_work import CandidateWork, Outcome
from bot.domain import Action, Platform, Post
from bot.durable import run_sync
from bot.errors import SeriesError
from bot.series.opportunities import list_approved_opportunity
from bot.store.store import Store
from bot.trust.veto import Verdict


async def file_approved_opportunities(
    store: Store,
    work: CandidateWork,
    vetoed: Callable[[int, Post], Awaitable[Verdict | None]],
    now: datetime,
) -> list[Outcome]:
    """File every approved opportunity candidate that is due; return what happened to each."""
    outcomes = []
    for cid in await run_sync(work.due, now, opportunities=True):
        if not await run_sync(work.claim, cid, now):
            continue
        platform = Platform.MASTODON  # for the outcome only, until the post is read
        try:
            post = await run_sync(store.post_of_candidate, cid)
            platform = post.platform
            verdict = await vetoed(cid, post)
            if verdict is not None:
                await run_sync(work.set_aside, cid, verdict)
                continue
            added = await run_sync(list_approved_opportunity, store, cid, post, now)
        except SeriesError as exc:  # e.g. no usable link: the curators see why
            await run_sync(work.failed, cid, str(exc))
            outcomes.append(Outcome(cid, platform, Action.PUBLISH, False, str(exc)))
            continue
        except Exception as exc:  # one bad item fails alone; the others go on
            outcomes.append(await run_sync(work.failed_alone, cid, platform, exc))
            continue
        await run_sync(work.amplified, cid)
        how = "merged into" if added.merged else "added to the opportunities as"
        outcomes.append(Outcome(cid, post.platform, Action.PUBLISH, True, f"{how} #{added.opportunity.id}"))
    return outcomes
