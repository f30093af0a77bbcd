"""The web console under test: the real app served by uvicorn on a free loopback port (its store
on SQLite and on PostgreSQL, through the ``engine`` fixture), and Debian's chromium driven by
Playwright, with helpers to sign a curator in and to check a page with axe-core."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from adapters.registry import REGISTRY
from bot.clock import FakeClock
from bot.config import Settings
from bot.ops import web_access
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from bot.web.app import WebDeps, create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class _Server(uvicorn.Server):
    """uvicorn that says when it listens (an event to wait on, not a sleep)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@dataclass
class Console:
    """A running console: its address, its parts, and a way to make sign-in links."""

    url: str
    deps: WebDeps
    server: _Server

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def store(self) -> Store:
        return self.deps.store

    def link(self, curator: str, next_path: str | None = None) -> str:
        """A sign-in link made the way the bot makes one (``bot.ops.web_access``)."""
        result = web_access.sign_in_link(
            self.store, self.settings, curator, self.deps.clock.now(), next_path=next_path
        )
        assert result.ok, result.message
        assert result.data is not None
        return result.data.url

    def token(self, curator: str) -> str:
        return self.link(curator).rsplit("/", 1)[1].split("?", 1)[0]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def signed_in_client(self, curator: str) -> tuple[httpx.Client, str]:
        """An HTTP client signed in as ``curator`` and its session's form token."""
        client = self.client()
        page = client.get(f"/sign-in/{self.token(curator)}")
        visitor_csrf = _meta_csrf(page.text)
        token = _field(page.text, "token")
        answer = client.post("/sign-in", data={"csrf_token": visitor_csrf, "token": token, "next": "/"})
        assert answer.status_code == 303, answer.text
        return client, _meta_csrf(client.get("/health").text)


def _meta_csrf(html: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def serve(deps: WebDeps, sock: socket.socket) -> Iterator[Console]:
    app = create_app(deps)
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert server.ready.wait(30), "the console did not start"
    host, port = sock.getsockname()[:2]
    try:
        yield Console(f"http://{host}:{port}", deps, server)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _listening_socket() -> socket.socket:
    # IPPROTO_TCP named, so asyncio turns Nagle's algorithm off on the connections (it checks the
    # protocol); with 0 each small response waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


ConsoleFactory = Callable[..., Console]


@pytest.fixture
def console_factory(engine: Engine, clock: FakeClock) -> Iterator[ConsoleFactory]:
    """Starts consoles on the test's database: ``console_factory(**settings_overrides, secret=…)``.
    Several consoles on one database are several workers of one deployment (or, with another
    ``secret``, another deployment)."""
    stops: list[Iterator[Console]] = []

    def start(*, secret: str | None = None, **overrides: Any) -> Console:
        sock = _listening_socket()
        port = sock.getsockname()[1]
        web = {"base_url": f"http://127.0.0.1:{port}", **overrides.pop("web", {})}
        settings = make_settings(web=web, **overrides)
        store = Store.open(engine, settings.community.slug, settings.community.name, clock.now())

        def runner() -> SeriesRunner:  # the series as the pages see them, on the platform catalog
            return SeriesRunner(store, {}, settings, clock, worker="web", catalog=REGISTRY)

        running = serve(WebDeps(settings, store, clock, secret=secret, series_runner=runner), sock)
        stops.append(running)
        return next(running)

    yield start
    for running in reversed(stops):
        running.close()


@pytest.fixture
def console(console_factory: ConsoleFactory) -> Console:
    return console_factory()


# -- the browser ------------------------------------------------------------------------------------


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium is not installed at {CHROMIUM} (.ci/run installs it)"
    if not AXE.exists():
        return f"axe-core is not installed at {AXE} (run .ci/axe-setup.sh)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") or os.environ.get("COALESCE_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """What a page did that a test must see: dialogs opened (a script ran) and CSP refusals."""

    dialogs: list[str]
    csp_errors: list[str]
    page_errors: list[str]
    accept_dialogs: bool = False  # a test that confirms ("freeze now?") sets it


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(width=…)``: a page in a fresh context (own cookies), watched for dialogs, CSP
    refusals and script errors (``page.watched``)."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        watched = Watched([], [], [])

        def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(dialog.message)
            if watched.accept_dialogs:
                dialog.accept()
            else:
                dialog.dismiss()

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                watched.csp_errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
        page.watched = watched
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


def sign_in(page: Any, console: Console, curator: str, next_path: str | None = None) -> None:
    """Sign ``curator`` in the way a curator does: open the link from the bot, press Sign in."""
    page.goto(console.link(curator, next_path))
    page.click("#sign-in")
    page.wait_for_url(lambda url: "/sign-in" not in url)
    page.wait_for_selector(".who")
    assert curator in page.inner_text(".who")


def assert_accessible(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation, and no CSP refusal (so
    every script and style the page needs is a file the app serves)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = [v for v in violations if v.get("impact") in ("serious", "critical")]
    report = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"][:3]]}
        for v in bad
    ]
    assert not bad, json.dumps(report, indent=2)
    assert not page.watched.csp_errors, page.watched.csp_errors
