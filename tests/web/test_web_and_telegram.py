"""The web console and the Telegram console are one queue: a curator approves in the browser while
the bot runs (``run`` with ``web.enabled``, its console in the Telegram sandbox), and the Telegram
card of the same candidate is edited to say so. The bot runs on its own event loop in a thread,
as it would in its process; the browser is Playwright's chromium, driven from the test."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import web_access
from bot.store.store import Item
from sandbox.telegram import StoredMessage, TelegramSandbox
from tests.adapters.telegram.conftest import CURATOR_LIST, CURATORS, make_telegram
from tests.adapters.telegram.conftest import tg as tg
from tests.conftest import make_settings
from tests.factories import author, post

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")


class _Listening(logging.Handler):
    """Set when the console logs that it listens: the moment to open it (an event, not a poll)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "web console listening":
            self.ready.set()


@dataclass
class RunningBot:
    app: Coalesce
    loop: asyncio.AbstractEventLoop
    url: str
    tg: TelegramSandbox

    def queue(self, text: str) -> int:
        """A member's post stored as a candidate, as the watch does, and the bot told of it."""
        now = self.app.clock.now()
        found = self.app.store.ingest(
            Platform.MASTODON, [Item(post(text, now=now, by=author("maria@med.example")))], now
        )
        (candidate,) = found.candidates
        for notify in self.app.on_change:
            self.loop.call_soon_threadsafe(notify)
        return candidate

    def card(self, candidate: int, showing: str = "") -> StoredMessage:
        """The live Telegram card of ``candidate`` once it shows ``showing`` (10 s at most)."""

        def shown() -> StoredMessage | None:
            live = [
                m
                for m in self.tg.messages(CURATORS, by_bot=True, include_deleted=False)
                if f"candidate #{candidate}\n" in m.text and showing in m.text
            ]
            return live[-1] if live else None

        found: StoredMessage = self.tg.wait_for(shown, timeout=10)
        return found

    def link(self, curator: str) -> str:
        made = web_access.sign_in_link(self.app.store, self.app.settings, curator, self.app.clock.now())
        assert made.data is not None, made.message
        return made.data.url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def running_bot(engine: Engine, tg: TelegramSandbox, clock: FakeClock) -> Iterator[RunningBot]:
    port = _free_port()
    settings: Settings = make_settings(
        curators=CURATOR_LIST, web={"enabled": True, "port": port, "base_url": f"http://127.0.0.1:{port}"}
    )
    listening = _Listening()
    serve_log = logging.getLogger("bot.web.serve")
    serve_log.addHandler(listening)
    level = serve_log.level
    serve_log.setLevel(logging.INFO)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bot", daemon=True)
    thread.start()

    def on_loop(coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def make() -> tuple[Coalesce, asyncio.Event]:
        adapters = {Platform.TELEGRAM: make_telegram(tg, clock)}
        app = Coalesce(settings, engine=engine, adapters=adapters, clock=clock, worker="web-and-telegram")
        await app.start()
        return app, asyncio.Event()

    app, stop = on_loop(make())
    running = asyncio.run_coroutine_threadsafe(app.run(stop), loop)
    try:
        assert listening.ready.wait(30), "the web console did not start"
        tg.wait_for(lambda: tg.polls_waiting >= 1, timeout=30)  # the bot reads its update stream
        yield RunningBot(app, loop, f"http://127.0.0.1:{port}", tg)
    finally:
        loop.call_soon_threadsafe(stop.set)
        running.result(30)
        on_loop(app.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        serve_log.removeHandler(listening)
        serve_log.setLevel(level)


def test_approving_in_the_browser_edits_the_telegram_card(running_bot: RunningBot, page: Any) -> None:
    bot = running_bot
    cid = bot.queue("Matched into pediatric cardiology! #LatinasInMedicine")
    before = bot.card(cid)
    assert [b["text"] for b in before.buttons][:2] == ["✅ Approve", "❌ Reject"]
    page.goto(bot.link("ana"))
    page.click("#sign-in")
    page.wait_for_selector(".who")
    page.goto(f"{bot.url}/queue")
    page.click(f"#c-{cid} form[data-act=approve] button")
    page.wait_for_selector(f"#c-{cid}[data-state=approved]")
    after = bot.card(cid, "✅ Approved by ana")
    assert after.message_id == before.message_id  # the same card, edited in place
    assert "Approve" not in [b["text"] for b in after.buttons]  # decided: no more decision buttons
    assert bot.app.queue.show(cid).state in ("approved", "amplified", "failed")
