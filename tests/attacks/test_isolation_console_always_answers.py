"""Console commands always answer: whatever a curator types after a command (Hypothesis draws
the text), the bot replies to that message in the curators' chat — and when something
unexpected breaks underneath (here the database loses a table), the answer is "That did not
work: <reason>", the error is logged, and the next command is answered as usual.

The real python-telegram-bot against the Bot API sandbox; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.clock import FakeClock
from bot.console.console import COMMANDS
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import ANA, Harness
from tests.adapters.telegram.test_console import answer_to

tg = telegram_world.tg
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

EXAMPLES = 150  # each one is a round trip through the sandbox and the paced curators' chat

# What a curator (or a careless paste) may put after a command: any text Telegram carries.
ARGS = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=120),
    st.sampled_from(
        [
            "https://grants.example.org:99999/apply Fellowship",
            "http://[::1 Broken",
            "account",
            "domain ..",
            "did:plc: x",
            "keyword",
            "@",
            "@maria",
            "%%% ---",
            "ftp://x.example Title",
        ]
    ),
)


def draw_commands() -> list[str]:
    """The command texts Hypothesis draws (its examples, collected to be sent one by one)."""
    drawn: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.sampled_from(COMMANDS), ARGS)
    @example("opportunity", "https://grants.example.org:99999/apply Fellowship")  # left no answer once
    @example("block", "domain ..")
    @example("interview", "@")
    def collect(name: str, args: str) -> None:
        drawn.append(f"/{name} {args}".rstrip())

    collect()
    return drawn


async def ask(h: Harness, tg: TelegramSandbox, command: str) -> str:
    h.clock.advance(seconds=4)  # the curators' chat takes under 20 messages a minute
    return await answer_to(tg, ANA, command)


async def test_every_command_text_gets_an_answer(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory()
    commands = draw_commands()
    assert len(commands) >= EXAMPLES // 2
    for command in commands:
        answer = await ask(h, tg, command)
        assert answer.strip(), command


async def test_an_unexpected_failure_is_answered_and_the_console_goes_on(
    harness_factory: Callable[..., Any],
    tg: TelegramSandbox,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h: Harness = await harness_factory()
    with h.engine.begin() as conn:  # the database loses a table under the console
        conn.execute(text("ALTER TABLE opportunities RENAME TO opportunities_lost"))
    try:
        answer = await ask(h, tg, "/opportunity https://becas.example.mx/inv Research scholarship")
        assert answer.startswith("⚠️ That did not work: OperationalError") or answer.startswith(
            "⚠️ That did not work: ProgrammingError"
        )
        assert "console event failed" in caplog.text
        assert "Curators' console" in await ask(h, tg, "/help")  # the next one is answered as usual
        assert "The queue" in await ask(h, tg, "/queue")
    finally:
        with h.engine.begin() as conn:
            conn.execute(text("ALTER TABLE opportunities_lost RENAME TO opportunities"))
