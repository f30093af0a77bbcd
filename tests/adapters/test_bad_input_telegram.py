"""A corpus of broken and hostile Telegram updates fed through watch (one getUpdates answer built
byte by byte): no crash, each rejected update logged, the rest stored, and the stream goes on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import BEA, CHANNEL, COMMUNITY, MARIA, console_settings, make_telegram

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"
FIRST = 400_000_001  # below the sandbox's own update ids, so its later updates still come


@pytest.fixture
def tg(clock: FakeClock) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(clock=lambda: clock.now().timestamp()) as sandbox:
        members = [sandbox.add_user(MARIA, "María", "maria_md"), sandbox.add_user(BEA, "Bea", "bea_ms")]
        sandbox.add_chat(COMMUNITY, "supergroup", "Latinas in Medicine", members=members)
        sandbox.add_chat(CHANNEL, "channel", "Latinas in Medicine", username="lim_central")
        yield sandbox


def _message(n: int, text: Any, *, sender: Any = None, chat: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": 9000 + n,
        "date": 1_772_460_000,  # an hour before the tests' clock
        "chat": chat if chat is not None else {"id": COMMUNITY, "type": "supergroup", "title": "LIM"},
        "from": sender if sender is not None else {"id": MARIA, "is_bot": False, "first_name": "María"},
        "text": text,
        **extra,
    }


def _tagged(n: int, rest: str, **kw: Any) -> dict[str, Any]:
    """A message that opens with the hashtag, with the entity Telegram adds for it."""
    entity = {"type": "hashtag", "offset": 0, "length": len(TAG) + 1}
    return _message(n, f"#{TAG} {rest}", entities=[entity], **kw)


GOOD: list[dict[str, Any]] = [
    _tagged(1, "a" * 1_000_000),
    _tagged(2, "@@BYTES@@"),
    _tagged(
        3,
        "Matched!",
        sender={"id": BEA, "is_bot": False, "first_name": "Be\u202ea\u200b", "username": "bea\u200b_ms"},
    ),
    _tagged(4, "<b>hi</b><script>alert(1)</script><img src=x onerror=alert(2)>"),
    _tagged(5, " ".join(f"#tag{i}" for i in range(500))),
    _tagged(6, "🎉🩺💜👩🏽\u200d⚕️"),
]
# Broken inside the message: the update itself is well formed.
BROKEN_MESSAGES: list[dict[str, Any]] = [
    _message(13, 42),
    _message(14, f"chat is text #{TAG}", chat="community"),
    _message(15, f"sender is a list #{TAG}", sender=[1, 2]),
    _tagged(16, "no date", date=None),
    _message(
        17, f"entities out of range #{TAG}", entities=[{"type": "hashtag", "offset": 900, "length": 40}]
    ),
    _message(18, f"sender without id #{TAG}", sender={"is_bot": False, "first_name": "X"}),
    {"message_id": 9019},
]
# Broken envelopes: what Telegram itself never sends, but a proxy or a bug might.
BROKEN_UPDATES: list[Any] = [
    {"message": _message(10, f"no update id #{TAG}")},
    {"update_id": "abc", "message": _message(11, f"update id is text #{TAG}")},
    None,
    17,
]


def page(items: list[Any]) -> bytes:
    """A getUpdates answer holding ``items`` (messages get an update each, others go as they are)."""
    updates = [
        {"update_id": FIRST + i, "message": item} if isinstance(item, dict) and "message_id" in item else item
        for i, item in enumerate(items)
    ]
    body = json.dumps({"ok": True, "result": updates}, ensure_ascii=False).encode()
    return body.replace(b"@@BYTES@@", b"\xff\xfe\xc3\x28 broken bytes")


async def _through_watch(engine: Engine, tg: TelegramSandbox, clock: FakeClock, body: bytes) -> list[str]:
    app = Coalesce(
        console_settings(),
        engine=engine,
        adapters={Platform.TELEGRAM: make_telegram(tg, clock, curator_chat_id=None)},
        clock=clock,
        worker="bad-input",
    )
    await app.start()
    try:
        tg.faults.add(
            r"(?i)/getupdates$", Fault("raw", 200, body=body, headers={"Content-Type": "application/json"})
        )
        report = await app.run_once()
        assert Platform.TELEGRAM not in report.errors, report.errors
        # The stream goes on past it: a message written now is read on the next turn.
        tg.user_sends(MARIA, COMMUNITY, f"After the storm #{TAG}")
        after = await app.run_once()
        assert Platform.TELEGRAM not in after.errors, after.errors
    finally:
        await app.stop()
    with engine.connect() as conn:
        return list(conn.execute(select(m.Post.text)).scalars())


async def test_hostile_but_well_formed_messages_are_stored(
    engine: Engine, tg: TelegramSandbox, clock: FakeClock
) -> None:
    texts = await _through_watch(engine, tg, clock, page(GOOD))
    assert any("After the storm" in t for t in texts)
    assert len([t for t in texts if "After the storm" not in t]) == len(GOOD)
    assert all("\x00" not in t and len(t) <= 50_000 for t in texts)


# One update python-telegram-bot cannot parse is logged and skipped; the page's others, and
# the stream after it, go on.


async def test_a_broken_message_does_not_stall_the_stream(
    engine: Engine, tg: TelegramSandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    texts = await _through_watch(engine, tg, clock, page([GOOD[2], *BROKEN_MESSAGES, GOOD[3]]))
    assert any("After the storm" in t for t in texts)
    assert any("Matched!" in t for t in texts)  # its neighbours on the page
    assert any("alert(1)" in t for t in texts)
    skipped = [r for r in caplog.records if r.getMessage().startswith("skipped malformed")]
    # all but one: the hashtag entity out of range leaves a message with no hashtag, group chatter
    assert len(skipped) == len(BROKEN_MESSAGES) - 1


async def test_a_broken_update_envelope_does_not_stall_the_stream(
    engine: Engine, tg: TelegramSandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    texts = await _through_watch(engine, tg, clock, page([GOOD[2], *BROKEN_UPDATES, GOOD[3]]))
    assert any("After the storm" in t for t in texts)
    assert any("Matched!" in t for t in texts)  # its neighbours on the page
    assert any("alert(1)" in t for t in texts)
    skipped = [r for r in caplog.records if r.getMessage() == "skipped malformed update"]
    assert len(skipped) == len(BROKEN_UPDATES)


def bad_input_count() -> int:
    return len(GOOD) + len(BROKEN_MESSAGES) + len(BROKEN_UPDATES)
