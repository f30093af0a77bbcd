"""Scheduled chats and conference highlights on the reference atproto network (PLC + PDS +
AppView from @atproto/dev-env), through a whole app and the real Bluesky adapter: a chat's
question posted once with its tag live, members' answers (by marker, by a reply to the question
with or without a tag) seen on the stream, stored and counted, an opted-out member's counted and
never quoted, and no untagged reply queued; a conference day's highlights thread posted once, crediting the
member.

The network keeps the real time (members' posts carry it), so the app's injected clock starts a
few minutes before it: the chat begins within the clock's future and the members answer after.
Each test makes its own accounts and tags; the central account is shared, so only its posts
carrying this test's tag are looked at."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from atproto import AsyncClient
from sqlalchemy import select, update

from adapters.bluesky.adapter import BlueskyAdapter
from bot.app import Coalesce
from bot.chats.recap import to_markdown
from bot.chats.runner import answers_of, series_of
from bot.clock import FakeClock, SystemClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.ops.result import Outcome
from bot.store import models as m
from tests.adapters.bluesky.conftest import TAG, build_adapter, network_settings
from tests.adapters.bluesky.test_network_fidelity_paths import new_member, reply_to, tagged
from tests.atproto_network.fixture import AtprotoNetwork

pytestmark = pytest.mark.atproto_network

POST = "app.bsky.feed.post"
ZONE = "America/Chicago"
StartApp = Callable[..., Awaitable[Coalesce]]


def a_while_ago() -> FakeClock:
    """The injected clock, ten minutes behind the network's real time, on a whole minute."""
    return FakeClock(datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10))


async def app_on_network(
    start_app: StartApp, network: AtprotoNetwork, settings: Settings, clock: FakeClock
) -> tuple[Coalesce, BlueskyAdapter]:
    # The adapter keeps the network's time: it knows its stream has caught up when an event is
    # newer than its clock.
    adapter = build_adapter(network_settings(network), SystemClock(), None, spellings=[TAG])
    app = await start_app(settings, {Platform.BLUESKY: adapter}, clock=clock)
    return app, adapter


async def central_posts(adapter: BlueskyAdapter, tag: str) -> list[Any]:
    """The central account's posts that carry ``tag`` (other tests post as it too)."""
    reader = AsyncClient(base_url=adapter.settings.service_url)
    out: list[Any] = []
    cursor = None
    while True:
        page = await reader.com.atproto.repo.list_records(
            {"repo": adapter.did, "collection": POST, "limit": 100, "cursor": cursor}
        )
        out.extend(r for r in page.records if f"#{tag}" in r.value.text.lower())
        cursor = page.cursor
        if not cursor or not page.records:
            return out


def live_tags(record: Any) -> set[str]:
    return {
        f.tag
        for facet in record.value.facets or []
        for f in facet.features
        if f.py_type == "app.bsky.richtext.facet#tag"
    }


