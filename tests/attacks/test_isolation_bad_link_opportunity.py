"""One bad item never stops the line: an approved #opportunity post whose link has port 99999
fails alone — with its reason on its card and a message under it in the curators' chat —
while the other approved posts are boosted and listed; the same link in the console's
/opportunity gets an answer saying what is wrong, and the next command works. The link
helpers never raise anything but their own error, whatever the text (Hypothesis).

The real python-telegram-bot and Mastodon.py against the sandboxes; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.errors import SeriesError
from bot.links import safe_url
from bot.series.opportunities import OpportunityList, normalize_url
from bot.store import models as m
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import ANA, CURATORS, Harness, make_mastodon
from tests.adapters.telegram.test_console import answer_to

tg = telegram_world.tg
masto = telegram_world.masto
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"
BAD = "https://grants.example.org:99999/apply"
GOOD = "https://becas.example.mx/inv"


async def test_a_bad_link_fails_its_candidate_alone_and_the_curators_see_why(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, masto: MastodonSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    maria, bea, carla = (masto.add_account(n) for n in ("maria", "bea", "carla"))
    masto.post(maria, f"Fellowship for residents {BAD} #{TAG} #opportunity")
    news = masto.post(bea, f"Matched into surgery! #{TAG}")
    masto.post(carla, f"Research scholarship {GOOD} #{TAG} #opportunity")
    await h.app.run_once()
    await h.run()  # the console sends the three cards
    queue = Queue(h.app.store, h.app.settings)
    by_author = {c.author_handle.split("@")[0]: c.id for c in queue.list("pending")}
    for cid in by_author.values():
        await h.card(cid)
        queue.approve(cid, "ana", clock.now())
    h.app.wake.set()

    # the failure is on Maria's card, and announced under it
    card = await h.card_showing(by_author["maria"], "⚠️ Failed")
    assert "99999" in card.text or "not a usable web link" in card.text
    note = await tg.wait_for_async(
        lambda: [m for m in tg.messages(CURATORS, by_bot=True) if "could not be amplified" in m.text] or None
    )
    assert len(note) == 1
    assert f"#{by_author['maria']}" in note[0].text
    # …and everything else went on
    await tg.wait_for_async(lambda: masto.reblogs_of(news) or None)
    # Carla's was approved last: a cycle that began before her approval files it on the next one.
    listed = await tg.wait_for_async(lambda: OpportunityList(h.app.store).all() or None)
    assert [o.url for o in listed] == [GOOD]
    assert queue.show(by_author["carla"]).state == "amplified"
    assert queue.show(by_author["maria"]).state == "failed"


async def test_the_same_link_in_the_console_gets_an_answer_and_the_next_command_works(
    harness_factory: Callable[..., Any], tg: TelegramSandbox
) -> None:
    h: Harness = await harness_factory()
    answer = await answer_to(tg, ANA, f"/opportunity {BAD} Fellowship for residents")
    assert "Not added" in answer
    assert "99999" in answer
    answer = await answer_to(tg, ANA, "/opportunity http://[::1 Broken host")
    assert "Not added" in answer
    answer = await answer_to(tg, ANA, f"/opportunity {GOOD} Research scholarship")
    assert "added for the next digest" in answer
    assert [o.url for o in OpportunityList(h.app.store).all()] == [GOOD]


# Any text that starts like a web link: ports out of range, broken [IPv6] hosts, odd characters.
links = st.builds(
    lambda scheme, host, port, rest: f"{scheme}{host}{port}{rest}",
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", ""]),
    st.one_of(st.text(max_size=30), st.sampled_from(["[::1", "[::1]", "x.example", "[bad]", ":"])),
    st.one_of(
        st.just(""), st.integers(-10, 10**7).map(lambda n: f":{n}"), st.text(max_size=8).map(":".__add__)
    ),
    st.text(max_size=30),
)


@settings(max_examples=200, deadline=None)
@given(links)
def test_link_helpers_fail_only_with_their_own_error(url: str) -> None:
    try:
        key = normalize_url(url)
    except SeriesError:
        pass
    else:
        assert isinstance(key, str)
    shown = safe_url(url)
    assert shown is None or shown == url


async def test_a_candidate_with_unreadable_data_fails_alone_card_and_boost(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, masto: MastodonSandbox, clock: FakeClock
) -> None:
    """A row the code cannot read (here, a platform name no adapter knows) breaks neither the
    other cards nor the other boosts: that candidate fails with its reason, the curators are told."""
    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    maria, bea = masto.add_account("maria"), masto.add_account("bea")
    broken = masto.post(maria, f"First #{TAG}")
    news = masto.post(bea, f"Second #{TAG}")
    await h.app.watch_once(Platform.MASTODON)  # queued, no card yet (run_once would send them)
    queue = Queue(h.app.store, h.app.settings)
    ids = {c.url: c.id for c in queue.list("pending")}

    def corrupt(platform: str) -> None:
        with h.engine.begin() as conn:
            conn.execute(
                update(m.Post).where(m.Post.platform_post_id == str(broken["id"])).values(platform=platform)
            )

    corrupt("friendster")
    assert h.app.console is not None
    await h.app.console.sync()  # one pass of the console, as the running service makes
    assert h.card_of(ids[news["url"]]) is not None  # the other card went out
    (alert,) = [x for x in tg.messages(CURATORS, by_bot=True) if "could not be shown" in x.text]
    assert f"#{ids[broken['url']]}" in alert.text
    corrupt("mastodon")  # readable while the curators approve it, broken again before the boost
    for cid in ids.values():
        queue.approve(cid, "ana", clock.now())
    corrupt("friendster")

    outcomes = await h.app.amplifier.run_due()

    assert len(masto.reblogs_of(news)) == 1
    assert [o.ok for o in outcomes if o.candidate_id == ids[broken["url"]]] == [False]
    with h.engine.connect() as conn:
        state, error = conn.execute(
            select(m.Candidate.state, m.Candidate.last_error).where(m.Candidate.id == ids[broken["url"]])
        ).one()
    assert state == "failed"
    assert "could not be handled: ValueError" in error
