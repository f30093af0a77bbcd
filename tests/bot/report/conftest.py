"""A small community with hand-countable numbers on Mastodon, Bluesky and Telegram (rows for the
last two go in through the store: their adapters are someone else's work in progress).

March 2026 is the period the tests report on. What each post is for is said beside it; the
expected figures are worked out in test_compute.py from this list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Author, CandidateState, Platform, Post
from bot.ports import Engagement
from bot.report.store import ReachStore
from bot.store import models as m
from bot.store.store import Item, Store
from tests.conftest import make_settings

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 4, 1, tzinfo=UTC)
TAG = "latinasinmedicine"
OTHER_TAG = "latinasenmedicina"  # the community's second hashtag


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def who(handle: str, account_id: str | None = None, **kw: object) -> Author:
    return Author(
        account_id=account_id or f"id-{handle}",
        handle=handle,
        display_name=handle.split("@")[0].split(".")[0].title(),
        **kw,  # type: ignore[arg-type]
    )


MARIA = who("maria@med.example")
HOSPITAL = who("hospital@med.example", is_group=True)  # an organisation by its platform flag
QUIET = who("quiet@med.example")  # opted out: counted, never listed
ELENA = who("elena@med.example")  # posted with the hashtag before March: not a new author
NINA = who("nina@med.example")  # never used the hashtag; a nomination of hers was amplified
COALESCE = who("coalesce@med.example")  # the central account on Mastodon
ROSA = who("rosa.bsky.social", "did:plc:rosa")
CLINIC = who("clinic.bsky.social", "did:plc:clinic")  # an organisation by the config list
LIM = who("lim.bsky.social", "did:plc:lim")  # the central account on Bluesky
TGMEMBER = who("@tgmember", "5001")


@dataclass
class Seeded:
    settings: Settings
    store: Store
    candidates: dict[str, int] = field(default_factory=dict)  # post key -> candidate id


def _post(
    key: str, platform: Platform, by: Author, created: datetime, tags: tuple[str, ...] = (TAG,), **kw: object
) -> Post:
    return Post(
        platform=platform,
        post_id=key,
        url=f"https://{platform.value}.example/{key}",
        author=by,
        text=f"post {key} " + " ".join("#" + t for t in tags),
        created_at=created,
        hashtags=frozenset(tags),
        **kw,  # type: ignore[arg-type]
    )


# (key, platform, author, created, tags, extra fields, queued as a candidate?)
POSTS: list[tuple[str, Platform, Author, datetime, tuple[str, ...], dict[str, object], bool]] = [
    ("e0", Platform.MASTODON, ELENA, at(10, month=2), (TAG,), {}, True),  # before March
    ("r0", Platform.BLUESKY, ROSA, at(12, month=2), ("other",), {}, False),  # no hashtag: Rosa stays new
    ("m1", Platform.MASTODON, MARIA, at(2), (TAG,), {}, True),
    ("m2", Platform.MASTODON, MARIA, at(9), (TAG,), {}, True),
    ("m3", Platform.MASTODON, COALESCE, at(3), (TAG,), {}, False),
    ("m4", Platform.MASTODON, HOSPITAL, at(10), (TAG,), {}, True),
    ("m5", Platform.MASTODON, QUIET, at(16), (TAG,), {}, False),
    ("m6", Platform.MASTODON, ELENA, at(20), (TAG,), {}, False),
    ("m7", Platform.MASTODON, NINA, at(5), ("other",), {}, True),  # nominated, no hashtag
    ("m8", Platform.MASTODON, MARIA, at(11), (TAG,), {"is_boost": True}, False),  # a boost: not a use
    ("m9", Platform.MASTODON, MARIA, at(1, 0, month=4), (TAG,), {}, False),  # just after the period
    ("m10", Platform.MASTODON, ELENA, at(25), (OTHER_TAG,), {}, False),
    ("m11", Platform.MASTODON, MARIA, at(26), (TAG + "x",), {}, False),  # another tag that starts alike
    ("b1", Platform.BLUESKY, ROSA, at(4), (TAG,), {}, True),
    ("b2", Platform.BLUESKY, LIM, at(11), (TAG,), {}, False),
    ("b3", Platform.BLUESKY, CLINIC, at(12), (TAG,), {}, False),
    ("t1", Platform.TELEGRAM, TGMEMBER, at(6), (TAG,), {}, True),
    ("t2", Platform.TELEGRAM, TGMEMBER, at(30), (TAG,), {}, False),
]

ENGAGEMENT = {
    ("m1", Platform.MASTODON): Engagement(likes=10, reposts=2, replies=1),
    ("m2", Platform.MASTODON): Engagement(likes=3),
    ("m3", Platform.MASTODON): Engagement(likes=5, reposts=5),
    ("m4", Platform.MASTODON): Engagement(likes=1),
    ("m5", Platform.MASTODON): Engagement(likes=50),
    ("m6", Platform.MASTODON): Engagement(),
    ("b1", Platform.BLUESKY): Engagement(likes=7, reposts=1, replies=2, quotes=3),
    ("b2", Platform.BLUESKY): Engagement(likes=2),
}

FOLLOWERS = {
    Platform.MASTODON: [
        (at(20, month=2), 100),
        (at(1), 110),
        (at(15), 130),
        (at(31), 150),
        (at(1, month=4), 160),
    ],
    Platform.BLUESKY: [(at(10), 40), (at(31), 50)],
}

# candidate key -> (curator decision, minutes after queueing) ; None: still pending
DECISIONS = {
    "e0": ("approve", 20 * 24 * 60),  # queued in February, decided in March: not this period's
    "m1": ("approve", 30),
    "m2": ("approve", 90),
    "m4": ("reject", 10),
    "m7": ("approve", 60),
    "b1": ("approve", 240),
    "t1": None,
}

# candidate key -> (amplification state, completed)
AMPLIFIED = {
    "e0": ("done", at(1, 12)),
    "m1": ("done", at(2, 11)),
    "m2": ("done", at(9, 12)),
    "m7": ("done", at(5, 13)),
    "b1": ("failed", None),
}


def seed(store: Store, settings: Settings) -> Seeded:
    seeded = Seeded(settings, store)
    reach = ReachStore(store)
    queue = Queue(store, settings)
    for key, platform, author, created, tags, extra, queued in POSTS:
        queued_at = created + timedelta(minutes=5)
        item = Item(
            _post(key, platform, author, created, tags, **extra),
            reason="nomination" if key == "m7" else "hashtag",
            skip=None if queued else "not_queued",
        )
        result = store.ingest(platform, [item], queued_at)
        if queued:
            seeded.candidates[key] = result.candidates[0]
    store.set_account_flags(Platform.MASTODON, QUIET.account_id, consent="out", source="command")
    store.set_account_flags(Platform.MASTODON, MARIA.account_id, consent="in", source="command")
    store.set_account_flags(Platform.BLUESKY, ROSA.account_id, consent="in", source="command")
    reach.set_central(Platform.MASTODON, COALESCE, SINCE)
    reach.set_central(Platform.BLUESKY, LIM, SINCE)
    for (key, platform), counts in ENGAGEMENT.items():
        reach.save_engagement(platform, {key: counts}, at(31))
    for platform, series in FOLLOWERS.items():
        for moment, count in series:
            reach.snapshot_followers(platform, count, moment)
    follows = {MARIA: True, HOSPITAL: False, ROSA: True, QUIET: True}
    for author, value in follows.items():
        platform = Platform.BLUESKY if author is ROSA else Platform.MASTODON
        reach.save_follows(platform, [author.account_id], {author.account_id: value}, at(31))
    for key, decision in DECISIONS.items():
        if decision is None:
            continue
        action, minutes = decision
        created = next(c for k, _, _, c, *_ in POSTS if k == key) + timedelta(minutes=5)
        decide = queue.approve if action == "approve" else queue.reject
        decide(seeded.candidates[key], "ana", created + timedelta(minutes=minutes))
    with store.engine.begin() as conn:
        for key, (state, completed) in AMPLIFIED.items():
            cid = seeded.candidates[key]
            conn.execute(
                m.table(m.Amplification)
                .insert()
                .values(
                    community_id=store.community_id,
                    candidate_id=cid,
                    platform="mastodon",
                    action="boost",
                    state=state,
                    started_at=completed or at(28),
                    completed_at=completed,
                )
            )
            done = CandidateState.AMPLIFIED if state == "done" else CandidateState.FAILED
            conn.execute(update(m.Candidate).where(m.Candidate.id == cid).values(state=done.value))
    return seeded


@pytest.fixture
def report_settings() -> Settings:
    return make_settings(directory__organisations=["clinic.bsky.social"])


@pytest.fixture
def seeded(store: Store, report_settings: Settings) -> Seeded:
    return seed(store, report_settings)
