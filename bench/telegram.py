"""The curators' console on the Telegram emulator set to Telegram's real flood limits.

Latency, in real time (the real clock, the whole app running): a candidate is stored and the
console poked, as the watch does, and we time until its card is in the curators' chat; then a
curator taps Approve and we time until the card is edited to say so. One candidate at a time,
18 of them: what a curator sees on a normal day (a burst is the next figure's business).

Burst, in simulated time: 200 candidates are stored at once and the console sends their cards.
The pacer and the emulator's flood control share one simulated clock, which jumps to the next
moment anything waits for whenever the sender is waiting (a discrete-event run: minutes of
pacing take a second). ``burst_cards_per_minute`` is the most cards the emulator saw in any
60 simulated seconds; ``burst_429s`` counts its "Too Many Requests" answers (Telegram allows 20
a minute in a group; the emulator enforces that and answers 429 beyond it).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.registry import settings_class
from adapters.telegram.adapter import TelegramAdapter, build_application
from adapters.telegram.settings import TelegramSettings
from bench.registry import group
from bot.app import Coalesce
from bot.clock import Clock, SystemClock
from bot.config import Settings, parse
from bot.domain import Author, Platform, Post
from bot.schema import Environment
from bot.store.store import Item, make_engine
from sandbox.telegram import StoredMessage, TelegramSandbox

CURATORS = -1001000000001
ANA = 1001
LATENCY_SAMPLES = 18  # with the warm-up card, 19 fit in one minute of the group's limit (20): no pacing
BURST = 200


class SimClock:
    """Simulated time: ``sleep`` waits until ``advance_to_next`` reaches its deadline."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._heap: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.waiting = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self._now + timedelta(seconds=seconds), next(self._order), fut))
        self.waiting.set()
        await fut

    def advance_to_next(self) -> None:
        self.waiting.clear()
        while self._heap and self._heap[0][2].done():  # a sleep that was cancelled meanwhile
            heapq.heappop(self._heap)
        if not self._heap:
            return
        self._now = max(self._now, self._heap[0][0])
        while self._heap and self._heap[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._heap)
            if not fut.done():
                fut.set_result(None)


def settings() -> Settings:
    data = {
        "community": {"slug": "bench", "name": "Bench", "hashtags": ["LatinasInMedicine"]},
        "curators": [{"name": "ana", "telegram": ANA}],
        "amplify": {"max_per_hour": 3600, "burst": 100},
    }
    return parse(data, Environment({}), schemas=settings_class)


def sandbox(clock: Clock) -> TelegramSandbox:
    tg = TelegramSandbox(realistic_limits=True, clock=lambda: clock.now().timestamp()).start()
    tg.add_user(ANA, "Ana", "ana_md")
    tg.add_chat(CURATORS, "supergroup", "Curators", members=[ANA])
    return tg


def telegram(tg: TelegramSandbox, clock: Clock) -> TelegramAdapter:
    cfg = TelegramSettings(
        bot_token=tg.token,
        curator_chat_id=CURATORS,
        base_url=tg.bot_base_url,
        poll_timeout=5,
        sync_seconds=60,
    )
    return TelegramAdapter(build_application(cfg, clock), cfg, community="Bench")


def post(i: int, now: datetime) -> Post:
    author = Author(
        account_id=str(i % 50), handle=f"member{i % 50}@med.example", display_name=f"Member {i % 50}"
    )
    return Post(
        Platform.MASTODON,
        str(10**9 + i),
        f"https://med.example/@m/{i}",
        author,
        f"Post {i}: matched into residency! #LatinasInMedicine",
        now - timedelta(minutes=5),
        frozenset({"latinasinmedicine"}),
    )


def card_of(tg: TelegramSandbox, candidate_id: int) -> StoredMessage | None:
    found = [m for m in tg.messages(CURATORS, by_bot=True) if f"candidate #{candidate_id}\n" in m.text]
    return found[-1] if found else None


def approved(tg: TelegramSandbox, candidate_id: int) -> bool:
    card = card_of(tg, candidate_id)
    return card is not None and "Approved by ana" in card.text


def queue(app: Coalesce, i: int) -> int:
    (candidate,) = app.store.ingest(
        Platform.MASTODON, [Item(post(i, app.clock.now()))], app.clock.now()
    ).candidates
    for notify in app.on_change:
        notify()
    return candidate


