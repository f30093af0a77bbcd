"""Issue 16 on the reference atproto network (PLC + PDS + AppView): no opted-out member on the
curators' desk whatever path brought her post (search, first-start backfill, nomination, a
quote), a stranger's nomination flagged, and nothing lost between two ``run --once`` runs on a
quiet PDS. Each test makes its own accounts, so profile changes never leak into other tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from atproto import AsyncClient, client_utils, models
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import Position
from bot.app import Coalesce
from bot.clock import SystemClock
from bot.config import Settings
from bot.curation.flags import card_flags
from bot.domain import Platform
from bot.store import models as m
from tests.adapters.bluesky.conftest import TAG, build_adapter, network_settings
from tests.atproto_network.fixture import AtprotoNetwork

pytestmark = pytest.mark.atproto_network


@dataclass
class Person:
    client: AsyncClient
    did: str
    handle: str


async def new_person(
    network: AtprotoNetwork, name: str, *, description: str = "", labels: tuple[str, ...] = ()
) -> Person:
    """A fresh account on the PDS, its profile record written with ``description`` and
    self-``labels`` (as the Bluesky app writes them)."""
    handle = f"{name}{uuid.uuid4().hex[:6]}.test"
    password = f"pw-{uuid.uuid4().hex}"
    signup = AsyncClient(base_url=network.pds_url)
    created = await signup.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(
            handle=handle, email=f"{handle}@example.com", password=password
        )
    )
    client = AsyncClient(base_url=network.pds_url)
    await client.login(handle, password, fetch_bsky_profile=False)
    if description or labels:
        await set_profile(client, created.did, description, labels)
    return Person(client, created.did, handle)


async def set_profile(client: AsyncClient, did: str, description: str, labels: tuple[str, ...] = ()) -> None:
    record: dict[str, Any] = {"$type": "app.bsky.actor.profile", "description": description}
    if labels:
        record["labels"] = {
            "$type": "com.atproto.label.defs#selfLabels",
            "values": [{"val": v} for v in labels],
        }
    await client.com.atproto.repo.put_record(
        models.ComAtprotoRepoPutRecord.Data(
            repo=did, collection="app.bsky.actor.profile", rkey="self", record=record
        )
    )


async def say(person: Person, text: str, *, tag: str | None = TAG, **kw: Any) -> Any:
    builder = client_utils.TextBuilder().text(text)
    if tag:
        builder.text(" ").tag(f"#{tag}", tag)
    return await person.client.send_post(builder, profile_identify=person.did, **kw)


async def nominate(person: Person, network: AtprotoNetwork, post: Any, token: str) -> Any:
    """``person`` replies to ``post`` mentioning the central account: a nomination."""
    text = (
        client_utils.TextBuilder()
        .mention(f"@{network.central.handle}", central_did(network))
        .text(f" boost this! {token}")
    )
    parent = {"uri": post.uri, "cid": post.cid}
    return await person.client.send_post(
        text, profile_identify=person.did, reply_to={"root": parent, "parent": parent}
    )


def central_did(network: AtprotoNetwork) -> str:
    return network.central.did


def quote_of(post: Any) -> models.AppBskyEmbedRecord.Main:
    return models.AppBskyEmbedRecord.Main(
        record=models.ComAtprotoRepoStrongRef.Main(uri=post.uri, cid=post.cid)
    )


Run = Callable[..., Any]


@pytest.fixture
def run_app(atproto_network: AtprotoNetwork, engine: Engine, settings: Settings) -> Run:
    """A whole app on the network, started, used and stopped as one ``run --once`` from cron."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[Coalesce]:
        adapter = build_adapter(
            network_settings(atproto_network, **overrides), SystemClock(), engine, spellings=[TAG]
        )
        app = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter})
        await app.start()
        try:
            yield app
        finally:
            await app.stop()

    return run


