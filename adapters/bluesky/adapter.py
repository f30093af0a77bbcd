"""The Bluesky adapter: the atproto SDK's async client and stream clients, composed of its
parts: the connection (``connection.py``: the session, budgeted calls, shared reads), watching
(``watching.py``: Jetstream, the firehose or search), writing (``writing.py``) and the reach
report (``reach.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.bluesky import richtext
from adapters.bluesky.connection import make_client as make_client
from adapters.bluesky.reach import BlueskyReach
from adapters.bluesky.session import SessionVault, session_key
from adapters.bluesky.settings import BlueskySettings
from adapters.bluesky.watching import BlueskyWatching
from adapters.bluesky.watching import Position as Position
from adapters.bluesky.writing import BlueskyWriting
from adapters.bluesky.xrpc import RateBudget
from bot.domain import Platform
from bot.inert import own_tags
from bot.ports import PlatformAdapter

if TYPE_CHECKING:
    from bot.config import Settings


class BlueskyAdapter(BlueskyWatching, BlueskyWriting, BlueskyReach, PlatformAdapter):
    platform = Platform.BLUESKY
    limits = richtext.LIMITS
    inert_rules = None  # facets declare every link, tag and mention: richtext.build keeps them inert
    amplify_is_idempotent = True  # the post view's viewer.repost, or our own record, says "done"


def create(settings: BlueskySettings, app: Settings) -> BlueskyAdapter:
    from bot.store.store import engine_for

    budget = RateBudget()
    client = make_client(settings.service_url, timeout=settings.request_timeout, budget=budget)
    vault = SessionVault(
        engine_for(app),
        app.community.slug,
        app.community.name,
        settings.account,
        session_key(settings.app_password, settings.account),
        own_engine=True,
    )
    adapter = BlueskyAdapter(
        client,
        settings,
        vault=vault,
        budget=budget,
        backfill=timedelta(hours=app.curation.max_age_hours),
        languages=app.community.languages,
        spellings=app.community.hashtags,
    )
    adapter.own_tags = own_tags(app)
    return adapter
