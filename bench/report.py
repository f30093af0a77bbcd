"""The reach report and the curation queue at a big community's size: 1,000,000 posts by 50,000
members over two years, with engagement, candidates and amplifications, on SQLite and PostgreSQL.

Seeding goes straight through the database drivers (executemany on SQLite, COPY on PostgreSQL)
and is not timed. Timed: the report over the whole two years (every post: the worst case), and
``queue list`` as the command runs it (the listing, then the per-state counts it prints), each
the median of several runs; the last 12 months and 30 days are printed beside them.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from adapters.registry import settings_class
from bench.registry import group
from bot.config import Settings, parse
from bot.curation.queue import Queue
from bot.report.compute import build_report
from bot.schema import Environment
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine

POSTS = 1_000_000
MEMBERS = 50_000
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
REPORT_RUNS = 3
QUEUE_RUNS = 25
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TAG = "latinasinmedicine"
PLATFORMS = ("mastodon", "bluesky", "telegram")

Row = tuple[Any, ...]


def settings() -> Settings:
    return parse(
        {"community": {"slug": "bench", "name": "Bench", "hashtags": ["LatinasInMedicine"]}},
        Environment({}),
        schemas=settings_class,
    )


class Data:
    """The rows of the big community, made once (same seed, same community) for both backends."""

    def __init__(self, community_id: int) -> None:
        rng = random.Random(7)
        span = (END - START).total_seconds()
        c = community_id
        self.accounts: list[Row] = []
        for i in range(1, MEMBERS + 1):
            platform = PLATFORMS[0] if i % 10 < 6 else PLATFORMS[1] if i % 10 < 9 else PLATFORMS[2]
            seen = START + timedelta(seconds=rng.random() * span)
            known = rng.random() < 0.5
            consent = "out" if i % 50 == 0 else "in" if i % 5 == 0 else None
            self.accounts.append(
                (
                    i,
                    c,
                    platform,
                    f"acct-{i}",
                    f"member{i}@med{i % 40}.example",
                    f"Member {i}",
                    f"https://med{i % 40}.example/@member{i}",
                    False,
                    i % 20 == 0,
                    None,
                    seen,
                    seen,
                    consent,
                    "command" if consent else None,
                    False,
                    None,
                    None,
                    (rng.random() < 0.5) if known else None,
                    seen if known else None,
                )
            )
        self.central = [
            (c, "mastodon", "acct-1", "member1@med1.example", START),
            (c, "bluesky", "acct-2", "member2@med2.example", START),
        ]
        weights = [1.0 / (1 + (i % 997)) for i in range(MEMBERS)]  # a few post a lot, most a little
        authors = rng.choices(range(1, MEMBERS + 1), weights=weights, k=POSTS)
        self.posts: list[Row] = []
        self.candidates: list[Row] = []
        self.amplifications: list[Row] = []
        for pid, author in enumerate(authors, 1):
            platform = self.accounts[author - 1][2]
            created = START + timedelta(seconds=span * pid / POSTS)
            reply = pid % 19 == 0
            tags = TAG if pid % 20 else "other"
            self.posts.append(
                (
                    pid,
                    c,
                    platform,
                    f"p{pid}",
                    author,
                    f"https://{platform}.example/p/{pid}",
                    f"Post {pid}: grateful for this community #{TAG} and for every mentor who showed up",
                    tags,
                    created,
                    created,
                    reply,
                    pid % 97 == 0,
                    None,
                    "en",
                    None,
                    None,
                    None,
                    False,
                    *_engagement(pid),
                    created,
                )
            )
            if reply or author <= 2 or pid % 5 == 0:
                continue
            state, decided = _fate(rng, created)
            cid = len(self.candidates) + 1
            self.candidates.append(
                (
                    cid,
                    c,
                    pid,
                    "post",
                    "hashtag",
                    None,
                    state,
                    1 if state == "amplified" else 0,
                    1,
                    created,
                    decided or created,
                    None,
                    decided,
                    0,
                    None,
                    None,
                    None,
                    None,
                )
            )
            if state == "amplified":
                done = (decided or created) + timedelta(minutes=20)
                self.amplifications.append(
                    (
                        len(self.amplifications) + 1,
                        c,
                        cid,
                        platform,
                        "boost",
                        "done",
                        f"r{cid}",
                        None,
                        done,
                        done,
                        None,
                    )
                )
        self.snapshots: list[Row] = []
        day = START
        while day < END:
            n = int((day - START).days)
            self.snapshots.append((len(self.snapshots) + 1, c, "mastodon", day, 1500 + 3 * n, day))
            self.snapshots.append((len(self.snapshots) + 1, c, "bluesky", day, 200 + 2 * n, day))
            day += timedelta(days=1)


def _engagement(pid: int) -> tuple[int, int, int, int, int]:
    likes, reposts, replies, quotes = pid % 13, pid % 5, pid % 3, int(pid % 7 == 0)
    return likes, reposts, replies, quotes, likes + reposts + replies + quotes


def _fate(rng: random.Random, created: datetime) -> tuple[str, datetime | None]:
    roll = rng.random()
    decided = created + timedelta(minutes=rng.expovariate(1 / 240))
    if roll < 0.005:
        return "pending", None
    if roll < 0.30:
        return "amplified", decided
    if roll < 0.95:
        return "rejected", decided
    return "expired", decided


TABLES: list[tuple[str, str, Callable[[Data], list[Row]]]] = [
    (
        "accounts",
        "id, community_id, platform, platform_account_id, handle, display_name, url, is_bot, "
        "is_group, account_created_at, first_seen, last_seen, consent, consent_source, blocked, "
        "organisation, organisation_source, follows_central, follows_checked_at",
        lambda d: d.accounts,
    ),
    (
        "central_accounts",
        "community_id, platform, platform_account_id, handle, updated_at",
        lambda d: d.central,
    ),
    (
        "posts",
        "id, community_id, platform, platform_post_id, account_id, url, text, hashtags, created_at, "
        "seen_at, is_reply, is_boost, reply_to, language, content_warning, ref, skip_reason, deleted, "
        "likes, reposts, replies, quotes, engagement, engagement_at",
        lambda d: d.posts,
    ),
    (
        "candidates",
        "id, community_id, post_id, kind, reason, nominated_by, state, approvals, version, "
        "created_at, updated_at, snoozed_until, decided_at, attempts, next_attempt_at, last_error, "
        "lease_owner, lease_until",
        lambda d: d.candidates,
    ),
    (
        "amplifications",
        "id, community_id, candidate_id, platform, action, state, receipt_ref, receipt_url, "
        "started_at, completed_at, error",
        lambda d: d.amplifications,
    ),
    ("follower_snapshots", "id, community_id, platform, day, followers, taken_at", lambda d: d.snapshots),
]


def _sqlite_value(v: Any) -> Any:
    # As SQLAlchemy stores them on SQLite: naive UTC text with microseconds; booleans as 0/1.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _seed_sqlite(engine: Engine, data: Data) -> None:
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        for table, columns, rows in TABLES:
            marks = ", ".join("?" for _ in columns.split(","))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            for part in _parts(rows(data)):
                cur.executemany(sql, [tuple(_sqlite_value(v) for v in r) for r in part])
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()


def _seed_postgres(engine: Engine, data: Data) -> None:
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, columns, rows in TABLES:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for r in rows(data):
                    copy.write_row(r)
        raw.commit()
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def _parts(rows: list[Row], size: int = 50_000) -> Iterator[list[Row]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _medians(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall-clock seconds, and median CPU seconds of this process (for SQLite, which runs
    in-process, the work itself: it tells a busy machine apart from a slow report)."""
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def _measure(
    url: str, data_for: Callable[[int], Data], seed: Callable[[Engine, Data], None]
) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    cfg = settings()
    store = Store.open(engine, "bench", "Bench", START)
    t0 = time.perf_counter()
    seed(engine, data_for(store.community_id))
    name = url.split("?")[0].split("+")[0]
    print(f"  {name}: seeded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report = build_report(store, cfg, START, END)
    assert report.total.posts > 0.9 * POSTS, report.total
    whole, whole_cpu = _medians(lambda: build_report(store, cfg, START, END), REPORT_RUNS)
    year, _ = _medians(lambda: build_report(store, cfg, END - timedelta(days=365), END), REPORT_RUNS)
    month, _ = _medians(lambda: build_report(store, cfg, END - timedelta(days=30), END), REPORT_RUNS)
    queue = Queue(store, cfg)
    assert len(queue.list(limit=50)) == 50

    def queue_list() -> None:
        queue.list(None, limit=50)  # what `python -m bot queue list` reads and prints
        queue.counts()

    listing, listing_cpu = _medians(queue_list, QUEUE_RUNS)
    alone, _ = _medians(lambda: queue.list(None, limit=50), QUEUE_RUNS)
    print(
        f"  {name}: report over all {report.total.posts:,} posts {whole:.2f} s (cpu here {whole_cpu:.2f} s), "
        f"last 12 months {year:.2f} s, last 30 days {month:.2f} s; queue list {listing * 1000:.1f} ms "
        f"(cpu here {listing_cpu * 1000:.1f} ms; the listing alone {alone * 1000:.1f} ms, the rest is "
        f"the per-state counts); load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    engine.dispose()
    return {"report": whole, "queue": listing * 1000}


@group(
    "report",
    [
        ("report_1m_sqlite_s", "s", "<= 3"),
        ("report_1m_postgres_s", "s", "<= 3"),
        ("queue_list_1m_ms", "ms", "<= 50"),
    ],
)
def measure() -> dict[str, float]:
    made: dict[int, Data] = {}

    def data_for(community_id: int) -> Data:
        if community_id not in made:
            t0 = time.perf_counter()
            made[community_id] = Data(community_id)
            print(f"  generated the rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return made[community_id]

    with tempfile.TemporaryDirectory() as tmp:
        lite = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}", data_for, _seed_sqlite)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        pg = _measure(f"{PG_URL}?options=-csearch_path%3D{schema}", data_for, _seed_postgres)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return {
        "report_1m_sqlite_s": round(lite["report"], 2),
        "report_1m_postgres_s": round(pg["report"], 2),
        "queue_list_1m_ms": round(lite["queue"], 1),
    }
