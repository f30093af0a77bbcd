"""What the central account posts in the Telegram channel holds no command, mention, cashtag or
foreign hashtag a stranger typed, and no link (nor its preview) the member did not write as one:
"/start" in a name is not a command to tap, "evil.com" in a name is not linked and previewed.

Through python-telegram-bot against the Telegram sandbox, which finds entities in the text as
Telegram does (bare domains included) and keeps the preview options of each message.
"""

from __future__ import annotations

import html

import pytest

from bot.clock import FakeClock
from bot.domain import Action, Author, Platform, Post, normalize_tag
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram.conftest import CHANNEL, make_telegram
from tests.adapters.telegram.conftest import tg as tg
from tests.attacks.inert_hostile import COMMANDS, HANDLES, LINKS, TAGS

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

ALLOWED = {"latinasinmedicine"}
HOSTILE = " ".join(HANDLES + TAGS + COMMANDS + LINKS)
LIVE = {"mention", "text_mention", "bot_command", "cashtag", "email", "phone_number"}


def _check(message: object, our_links: set[str]) -> None:
    """No live entity but links written out with their scheme, our own links and our tags."""
    entities = message.entities  # type: ignore[attr-defined]
    assert not {e["type"] for e in entities} & LIVE
    text = message.text  # type: ignore[attr-defined]
    units = text.encode("utf-16-le")
    for e in entities:
        piece = units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        if e["type"] == "url":
            assert piece.startswith(("https://", "http://")), piece  # written as a link, by the member
        if e["type"] == "text_link":
            assert e["url"] in our_links
        if e["type"] == "hashtag":
            assert normalize_tag(piece) in ALLOWED, piece


async def test_a_spotlight_of_a_hostile_post_has_no_command_mention_or_bare_link(
    tg: TelegramSandbox, clock: FakeClock
) -> None:
    adapter = make_telegram(tg, clock, spotlight_on_channel=True)
    adapter.own_tags = frozenset(ALLOWED)
    await adapter.start()
    post = Post(
        Platform.MASTODON,
        "99",
        "https://med.example/@maria/99",
        Author("7", "maria@med.example", "evil.com /start @victim_md"),
        f"{HOSTILE} #LatinasInMedicine",
        clock.now(),
    )
    try:
        await adapter.amplify(post, Action.SPOTLIGHT)
        (card,) = tg.messages(CHANNEL)
        # The member's links are the only ones; the post's own address is ours.
        _check(
            card,
            {
                "https://med.example/@maria/99",
                "https://med.example/@victim",
                "https://med.example/tags/x#SpamTag",
                "https://med.example/",
            },
        )
        assert "evil.com /start @victim_md" in card.text.replace("\u2060", "")
        assert normalize_tag("#LatinasInMedicine") in {normalize_tag(t) for t in card.entity_texts("hashtag")}
    finally:
        await adapter.close()


@pytest.mark.parametrize("hostile", [HOSTILE, *HANDLES, *COMMANDS, *LINKS, *TAGS])
async def test_a_series_post_with_member_text_has_no_command_mention_or_bare_link(
    tg: TelegramSandbox, clock: FakeClock, hostile: str
) -> None:
    adapter = make_telegram(tg, clock)
    adapter.own_tags = frozenset(ALLOWED)
    await adapter.start()
    link = "https://grants.example.org/apply"
    # As a composer writes it for Telegram: the member's words escaped, our bold and our link.
    shown = html.escape(hostile, quote=False)
    text = f'<b>{shown}</b>\n<a href="{link}">grants.example.org/apply</a> #LatinasInMedicine'
    try:
        await adapter.publish_part(text)
        (message,) = tg.messages(CHANNEL, by_bot=True)
        _check(
            message,
            {
                link,
                "https://med.example/@victim",
                "https://med.example/tags/x#SpamTag",
                "https://med.example/",
            },
        )
        assert message.text.replace("\u2060", "").startswith(hostile.strip().replace("\u2060", ""))
        assert message.entity_texts("text_link") == ["grants.example.org/apply"]
    finally:
        await adapter.close()
