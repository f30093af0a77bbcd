"""Ingest throughput: normalised posts through the filters and into the store, in batches of
10,000, on SQLite and PostgreSQL, next to a naive path that commits each post on its own."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from adapters.registry import settings_class
from bench.registry import group
from bot.config import Settings, parse
from bot.curation.pipeline import Pipeline
from bot.domain import Author, Batch, Platform, Post
from bot.schema import Environment
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine

BATCH = 10_000
NAIVE_SAMPLE = 500
ROUNDS = 3
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def settings() -> Settings:
    return parse(
        {"community": {"slug": "bench", "name": "Bench", "hashtags": ["LatinasInMedicine"]}},
        Environment({}),
        schemas=settings_class,
    )


def posts(n: int, start: int) -> list[Post]:
    """Believable traffic: 1 author in 10 posts again, some replies, tags in mixed case."""
    authors = [
        Author(account_id=str(i), handle=f"member{i}@med{i % 7}.example", display_name=f"Member {i}")
        for i in range(max(1, n // 10))
    ]
    out = []
    for i in range(start, start + n):
        out.append(
            Post(
                platform=Platform.MASTODON,
                post_id=str(10**12 + i),
                url=f"https://med.example/@m/{i}",
                author=authors[i % len(authors)],
                text=f"Post {i}: grateful for this community #LatinasInMedicine",
                created_at=NOW - timedelta(minutes=i % 600),
                hashtags=frozenset({"latinasinmedicine"}),
                is_reply=i % 9 == 0,
            )
        )
    return out


def _measure(url: str) -> tuple[float, float]:
    """(fast posts/s median over rounds, naive posts/s) on a fresh database at ``url``."""
    engine = make_engine(url)
    upgrade(engine)
    cfg = settings()
    store = Store.open(engine, "bench", "Bench", NOW)
    pipeline = Pipeline(cfg, store)
    rates = []
    for r in range(ROUNDS):
        batch = Batch(source="hashtag", cursor=str(r), posts=posts(BATCH, r * BATCH))
        t0 = time.perf_counter()
        result = pipeline.ingest(Platform.MASTODON, batch, NOW)
        rates.append(BATCH / (time.perf_counter() - t0))
        assert result.stored == BATCH, result
    sample = posts(NAIVE_SAMPLE, ROUNDS * BATCH)
    t0 = time.perf_counter()
    for p in sample:
        pipeline.ingest(Platform.MASTODON, Batch(source="hashtag", cursor=p.post_id, posts=[p]), NOW)
    naive = NAIVE_SAMPLE / (time.perf_counter() - t0)
    engine.dispose()
    return statistics.median(rates), naive


@group(
    "ingest",
    [
        ("ingest_sqlite_posts_per_s", "posts/s", ">= 10000"),
        ("ingest_postgres_posts_per_s", "posts/s", "reported"),
        ("ingest_vs_naive_ratio", "x", ">= 10"),
    ],
)
def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_fast, sqlite_naive = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        pg_fast, _ = _measure(f"{PG_URL}?options=-csearch_path%3D{schema}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return {
        "ingest_sqlite_posts_per_s": round(sqlite_fast),
        "ingest_postgres_posts_per_s": round(pg_fast),
        "ingest_vs_naive_ratio": round(sqlite_fast / sqlite_naive, 1),
    }