async def latencies(db: str) -> tuple[list[float], list[float]]:
    clock = SystemClock()
    tg = sandbox(clock)
    adapters: dict[Platform, Any] = {Platform.TELEGRAM: telegram(tg, clock)}
    app = Coalesce(settings(), engine=make_engine(db), adapters=adapters, clock=clock, worker="bench")
    await app.start()
    stop = asyncio.Event()
    runner = asyncio.create_task(app.run(stop))
    cards, taps = [], []
    try:
        await tg.wait_for_async(lambda: tg.polls_waiting >= 1, 10)
        # One card first, not timed: the services' first passes at start-up (originals,
        # gatherings, the web poke) share the loop with it; the figure is the steady state.
        warm = queue(app, LATENCY_SAMPLES + 1_000)
        await tg.wait_for_async(lambda: card_of(tg, warm), 10)
        ids = []
        for i in range(LATENCY_SAMPLES):
            started = time.perf_counter()
            cid = queue(app, i)
            await tg.wait_for_async(lambda cid=cid: card_of(tg, cid), 10)
            cards.append(time.perf_counter() - started)
            ids.append(cid)
        for cid in ids:
            card = card_of(tg, cid)
            assert card is not None
            started = time.perf_counter()
            tg.user_taps(ANA, card, card.callback_data[0])
            await tg.wait_for_async(lambda cid=cid: approved(tg, cid), 10)
            taps.append(time.perf_counter() - started)
        assert tg.too_many_requests == 0
    finally:
        stop.set()
        await runner
        await app.stop()
        tg.stop()
    return cards, taps


async def burst(db: str) -> tuple[float, int, float]:
    clock = SimClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    tg = sandbox(clock)
    adapters: dict[Platform, Any] = {Platform.TELEGRAM: telegram(tg, clock)}
    app = Coalesce(settings(), engine=make_engine(db), adapters=adapters, clock=clock, worker="bench")
    await app.start()
    assert app.console is not None
    console = asyncio.create_task(app.console.run())
    try:
        await asyncio.wait_for(app.console.idle.wait(), 10)
        items = [Item(post(10_000 + i, clock.now())) for i in range(BURST)]
        app.store.ingest(Platform.MASTODON, items, clock.now())
        app.console.poke()
        while tg.sent_count(CURATORS) < BURST:
            # The sender waits for the group's window and nothing else is in flight: jump to then.
            await asyncio.wait_for(clock.waiting.wait(), 30)
            clock.advance_to_next()
    finally:
        console.cancel()
        await asyncio.gather(console, return_exceptions=True)
        await app.stop()
        tg.stop()
    stamps = sorted(c.at for c in tg.calls_to("sendMessage") if c.status == 200)
    busiest = max(sum(1 for t in stamps if start <= t < start + 60) for start in stamps)
    return float(busiest), tg.too_many_requests, (stamps[-1] - stamps[0]) / 60


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


@group(
    "telegram",
    [
        ("card_latency_p50_s", "s", "reported"),
        ("card_latency_p95_s", "s", "<= 1"),
        ("tap_latency_p50_s", "s", "reported"),
        ("tap_latency_p95_s", "s", "<= 1"),
        ("burst_cards_per_minute", "cards/min", "<= 20 (Telegram's group limit)"),
        ("burst_429s", "count", "0"),
        ("burst_minutes", "min", "reported (200 cards, simulated)"),
    ],
)
def measure() -> dict[str, float]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # PTB 22 on RetryAfter
    with tempfile.TemporaryDirectory() as tmp:
        cards, taps = asyncio.run(latencies(f"sqlite:///{Path(tmp) / 'latency.db'}"))
        busiest, too_many, minutes = asyncio.run(burst(f"sqlite:///{Path(tmp) / 'burst.db'}"))
    out: dict[str, Any] = {
        "card_latency_p50_s": round(statistics.median(cards), 3),
        "card_latency_p95_s": round(p95(cards), 3),
        "tap_latency_p50_s": round(statistics.median(taps), 3),
        "tap_latency_p95_s": round(p95(taps), 3),
        "burst_cards_per_minute": busiest,
        "burst_429s": too_many,
        "burst_minutes": round(minutes, 1),
    }
    return out