async def test_a_chats_question_goes_out_once_and_members_answers_are_counted(
    atproto_network: AtprotoNetwork, start_app: StartApp, settings: Settings
) -> None:
    token = uuid.uuid4().hex[:6]
    tag = f"chat{token}"  # lower case: the local search is case-sensitive
    clock = a_while_ago()
    app, adapter = await app_on_network(start_app, atproto_network, settings, clock)
    starts = clock.now() + timedelta(minutes=2)
    fields = chat_ops.ChatFields(
        topic=f"Mentorship {token}", host="Dra. Ruiz", tag=tag,
        start=starts.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M"), timezone=ZONE,
        questions=["0: What did a mentor do for you?", "10: How did you find one?"],
    )  # fmt: skip
    added = chat_ops.add_chat(app.store, settings, fields, by="ana", now=clock.now())
    assert added.outcome is Outcome.DONE, added.message
    assert added.data is not None
    chat = added.data

    clock.advance((starts - clock.now()).total_seconds())
    report = await app.run_once()
    assert report.errors == {}
    assert [(o.series, o.state) for o in report.gatherings] == [(series_of(chat.id, "q1"), "done")]
    clock.advance(minutes=1)
    again = await app.run_once()  # still within the question's minutes: not posted twice
    assert [(o.series, o.state) for o in again.gatherings] == [(series_of(chat.id, "q1"), "already")]
    (question,) = await central_posts(adapter, tag)
    assert question.value.text.startswith("Q1: What did a mentor do for you? Answer with A1 and")
    assert tag in live_tags(question)  # the tag members answer with is a live link, not inert

    names = ("ana", "bea", "cy", "dee", "eve", "fay", "gil")
    ana, bea, cy, dee, eve, fay, gil = [await new_member(atproto_network, n) for n in names]
    by_marker = await tagged(ana, f"A1 she believed in me {token}", tag)
    by_reply = await tagged(
        bea, f"One who listened {token}", tag, reply_to=reply_to(question)
    )  # no marker: a reply to the question answers it
    await tagged(cy, f"Glad to be here {token}", tag)  # the tag alone answers nothing
    # Bare replies, no tag and no mention: the stream passes on those to one of ours.
    bare = await dee.client.send_post(f"My aunt the nurse {token}", reply_to=reply_to(question))
    kept_to_herself = await eve.client.send_post(
        f"Quietly, my first boss {token}", reply_to=reply_to(question)
    )
    on_an_answer = await fay.client.send_post(
        f"Same for me {token} #{TAG}",
        reply_to={"root": reply_to(question)["root"], "parent": reply_to(by_reply)["parent"]},
    )  # a reply in the question's thread, to an answer: stored, answers nothing
    elsewhere = await gil.client.send_post(f"Lovely {token}", reply_to=reply_to(by_marker))  # not ours
    await atproto_network.process_all()

    clock.advance(minutes=2)
    report = await app.run_once()
    assert report.errors == {}
    with app.engine.begin() as conn:  # eve keeps her posts to herself
        conn.execute(update(m.Account).where(m.Account.handle == eve.handle).values(consent="out"))
    found = sorted((a.question, a.handle) for a in answers_of(app.store, chat))
    assert found == sorted([(1, ana.handle), (1, bea.handle), (1, dee.handle), (1, eve.handle)])
    answers = [by_marker.uri, by_reply.uri, bare.uri, kept_to_herself.uri]
    with app.engine.connect() as conn:
        stored = conn.execute(
            select(m.Post.platform_post_id).join(m.ChatAnswer, m.ChatAnswer.post_id == m.Post.id)
        ).scalars()
        assert sorted(stored) == sorted(answers)
        seen = set(conn.execute(select(m.Post.platform_post_id)).scalars())
        assert {bare.uri, kept_to_herself.uri, on_an_answer.uri} <= seen
        assert elsewhere.uri not in seen  # a reply to a member's post is not ours to read
        queued = conn.execute(
            select(m.Post.platform_post_id).join(m.Candidate, m.Candidate.post_id == m.Post.id)
        ).scalars()
        # A reply is no candidate, even with the community's tag (fay's): replies are off.
        assert not set(queued) & {bare.uri, kept_to_herself.uri, on_an_answer.uri, by_reply.uri}
    recap = app.gatherings.chats.recap(chat, clock.now())
    assert (recap.answers, recap.participants) == (4, {"bluesky": 4})
    (q1, _) = recap.questions
    assert sorted(a.handle for a in q1.quoted) == sorted([ana.handle, bea.handle, dee.handle])
    assert q1.withheld == 1  # eve's: counted, never quoted
    transcript = to_markdown(recap)
    assert "first boss" not in transcript
    assert eve.handle not in transcript
    assert "My aunt the nurse" in transcript
    assert len(await central_posts(adapter, tag)) == 1  # the question, still once


async def test_a_conference_days_highlights_go_out_once(
    atproto_network: AtprotoNetwork, start_app: StartApp, settings: Settings
) -> None:
    token = uuid.uuid4().hex[:6]
    tag = f"conf{token}"
    clock = a_while_ago()
    app, adapter = await app_on_network(start_app, atproto_network, settings, clock)
    slot = (clock.now() + timedelta(minutes=5)).astimezone(ZoneInfo(ZONE))
    day = slot.date()
    fields = conf_ops.ConferenceFields(
        name=f"Summit {token}", tag=tag, starts_on=str(day - timedelta(days=1)),
        ends_on=str(day + timedelta(days=1)), timezone=ZONE, highlights_at=slot.strftime("%H:%M"),
    )  # fmt: skip
    added = conf_ops.add_conference(app.store, settings, fields, by="ana", now=clock.now())
    assert added.outcome is Outcome.DONE, added.message
    await app.gatherings.refresh()

    maria = await new_member(atproto_network, "maria")
    talk = await tagged(maria, f"Keynote on rural care {token} #{TAG}", tag)
    await atproto_network.process_all()
    report = await app.run_once()
    assert report.errors == {}
    with app.engine.connect() as conn:  # other tests' posts carry the community tag too
        candidate = conn.execute(
            select(m.Candidate.id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(m.Post.platform_post_id == talk.uri)
        ).scalar_one()
    assert candidate in report.ingested[Platform.BLUESKY].candidates
    clock.advance((slot - clock.now()).total_seconds())
    app.queue.approve(candidate, "rosa", clock.now())

    report = await app.run_once()
    assert report.errors == {}
    assert [(o.platform, o.state) for o in report.gatherings] == [(Platform.BLUESKY, "done")]
    clock.advance(hours=1)
    again = await app.run_once()
    assert [(o.platform, o.state) for o in again.gatherings] == [(Platform.BLUESKY, "already")]

    ours = [r for r in await central_posts(adapter, tag) if r.value.text.startswith(f"Summit {token}")]
    assert len(ours) == 1
    (thread,) = ours
    assert thread.value.text.startswith(f"Summit {token}, day 2 (")
    assert f"Keynote on rural care {token}" in thread.value.text
    assert maria.handle in thread.value.text  # credited to its author
