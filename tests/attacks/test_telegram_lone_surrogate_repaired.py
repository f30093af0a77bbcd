"""Text a platform library cannot parse is repaired before the library sees it, not lost.

A lone surrogate (JSON "\\ud800" without its pair) is valid JSON and a client can send it; Python
then holds a string python-telegram-bot cannot read entities from, and the whole message was
dropped. The Telegram adapter repairs each getUpdates page (lone surrogates to U+FFFD, one UTF-16
unit like the surrogate, so entity offsets still hold) before the library parses it. Mastodon and
Bluesky get the same text through the core's last check (``bot.sanitize``), held here too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from telegram import Update

from adapters.telegram.normalize import repair_text, to_post
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.domain import Platform
from bot.domain import normalize_tag as norm
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as world
from tests.adapters.telegram.conftest import COMMUNITY, CURATORS, MARIA, TAG, Harness, console_settings

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

tg = world.tg
masto = world.masto
harness_factory = world.harness_factory

LONE = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), LONE), max_size=40).map("".join)


def stored_texts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(m.Post.text).order_by(m.Post.id)).scalars())


async def test_a_message_with_a_lone_surrogate_is_queued_repaired(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, engine: Engine
) -> None:
    h: Harness = await harness_factory(run=False)
    tg.add_user(3999, "Ro\udc00sa", "rosa_md")  # in the name too
    tg.user_sends(MARIA, COMMUNITY, f"Passed \ud800 my boards #{TAG}")
    tg.user_sends(3999, COMMUNITY, f"\udfff\ud83d #{TAG} and more")  # a low then a high, unpaired
    report = await h.app.run_once()
    assert len(report.ingested[Platform.TELEGRAM].candidates) == 2
    assert stored_texts(engine) == [f"Passed \ufffd my boards #{TAG}", f"\ufffd\ufffd #{TAG} and more"]
    with engine.connect() as conn:
        tags = list(conn.execute(select(m.Post.hashtags)).scalars())
    assert tags == [norm(TAG), norm(TAG)]  # the entity after the surrogate still points at the tag
    shown = h.app.queue.list("pending")
    assert [v.author_name for v in shown] == ["María", "Ro\ufffdsa"]
    cards = [msg.text for msg in tg.messages(CURATORS, by_bot=True)]
    assert any(f"Passed \ufffd my boards #{TAG}" in c for c in cards)  # the card went out too
    assert tg.pending_updates == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=TEXT, after=TEXT, name=TEXT)
def test_any_lone_surrogates_parse_and_keep_the_tag(before: str, after: str, name: str) -> None:
    """Whatever surrogates surround it, the hashtag entity still finds the tag after repair."""
    text = f"{before} #{TAG} {after}"
    offset = len(f"{before} ".encode("utf-16-le", "surrogatepass")) // 2
    raw = {
        "update_id": 1,
        "message": {
            "message_id": 7,
            "date": 1_772_460_000,
            "chat": {"id": COMMUNITY, "type": "supergroup", "title": "LIM"},
            "from": {"id": MARIA, "is_bot": False, "first_name": name or "M"},
            "text": text,
            "entities": [{"type": "hashtag", "offset": offset, "length": len(TAG) + 1}],
        },
    }
    update = Update.de_json(repair_text(raw), None)
    assert update.message is not None
    post = to_post(update.message)
    assert norm(TAG) in post.hashtags
    assert post.text == _fixed(text)
    post.text.encode("utf-8")  # storable as it is
    post.author.display_name.encode("utf-8")


def _fixed(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(TEXT, lambda inner: st.lists(inner, max_size=4), max_leaves=12), key=TEXT)
def test_repair_touches_nothing_but_lone_surrogates(value: Any, key: str) -> None:
    def expected(v: Any) -> Any:
        return _fixed(v) if isinstance(v, str) else [expected(x) for x in v]

    assert repair_text(value) == expected(value)
    assert repair_text({key: value}) == {_fixed(key): expected(value)}  # keys too
    assert repair_text({"n": 5, "b": True, "x": None}) == {"n": 5, "b": True, "x": None}


async def test_the_same_text_from_mastodon_is_stored_repaired(
    masto: MastodonSandbox, engine: Engine, clock: FakeClock
) -> None:
    author = masto.add_account("maria", display_name="Mar\udbffía")
    masto.post(author, f"Passed \ud800 my boards #{TAG}", tags=[TAG])
    app = Coalesce(
        console_settings(),
        engine=engine,
        adapters={Platform.MASTODON: world.make_mastodon(masto, clock)},
        clock=clock,
        worker="surrogates",
    )
    await app.start()
    try:
        report = await app.run_once()
    finally:
        await app.stop()
    assert len(report.ingested[Platform.MASTODON].candidates) == 1
    [text] = stored_texts(engine)
    assert "\ud800" not in text
    assert text.startswith("Passed ")
    assert text.endswith(f"my boards #{TAG}")