def outcome(engine: Engine, uri: str) -> tuple[str | None, str | None]:
    """(the post's skip reason, its candidate's state) — (None, None): never seen."""
    with engine.connect() as conn:
        row = conn.execute(
            select(m.Post.skip_reason, m.Candidate.state)
            .outerjoin(m.Candidate, m.Candidate.post_id == m.Post.id)
            .where(m.Post.platform_post_id == uri)
        ).one_or_none()
    return (row.skip_reason, row.state) if row is not None else (None, None)


def candidate_of(engine: Engine, uri: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(m.Candidate.id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .where(m.Post.platform_post_id == uri)
            ).scalar_one()
        )


async def test_a_nobot_member_never_reaches_the_desk_by_search_backfill_or_nomination(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    token = uuid.uuid4().hex[:8]
    nora = await new_person(atproto_network, "nora", description="Cardiologist. #nobot please")
    bob = await new_person(atproto_network, "bob")
    tagged = await say(nora, f"Cath lab day {token}")
    untagged = await say(nora, f"Our paper is out {token}", tag=None)
    await atproto_network.process_all()
    await nominate(bob, atproto_network, untagged, token)
    await atproto_network.process_all()

    # search mode: her tagged post and bob's nomination come from searchPosts
    async with run_app(watch="search") as app:
        report = await app.run_once()
    assert report.errors == {}
    assert outcome(engine, tagged.uri) == ("opted_out", None)
    assert outcome(engine, untagged.uri) == ("opted_out", None)

    # firehose, first start: the window before it is read back by search (backfill)
    with engine.begin() as conn:
        conn.execute(m.table(m.Cursor).delete())
        conn.execute(m.table(m.Candidate).delete())
        conn.execute(m.table(m.Post).delete())
    async with run_app(watch="firehose") as app:
        report = await app.run_once()
    assert report.errors == {}
    assert outcome(engine, tagged.uri) == ("opted_out", None)
    assert outcome(engine, untagged.uri) == ("opted_out", None)

    # firehose, following the stream: a new tagged post and a new nomination
    later = await say(nora, f"Another day {token}")
    await nominate(bob, atproto_network, untagged, token + "b")
    await atproto_network.process_all()
    async with run_app(watch="firehose") as app:
        report = await app.run_once()
    assert report.errors == {}
    assert outcome(engine, later.uri) == ("opted_out", None)
    with engine.connect() as conn:
        pending = conn.execute(
            select(m.Candidate.id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .join(m.Account, m.Account.id == m.Post.account_id)
            .where(m.Account.platform_account_id == nora.did)
        ).all()
        consent = conn.execute(
            select(m.Account.consent).where(m.Account.platform_account_id == nora.did)
        ).scalar_one()
    assert pending == []
    assert consent == "out"  # the marker was recorded as her opt-out


async def test_a_quote_carries_its_quoted_authors_consent(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    token = uuid.uuid4().hex[:8]
    nora = await new_person(atproto_network, "nora", description="#nobot")
    lena = await new_person(atproto_network, "lena", description="Pediatrician")
    carmen = await new_person(atproto_network, "carmen")
    hers = await say(nora, f"My case report {token}", tag=None)
    lenas = await say(lena, f"Our clinic {token}", tag=None)
    await atproto_network.process_all()
    quoting_nora = await say(carmen, f"Read this {token}", embed=quote_of(hers))
    quoting_lena = await say(carmen, f"And this {token}", embed=quote_of(lenas))
    await atproto_network.process_all()

    async with run_app(watch="search") as app:
        await app.run_once()
        assert outcome(engine, quoting_nora.uri) == ("quoted_opted_out", None)
        cid = candidate_of(engine, quoting_lena.uri)
        view = app.queue.show(cid)
        assert view.quoted_handle == lena.handle  # the card says whose post is quoted

        # Lena opts out in her profile after the quote was queued: the last look sees it.
        await set_profile(lena.client, lena.did, "Pediatrician #nobot")
        await atproto_network.process_all()
        app.queue.approve(cid, "ana", app.clock.now())
        outcomes = await app.amplifier.run_due()
    assert outcomes == []
    assert outcome(engine, quoting_lena.uri)[1] == "withdrawn"
    listed = await carmen.client.com.atproto.repo.list_records(
        {"repo": central_did(atproto_network), "collection": "app.bsky.feed.repost", "limit": 100}
    )
    assert all(r.value.subject.uri not in (quoting_lena.uri, quoting_nora.uri) for r in listed.records)


async def test_a_strangers_nomination_is_flagged_on_the_card(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    token = uuid.uuid4().hex[:8]
    maria = await new_person(atproto_network, "maria")
    sam = await new_person(atproto_network, "sam")
    paper = await say(maria, f"Paper one {token}", tag=None)
    other = await say(maria, f"Paper two {token}", tag=None)
    await say(maria, f"Hello community {token}")  # Maria takes part: a tagged post
    await atproto_network.process_all()
    async with run_app(watch="firehose") as app:  # first start: the tagged post by backfill
        await app.run_once()
    await nominate(sam, atproto_network, paper, token)  # never took part
    await nominate(maria, atproto_network, other, token)  # a member who did
    await atproto_network.process_all()
    async with run_app(watch="firehose") as app:
        await app.run_once()
        by_stranger = app.queue.show(candidate_of(engine, paper.uri))
        by_member = app.queue.show(candidate_of(engine, other.uri))
        flags = app.settings.trust.flags
    assert by_stranger.nominated_by_stranger
    assert not by_member.nominated_by_stranger
    codes = [
        f.code
        for f in card_flags(
            flags, text=by_stranger.text, now=by_stranger.queued_at, nominated_by_stranger=True
        )
    ]
    assert "stranger_nomination" in codes


async def test_two_cron_runs_around_a_mixed_case_post_queue_it_once(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    token = uuid.uuid4().hex[:8]
    rosa = await new_person(atproto_network, "rosa")
    async with run_app(watch="firehose") as app:  # a quiet first run
        await app.run_once()
    cursor = app.store.cursors(Platform.BLUESKY)["firehose"]
    position = Position.parse(cursor)
    assert position is not None
    assert position.seq is not None  # a position the next run resumes the stream from

    mixed = await say(rosa, f"Residency match {token}", tag="LatinasInMedicine")
    await atproto_network.process_all()
    async with run_app(watch="firehose") as app:
        await app.run_once()
    async with run_app(watch="firehose") as app:  # and once more: nothing twice
        await app.run_once()
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Candidate.id)
            .join(m.Post, m.Post.id == m.Candidate.post_id)
            .where(m.Post.text.contains(token))
        ).all()
    assert len(rows) == 1
    assert outcome(engine, mixed.uri) == (None, "pending")


async def test_a_time_only_cursor_fills_the_gap_by_search_whatever_the_case(
    atproto_network: AtprotoNetwork, run_app: Run, engine: Engine
) -> None:
    """A cursor stored before this fix (a time, no position): search covers the gap, asking
    for the tag as configured and in lowercase, and the stream resumes from a position."""
    token = uuid.uuid4().hex[:8]
    rosa = await new_person(atproto_network, "rosa")
    async with run_app(watch="firehose") as app:
        app.store.ingest(
            Platform.BLUESKY, [], app.clock.now(), source="firehose", cursor=str(Position(None, 1))
        )
    written = await say(rosa, f"Match day {token}", tag=TAG)
    lower = await say(rosa, f"Match night {token}", tag=TAG.lower())
    await atproto_network.process_all()
    async with run_app(watch="firehose") as app:
        await app.run_once()
    assert outcome(engine, written.uri) == (None, "pending")
    assert outcome(engine, lower.uri) == (None, "pending")
    position = Position.parse(app.store.cursors(Platform.BLUESKY)["firehose"])
    assert position is not None
    assert position.seq is not None
