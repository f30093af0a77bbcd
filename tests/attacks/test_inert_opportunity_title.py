"""An opportunity whose title, organisation and eligibility were written to make the central
account mention people and post foreign tags goes out on Mastodon, Bluesky and Telegram with
nothing live in it but the community's tags and the opportunity's own link.

Through the real libraries and the sandboxes: the Mastodon sandbox parses each status as
Mastodon does (the victims exist there, so a live mention would resolve), the Bluesky sandbox
keeps the facets the adapter wrote, the Telegram sandbox finds entities as Telegram does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.mastodon.normalize import html_to_text
from bot.clock import FakeClock
from bot.domain import normalize_tag
from bot.series.opportunities import OpportunityDraft, OpportunityList
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.attacks.inert_hostile import ALLOWED
from tests.attacks.inert_platforms import *  # noqa: F403 - the fixtures
from tests.bot.series.conftest import SLOT, central_statuses
from tests.bot.series.test_all_platforms import CHANNEL, bluesky_thread

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TITLE = "Fellowship @victim@med.example @victim.test #SpamTag"
ORGANISATION = "victim.com ＃Other /start $SPAM @victim_tg"
LINK = "https://grants.example.org/apply"


def add_victims(mastodon: MastodonSandbox, bluesky: BlueskySandbox) -> dict[str, str]:
    """Accounts a live mention would reach, on each platform."""
    mastodon.add_account("victim")
    mastodon.add_account("victim", "other.example")
    return {"victim.test": bluesky.add_account("victim.test")}


def assert_mastodon_inert(statuses: list[dict[str, Any]]) -> None:
    assert statuses
    for status in statuses:
        assert status["mentions"] == []
        assert {normalize_tag(t["name"]) for t in status["tags"]} <= ALLOWED


def assert_bluesky_inert(records: list[dict[str, Any]], dids: dict[str, str]) -> None:
    assert records
    for record in records:
        for facet in record.get("facets", []):
            for feature in facet["features"]:
                assert feature["$type"] != "app.bsky.richtext.facet#mention"
                assert feature.get("did") not in dids.values()
                if "tag" in feature:
                    assert normalize_tag(feature["tag"]) in ALLOWED
                if "uri" in feature:
                    assert feature["uri"].startswith("https://grants.example.org/"), feature


def assert_telegram_inert(telegram: TelegramSandbox) -> list[str]:
    messages = telegram.messages(CHANNEL, by_bot=True)
    assert messages
    for message in messages:
        kinds = {e["type"] for e in message.entities}
        assert not kinds & {"mention", "text_mention", "bot_command", "cashtag", "url", "email"}
        assert {normalize_tag(t) for t in message.entity_texts("hashtag")} <= ALLOWED
        links = {e["url"] for e in message.entities if e["type"] == "text_link"}
        assert links <= {LINK}
        assert message.link_preview_options is None or links  # a preview can only be of our link
    return [m.text for m in messages]


async def test_a_hostile_opportunity_mentions_and_tags_no_one_on_any_platform(
    runner: SeriesRunner,
    store: Store,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    dids = add_victims(sandbox, bsky)
    OpportunityList(store).add(
        OpportunityDraft(
            TITLE,
            LINK,
            kind="fellowship",
            organisation=ORGANISATION,
            deadline=clock.now().date() + timedelta(days=30),
            eligibility=("students of @victim #SpamTag",),
            submitted_by="stranger",
        ),
        clock.now(),
    )
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    outcomes = await runner.run_due()
    assert sorted((o.platform.value, o.state) for o in outcomes) == [
        ("bluesky", "done"),
        ("mastodon", "done"),
        ("telegram", "done"),
    ]

    statuses = central_statuses(sandbox)
    assert_mastodon_inert(statuses)
    records = bluesky_thread(bsky)
    assert_bluesky_inert(records, dids)
    texts = assert_telegram_inert(tg)

    # The words are all there, as the member wrote them: only their power to reach people is gone.
    shown = [html_to_text(s["content"]) for s in statuses] + [r["text"] for r in records] + texts
    for text in shown:
        assert "@victim@med.example @victim.test" in text.replace("\u2060", "")
        assert "victim.com" in text.replace("\u2060", "")
    # And the community's own tags still work.
    assert {"latinasinmedicine", "opportunity"} <= {
        normalize_tag(t["name"]) for s in statuses for t in s["tags"]
    }
