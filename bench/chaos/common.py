"""What the chaos and soak runs share: the community's tag and rooms, the run's PostgreSQL
schema, what the driver did (``Made``), and the wall clock the workers live on."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from bot.domain import Platform

PG_ADMIN = os.environ.get("COALESCE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TAG = "LatinasInMedicine"
CHANNEL, COMMUNITY, CURATORS = -1002000000003, -1002000000002, -1002000000001
FAULT_RATE = 0.10


def say(text: str) -> None:
    print(f"  chaos: {text}", file=sys.stderr, flush=True)


def now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for the run, dropped afterwards."""
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


@dataclass
class Made:
    """What the driver did, to compare with what the bot and the platforms say afterwards."""

    posts: dict[str, tuple[Platform, str]] = field(default_factory=dict)  # text -> (platform, member)
    refs: dict[str, Any] = field(default_factory=dict)  # text -> the platform's handle on the post
    # member key -> when the bot was told (None: by mention, the bot's own record says when)
    opted_out: dict[str, datetime | None] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # texts whose post the author deleted
    blocked: set[str] = field(default_factory=set)  # member keys on a blocked server
    restarts: int = 0
    link_code: str | None = None
    decisions: Counter[str] = field(default_factory=Counter)
