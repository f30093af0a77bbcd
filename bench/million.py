"""The report bench's million-post community as a SQLite file, seeded once and kept under
``.cache/bench`` so the benches that only read it (the web console's queue page) copy it in
seconds instead of seeding for minutes. The file's name carries a digest of the rows (the report
bench's code) and of ``SEED``; a copy is then brought to today's migrations by ``upgrade`` as any
deployment's store would be. ``.cache`` is shared by the worktrees of one machine, so older files
stay for whoever still has that code (delete them by hand)."""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path

from bench.report import END, Data, _seed_sqlite
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
SLUG = "bench"
SEED = "1"  # raise when _seed below changes what it makes


def _digest() -> str:
    h = hashlib.sha256(SEED.encode())
    h.update((ROOT / "bench" / "report.py").read_bytes())  # the rows and how they are written
    return h.hexdigest()[:16]


def _seed(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        store = Store.open(engine, SLUG, "Bench", END)
        _seed_sqlite(engine, Data(store.community_id))
    finally:
        engine.dispose()


def million_posts(into: Path) -> Path:
    """A private copy of the million-post store at ``into`` (a path to a file that does not exist
    yet), seeding the cached one first if there is none for today's code."""
    cached = CACHE / f"million-{_digest()}.db"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _seed(partial)
        partial.rename(cached)  # only a finished store is ever found under the final name
        print(f"  seeded the million-post store in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    shutil.copyfile(cached, into)
    return into
