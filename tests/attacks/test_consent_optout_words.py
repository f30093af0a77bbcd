"""The opt-out words are understood as people type them — any case, any Unicode dash or none,
"please" / "por favor" around them, emoji and punctuation after, Spanish — and always answered;
anything unclear sent to the bot gets the help text. Hypothesis over spellings (pure), then the
real python-telegram-bot and Mastodon.py on the sandboxes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.domain import Platform
from bot.store import models as m
from bot.trust import member_commands as cmd
from bot.trust.consent import HELP_TEXT
from tests.adapters.telegram.conftest import BEA, MARIA, SAM, Harness, harness_factory, tg
from tests.attacks.consent_world import World, masto, sky, world

__all__ = ["harness_factory", "masto", "sky", "tg", "world"]  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

DASHES = ["", " ", "-", "_", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63"]
OUT_WORDS = ["opt{d}out", "unsubscribe", "stop", "baja", "darme de baja", "dar de baja", "no compartir"]
IN_WORDS = ["opt{d}in", "alta", "darme de alta"]
BEFORE = ["", "please ", "por favor, ", "Por favor ", "pls "]
AFTER = [
    "",
    " please",
    " por favor",
    ", gracias",
    " thanks",
    "!",
    ".",
    "!!",
    " 🙏",
    " 🙏🏽",
    " 👩‍⚕️",
    "…",
    " 😊!",
]


def _cased(text: str, how: int) -> str:
    return [text, text.upper(), text.title(), text.swapcase(), text.capitalize()][how]


spelling = st.tuples(
    st.sampled_from(DASHES),
    st.sampled_from(BEFORE),
    st.sampled_from(AFTER),
    st.integers(min_value=0, max_value=4),
    st.sampled_from(["", "/", "@central ", "@central@med.example "]),
)


@settings(max_examples=200, deadline=None)
@given(word=st.sampled_from(OUT_WORDS), how=spelling)
def test_every_spelling_of_opting_out_is_an_opt_out(word: str, how: tuple[str, str, str, int, str]) -> None:
    dash, before, after, case, lead = how
    if lead == "/" and before:
        before = ""  # "/please optout" is nobody's way of typing it
    text = lead + _cased(before + word.format(d=dash) + after, case)
    assert cmd.parse(text) == (cmd.OPTOUT, None), text


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from(IN_WORDS), how=spelling)
def test_every_spelling_of_opting_in_is_an_opt_in(word: str, how: tuple[str, str, str, int, str]) -> None:
    dash, before, after, case, lead = how
    text = lead + _cased(before + word.format(d=dash) + after, case)
    assert cmd.parse(text) == (cmd.OPTIN, None), text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=120))
def test_any_text_reads_as_a_command_help_or_nothing(text: str) -> None:
    found = cmd.parse(text)
    assert found is None or found[0] in cmd.ALL_KINDS
    assert cmd.parse_private(text)[0] in cmd.ALL_KINDS
    if found is not None and found[0] in (cmd.OPTOUT, cmd.OPTIN):
        assert len(text) < 400  # a post that merely mentions opting out is not a command


@pytest.mark.parametrize(
    "text",
    [
        "I will never optout of this community, it is the best thing since residency",
        "@central this deserves a boost!",
        "stopping by to say the webinar was great",
    ],
)
def test_conversation_is_not_a_command(text: str) -> None:
    assert cmd.parse(text) is None


# -- through the real libraries -------------------------------------------------------------------


async def _member_says(h: Harness, user: int, text: str) -> str:
    """``user`` writes in private; once the update is stored the trust service answers."""
    asked = h.tg.user_sends(user, user, text)
    await h.tg.wait_for_async(lambda: h.tg.pending_updates == 0 and h.tg.polls_waiting >= 1)
    h.clock.advance(seconds=2)  # one private message a second per chat
    await h.app.trust.deliver_replies()

    def answer() -> str | None:
        for x in h.tg.messages(user, by_bot=True):
            if x.reply_to_message_id == asked.message_id:
                return str(x.text)
        return None

    found: str = await h.tg.wait_for_async(answer)
    return found


async def test_telegram_plain_words_opt_out_and_unclear_gets_help(
    harness_factory: Callable[..., Any],
) -> None:
    h: Harness = await harness_factory()
    assert "Done" in await _member_says(h, MARIA, "Opt–out please 🙏")  # no slash, an en dash
    with h.engine.connect() as conn:
        row = conn.execute(
            select(m.Account.consent).where(m.Account.platform_account_id == str(MARIA))
        ).scalar_one()
    assert row == "out"
    assert "Done" in await _member_says(h, BEA, "darme de baja, gracias")
    assert await _member_says(h, SAM, "/optout of what exactly") == HELP_TEXT
    assert "/optout" in await _member_says(h, SAM, "hello, who are you?")  # the chat's help


async def test_mastodon_words_and_a_direct_message_that_is_unclear(world: World) -> None:
    rosa = world.masto.add_account("rosa")
    lucia = world.masto.add_account("lucia")
    await world.round()
    world.mention(rosa, "OPT—OUT 🙏🏽")
    world.mention(lucia, "what is this account?", visibility="direct")
    await world.round()
    assert world.consent(Platform.MASTODON, str(rosa["id"])) == "out"
    assert "Done" in world.directs_to(rosa)[0]
    assert HELP_TEXT.split(":")[0] in world.directs_to(lucia)[0]
