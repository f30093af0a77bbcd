"""Shared fixtures: no network beyond loopback, databases on SQLite and PostgreSQL, settings."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text

from adapters.registry import settings_class
from bot.clock import FakeClock
from bot.config import Settings, parse
from bot.domain import Platform
from bot.ports import PlatformAdapter
from bot.schema import Environment
from bot.store.store import Store, make_engine
from sandbox.world import SandboxWorld
from tests.schema_template import is_migrated_postgres, lay_schema, migrated_postgres_url

if TYPE_CHECKING:
    from bot.app import Coalesce
# The reference atproto network, defined here once for every test. A session fixture imported
# into several conftest or test modules is a separate fixture in each, and each started a
# network of its own (five per run, each ~50 s to start and ~400 MB).
from tests.atproto_network.fixture import atproto_network as atproto_network
from tests.atproto_network.fixture import network_test_modules

# In CI the property tests draw the same examples on every run (a fixed seed per test), so a
# landing is judged on the code, not on the draw; on a developer's machine they search afresh.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("COALESCE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"tests may only reach loopback, not {host}")
    return _real_connect(self, address)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With --dist loadgroup, the modules with tests on the reference atproto network go to one
    xdist worker, so a parallel run starts one network (a Node process of ~400 MB that takes
    half a minute to start), not one per worker. Done here, in the controller, because
    pytest-xdist 3.8's own xdist_group marks are lost under pytest 9.2 (it renames a node id
    through an attribute pytest no longer reads)."""
    if config.getoption("dist", "no") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    network = network_test_modules(config.rootpath)

    class NetworkOnOneWorker(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.split("::", 1)[0] in network:
                return "atproto_network"
            return super()._split_scope(nodeid)

    return NetworkOnOneWorker(config, log)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@functools.cache
def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database on each backend. PostgreSQL gets a schema of its own per test; one for
    the ``engine`` fixture is already migrated (tests/schema_template.py)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coalesce.db'}"
        return
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not running")
    if "engine" in request.fixturenames:  # migrated anyway: the process's kept schema, emptied
        yield migrated_postgres_url(PG_ADMIN_URL)
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The test's database with the migrated schema, laid from this process's one migration run
    (tests/schema_template.py; tests/test_schema_template.py holds it equal to ``upgrade``'s)."""
    if not is_migrated_postgres(db_url):
        lay_schema(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


BASE_CONFIG: dict[str, Any] = {
    "community": {
        "slug": "lim",
        "name": "Latinas in Medicine",
        "hashtags": ["LatinasInMedicine", "LatinasEnMedicina"],
    },
    "curators": [
        {"name": "ana", "mastodon": "ana@med.example", "telegram": 1001},
        {"name": "rosa", "mastodon": "rosa@med.example"},
        {"name": "lucia"},
    ],
    "amplify": {"max_per_hour": 3600, "burst": 100},
}


def make_settings(**overrides: Any) -> Settings:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_CONFIG.items()}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        if key:
            data.setdefault(section, {})
            data[section] = {**data[section], key: value}
        else:
            data[section] = value
    return parse(data, Environment({"MASTODON_TOKEN": "sekrit-token-value"}), schemas=settings_class)


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def store(engine: Engine, settings: Settings, clock: FakeClock) -> Store:
    return Store.open(engine, settings.community.slug, settings.community.name, clock.now())


def build_world(clock: FakeClock, **options: Any) -> SandboxWorld:
    """The three sandboxes on the test's clock, built the one way (sandbox/world.py), Mastodon
    on ``med.example``; ``options`` go to :class:`SandboxWorld` (``mastodon={"token": ...}``...).
    A context manager: ``with build_world(clock) as world: ...``."""
    mastodon = {"domain": "med.example", **options.pop("mastodon", {})}
    return SandboxWorld(clock=clock.now, mastodon=mastodon, **options)


@pytest.fixture
def world_options() -> dict[str, Any]:
    """What :func:`sandbox_world` passes to :func:`build_world`; a module overrides it to change
    an account name or a token."""
    return {}


@pytest.fixture
def sandbox_world(clock: FakeClock, world_options: dict[str, Any]) -> Iterator[SandboxWorld]:
    """Mastodon, Bluesky and Telegram started together for one test, stopped after it."""
    with build_world(clock, **world_options) as world:
        yield world


class StartApp(Protocol):
    """What :func:`start_app` gives a test: build and start one app on the test's engine."""

    def __call__(
        self,
        settings: Settings,
        adapters: Mapping[Platform, PlatformAdapter],
        *,
        clock: FakeClock = ...,
        **kw: Any,
    ) -> Awaitable[Coalesce]: ...


@pytest.fixture
async def start_app(engine: Engine, clock: FakeClock) -> AsyncIterator[StartApp]:
    """Builds and starts Coalesce apps against the given adapters, on the test's engine and clock
    (another clock may be passed); afterwards cancels their tasks and closes their adapters."""
    from bot.app import Coalesce

    apps: list[Coalesce] = []

    async def build(
        settings: Settings,
        adapters: Mapping[Platform, PlatformAdapter],
        *,
        clock: FakeClock = clock,
        **kw: Any,
    ) -> Coalesce:
        app = Coalesce(settings, engine=engine, adapters=dict(adapters), clock=clock, **kw)
        await app.start()
        apps.append(app)
        return app

    yield build
    for app in apps:
        tasks = list(app._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for adapter in app.adapters.values():
            await adapter.close()
