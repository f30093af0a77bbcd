"""Before a digest: each member behind a listed opportunity has her profile read now, as before a
boost (a #nobot added since counts). An opportunity whose author's profile cannot be read stays
out of this digest (fail closed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from bot.domain import Author, Platform
from bot.durable import run_sync
from bot.ports import PlatformAdapter
from bot.store import models as m
from bot.store.store import Store
from bot.trust.discovery import ProfileRule
from bot.trust.veto import profile_refusal, reads_profiles

log = logging.getLogger(__name__)


async def unread_authors(
    store: Store, adapters: Mapping[Platform, PlatformAdapter], rule: ProfileRule, listed: list[int]
) -> set[int]:
    """Read the profiles of the authors of the ``listed`` opportunities; an author whose profile
    now opts her out is marked so (the veto then keeps her out). Returns the ids of the
    opportunities whose author's profile could not be read."""
    authors = await run_sync(opportunity_authors, store, listed)
    unread: set[int] = set()
    for (platform, author), ids in authors.items():
        adapter = adapters.get(platform)
        if adapter is None:
            continue
        try:
            fresh = await adapter.fetch_author(author)
        except Exception as exc:  # fail closed: not in this digest; the next one looks again
            log.warning(
                "opportunity left out of the digest: the author's profile could not be read",
                extra={"platform": platform.value, "opportunities": ids, "error": str(exc)[:300]},
            )
            unread.update(ids)
            continue
        if fresh is None and reads_profiles(adapter):
            log.warning(
                "opportunity left out of the digest: the author's profile was not found",
                extra={"platform": platform.value, "opportunities": ids},
            )
            unread.update(ids)
        elif fresh is not None and profile_refusal(fresh, rule) is not None:
            await run_sync(
                store.set_account_flags, platform, author.account_id, consent="out", source="profile marker"
            )
    return unread


def opportunity_authors(store: Store, ids: list[int]) -> dict[tuple[Platform, Author], list[int]]:
    """The members behind the opportunities ``ids`` (those taken from their posts), each with the
    ids of hers."""
    o, c, p, a = m.Opportunity, m.Candidate, m.Post, m.Account
    if not ids:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(o.id, a.platform, a.platform_account_id, a.handle)
            .join(c, c.id == o.candidate_id)
            .join(p, p.id == c.post_id)
            .join(a, a.id == p.account_id)
            .where(o.community_id == store.community_id, o.id.in_(ids))
        ).all()
    out: dict[tuple[Platform, Author], list[int]] = {}
    for row in rows:
        key = (Platform(row.platform), Author(row.platform_account_id, row.handle))
        out.setdefault(key, []).append(int(row.id))
    return out
