"""A mini-interview whose name and answers hold handles, foreign tags, commands and bare domains
is published on Mastodon, Bluesky and Telegram without mentioning, tagging or linking anyone:
the member's words are shown as written, and only the community's hashtag is live.

Through the real libraries and the sandboxes, as in ``test_inert_opportunity_title``.
"""

from __future__ import annotations

import pytest

from adapters.mastodon.normalize import html_to_text
from bot.clock import FakeClock
from bot.domain import Platform
from bot.series.runner import SeriesRunner
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.attacks.inert_platforms import *  # noqa: F403 - the fixtures
from tests.attacks.test_inert_opportunity_title import (
    add_victims,
    assert_bluesky_inert,
    assert_mastodon_inert,
    assert_telegram_inert,
)
from tests.bot.series.conftest import central_statuses
from tests.bot.series.test_all_platforms import bluesky_thread
from tests.bot.series.test_publishing import INTERVIEW_SLOT

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

ANSWERS = {
    "role": "Resident, thanks @victim@med.example",
    "goals": "Cardiology #SpamTag ＃Other",
    "outside": "Salsa /start $SPAM",
    "advice": "Read victim.com, ask @victim.test",
}


async def test_hostile_interview_answers_reach_no_one(
    runner: SeriesRunner,
    clock: FakeClock,
    sandbox: MastodonSandbox,
    bsky: BlueskySandbox,
    tg: TelegramSandbox,
) -> None:
    dids = add_victims(sandbox, bsky)
    book = runner.interviews
    name, handle = "Dra. Eva evil.com @victim", "@maria@med.example"
    interview = book.invite(name, language="en", invited_by="rosa", now=clock.now(), handle=handle)
    for question, answer in ANSWERS.items():
        book.record_answer(interview.id, question, answer, clock.now())
    book.approve(interview.id, by="rosa", now=clock.now(), limits=runner.interview_limits(list(Platform)))
    book.confirm(interview.id, clock.now(), via="cli")
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
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
    for text in [html_to_text(s["content"]) for s in statuses] + [r["text"] for r in records] + texts:
        shown = text.replace("\u2060", "")
        assert "Resident, thanks @victim@med.example" in shown
        assert "Read victim.com, ask @victim.test" in shown
        assert "Salsa /start $SPAM" in shown
    assert [t["name"].casefold() for t in statuses[0]["tags"]] == ["latinasinmedicine"]
