"""Opting out covers everything of a member: her #opportunity post, listed before she opted out,
leaves the later digests (and comes back if she opts in again), and her interview waiting for
its slot is withdrawn, with a private note telling her so — also when the opt-out came from
her other, linked account, or from the #nobot the pipeline found in her profile.

The real python-telegram-bot and Mastodon.py against the sandboxes; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.curation.queue import Queue
from bot.domain import Platform, TextLimits
from bot.series.opportunities import OpportunityList
from sandbox.mastodon import MastodonSandbox
from sandbox.telegram import TelegramSandbox
from tests.adapters.telegram import conftest as telegram_world
from tests.adapters.telegram.conftest import COMMUNITY, MARIA, Harness, make_mastodon

tg = telegram_world.tg
masto = telegram_world.masto
harness_factory = telegram_world.harness_factory

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

TAG = "LatinasInMedicine"
HER_LINK = "https://becas.example.mx/inv"


def queued_interview(h: Harness) -> int:
    """Maria's mini-interview, answered in her private chat, approved and confirmed: queued."""
    book = h.app.series.interviews
    now = h.clock.now()
    interview = book.invite(
        "María", language="en", invited_by="ana", now=now, platform="telegram", member_ref=str(MARIA)
    )
    for qid, answer in {"role": "Resident", "goals": "Surgery", "outside": "Salsa", "advice": "Ask"}.items():
        book.record_answer(interview.id, qid, answer, now)
    book.approve(interview.id, by="rosa", now=now, limits={"telegram": TextLimits(4096, "utf16", 23)})
    book.confirm(interview.id, now, via="cli")
    assert book.get(interview.id).state == "queued"
    return interview.id


async def a_round(h: Harness) -> None:
    """One ``run --once`` cycle; when it waits on the clock (her private chat takes one message a
    second), the clock is moved on for it."""
    task = asyncio.ensure_future(h.app.run_once())
    while not task.done():
        await asyncio.wait({task}, timeout=0.05)
        if h.clock.sleepers:
            h.clock.advance(seconds=1)
    await task


def private_texts(tg: TelegramSandbox, user: int) -> list[str]:
    return [msg.text for msg in tg.messages(user, by_bot=True)]


def digest_text(h: Harness) -> str:
    return "\n".join(h.app.series.digest("en", Platform.TELEGRAM, h.clock.now().date()).parts)


async def listed_opportunity(h: Harness) -> None:
    tg = h.tg
    tg.user_sends(MARIA, COMMUNITY, f"Research scholarship for students {HER_LINK} #{TAG} #opportunity")
    await h.app.run_once()
    queue = Queue(h.app.store, h.app.settings)
    (candidate,) = queue.list("pending")
    queue.approve(candidate.id, "ana", h.clock.now())
    await h.app.run_once()
    assert [o.url for o in OpportunityList(h.app.store).all()] == [HER_LINK]


async def test_opting_out_takes_her_opportunity_out_of_digests_and_withdraws_her_interview(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False)
    await listed_opportunity(h)
    assert "becas.example.mx" in digest_text(h)
    interview = queued_interview(h)

    clock.advance(seconds=2)
    tg.user_sends(MARIA, MARIA, "/optout")
    await a_round(h)

    assert h.app.series.interviews.get(interview).state == "withdrawn"
    texts = await tg.wait_for_async(lambda: private_texts(tg, MARIA)[1:] and private_texts(tg, MARIA))
    assert any("will not share your posts" in t for t in texts)  # the answer to her opt-out
    assert any("mini-interview" in t and "withdrawn" in t for t in texts)  # and the note
    assert "becas.example.mx" not in digest_text(h)

    # unless she says otherwise: opting back in brings her opportunity back (not the interview)
    clock.advance(seconds=2)
    tg.user_sends(MARIA, MARIA, "/optin")
    await a_round(h)
    assert "becas.example.mx" in digest_text(h)
    assert h.app.series.interviews.get(interview).state == "withdrawn"


async def test_an_opt_out_on_her_linked_account_covers_her_telegram_interview(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, masto: MastodonSandbox, clock: FakeClock
) -> None:
    from bot.store import models as m

    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    maria = masto.add_account("maria")
    masto.post(maria, f"Hello #{TAG}")
    tg.user_sends(MARIA, COMMUNITY, f"Hola #{TAG}")
    tg.user_sends(MARIA, MARIA, "/start")  # she opened the interview's link: a private chat exists
    await a_round(h)
    # her two accounts are one person (linked as the consent registry links them)
    with h.engine.begin() as conn:
        ids = sorted(
            int(i)
            for (i,) in conn.execute(
                m.table(m.Account)
                .select()
                .with_only_columns(m.Account.id)
                .where(m.Account.handle.like("%maria%"))
            )
        )
        conn.execute(m.table(m.Account).update().where(m.Account.id.in_(ids)).values(person_id=ids[0]))
    interview = queued_interview(h)

    h.app.trust.consent.opt_out(Platform.MASTODON, str(maria["id"]), "cli", "ana", clock.now())
    await a_round(h)

    assert h.app.series.interviews.get(interview).state == "withdrawn"
    note = await tg.wait_for_async(lambda: [t for t in private_texts(tg, MARIA) if "withdrawn" in t] or None)
    assert len(note) == 1


async def test_a_nobot_found_in_her_profile_withdraws_her_interview_at_the_next_round(
    harness_factory: Callable[..., Any], tg: TelegramSandbox, masto: MastodonSandbox, clock: FakeClock
) -> None:
    h: Harness = await harness_factory(run=False, extra={Platform.MASTODON: make_mastodon(masto, clock)})
    maria = masto.add_account("maria")
    masto.post(maria, f"Hello #{TAG}")
    await h.app.run_once()
    book = h.app.series.interviews
    now = clock.now()
    interview = book.invite("María", language="en", invited_by="ana", now=now, handle="@maria@med.example")
    for qid, answer in {"role": "Resident", "goals": "Surgery", "outside": "Salsa", "advice": "Ask"}.items():
        book.record_answer(interview.id, qid, answer, now)
    book.approve(interview.id, by="rosa", now=now, limits={"mastodon": TextLimits(500, "chars", 23)})
    book.confirm(interview.id, now, via="cli")

    masto.set_note(maria, "Resident. #nobot")
    masto.post(maria, f"Another one #{TAG}")  # the pipeline reads her profile with the post
    await h.app.run_once()

    assert book.get(interview.id).state == "withdrawn"
