"""The Bluesky adapter against the reference atproto network (PLC + PDS + AppView from
@atproto/dev-env): login and session reuse, firehose watching, reposts, undo, threads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from atproto import AsyncClient, client_utils
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import BlueskyAdapter, Position
from adapters.bluesky.richtext import thread
from bot.app import Coalesce
from bot.clock import SystemClock
from bot.config import Settings
from bot.domain import Action, Platform, Receipt
from bot.errors import NotFound
from bot.store import models as m
from tests.adapters.bluesky.conftest import TAG, build_adapter, follow_until, network_settings, uris
from tests.atproto_network.fixture import AtprotoAccount, AtprotoNetwork

pytestmark = pytest.mark.atproto_network

Make = Callable[..., BlueskyAdapter]


@pytest.fixture
async def make_adapter(atproto_network: AtprotoNetwork, vault_engine: Engine) -> AsyncIterator[Make]:
    made: list[BlueskyAdapter] = []

    def build(engine: Engine | None = None, **overrides: Any) -> BlueskyAdapter:
        settings = network_settings(atproto_network, **overrides)
        adapter = build_adapter(settings, SystemClock(), engine or vault_engine)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.close()


async def member(network: AtprotoNetwork, account: AtprotoAccount | None = None) -> AsyncClient:
    client = AsyncClient(base_url=network.pds_url)
    await client.login((account or network.member).handle, (account or network.member).password)
    return client


async def member_post(client: AsyncClient, text: str, tag: str | None = TAG, **kw: Any) -> Any:
    builder = client_utils.TextBuilder().text(text)
    if tag:
        builder.text(" ").tag(f"#{tag}", tag)
    return await client.send_post(builder, **kw)


# A cursor at the start of the PDS's history: a test's own posts are then always replayed to
# it, however the connection races the posting (a cold start would join at the live tip).
FROM_THE_START = str(Position(0, None))


async def test_logs_in_once_then_every_start_reuses_the_stored_session(make_adapter: Make) -> None:
    first = make_adapter()
    await first.start()
    assert first.logins == 1
    again = make_adapter()
    await again.start()
    assert again.logins == 0
    receipt = await again.publish_part(f"Session check {uuid.uuid4().hex[:8]}")
    assert receipt.ref.startswith(f"at://{again.did}/app.bsky.feed.post/")
    await again.undo(receipt)


async def test_firehose_watching_finds_member_posts_and_nominations_once(
    atproto_network: AtprotoNetwork, make_adapter: Make
) -> None:
    adapter = make_adapter()
    await adapter.start()
    alice = await member(atproto_network)
    bob = await member(atproto_network, atproto_network.members[1])
    token = uuid.uuid4().hex[:8]
    paper = await member_post(alice, f"Our paper on rural stroke care {token}", tag=None)
    await atproto_network.process_all()  # the AppView knows the parent before it is nominated
    tagged = await member_post(alice, f"Grand rounds {token} today")
    mention = client_utils.TextBuilder().mention("@coalesce.test", adapter.did or "").text(" boost this!")
    parent = {"uri": paper.uri, "cid": paper.cid}
    await bob.send_post(mention, reply_to={"root": parent, "parent": parent})
    cursors: dict[str, str | None] = {"firehose": FROM_THE_START}

    batches = [b async for b in adapter.watch([TAG], cursors, follow=False)]
    for b in batches:
        cursors[b.source] = b.cursor

    assert tagged.uri in uris(batches)
    found = next(p for b in batches for p in b.posts if p.post_id == tagged.uri)
    assert found.author.handle == atproto_network.member.handle
    assert found.hashtags == {TAG.lower()}
    assert found.ref == tagged.cid
    nominated = [n for b in batches for n in b.nominations if n.post.post_id == paper.uri]
    assert [n.nominated_by.handle for n in nominated] == [atproto_network.members[1].handle]
    position = Position.parse(cursors["firehose"])
    assert position is not None
    assert position.seq is not None

    # Following from the stored cursor: what came since arrives, and nothing twice.
    later = await member_post(alice, f"Later {token}")
    followed = await follow_until(adapter, cursors, lambda bs: later.uri in uris(bs))
    assert uris(followed) == [later.uri]


async def test_repost_once_already_done_when_asked_again_then_undone(
    atproto_network: AtprotoNetwork, make_adapter: Make
) -> None:
    adapter = make_adapter()
    alice = await member(atproto_network)
    created = await member_post(alice, f"Matched! {uuid.uuid4().hex[:6]}")
    await atproto_network.process_all()
    post = await adapter.resolve(created.uri)
    assert post.author.handle == atproto_network.member.handle

    first = await adapter.amplify(post, Action.BOOST)
    soon = await adapter.amplify(post, Action.BOOST)  # before the AppView has seen the repost
    await atproto_network.process_all()
    later = await adapter.amplify(post, Action.BOOST)  # now the post view says viewer.repost

    assert not first.already
    assert (soon.already, soon.ref) == (True, first.ref)
    assert (later.already, later.ref) == (True, first.ref)
    assert await _reposts_of(adapter, post.post_id) == [first.ref]
    await adapter.undo(first)
    assert await _reposts_of(adapter, post.post_id) == []
    await adapter.undo(first)  # already gone: still fine


async def _reposts_of(adapter: BlueskyAdapter, uri: str) -> list[str]:
    central = AsyncClient(base_url=adapter.settings.service_url)
    listed = await central.com.atproto.repo.list_records(
        {"repo": adapter.did, "collection": "app.bsky.feed.repost", "limit": 100}
    )
    return [r.uri for r in listed.records if r.value.subject.uri == uri]


async def test_a_post_deleted_before_the_repost_is_not_found(
    atproto_network: AtprotoNetwork, make_adapter: Make
) -> None:
    adapter = make_adapter()
    alice = await member(atproto_network)
    created = await member_post(alice, f"Soon gone {uuid.uuid4().hex[:6]}")
    await atproto_network.process_all()
    post = await adapter.resolve(created.uri)
    await alice.delete_post(created.uri)
    await atproto_network.process_all()
    with pytest.raises(NotFound):
        await adapter.amplify(post, Action.BOOST)


async def test_a_thread_is_published_with_facets_at_byte_offsets(
    atproto_network: AtprotoNetwork, make_adapter: Make
) -> None:
    adapter = make_adapter()
    adapter.own_tags = frozenset({TAG.casefold()})
    alice = atproto_network.member
    text = (
        f"Opportunities this week 👩🏽‍⚕️🇲🇽 for #{TAG}: "
        + " ".join(f"Fellowship{i} https://jobs.example/{i}?ref=coalesce" for i in range(12))
        + f" — thanks @{alice.handle} and Café Médica #SpamTag evil.com"
    )
    parts = thread(text)
    assert len(parts) >= 2
    receipts: list[Receipt] = []
    for part in parts:
        receipts.append(await adapter.publish_part(part, receipts[-1] if receipts else None))

    reader = AsyncClient(base_url=atproto_network.pds_url)
    records = []
    for receipt in receipts:
        rkey = receipt.ref.rsplit("/", 1)[1]
        records.append(await reader.app.bsky.feed.post.get(adapter.did, rkey))
    assert [r.value.text for r in records] == parts
    covered = []
    for record in records:
        data = record.value.text.encode()
        for facet in record.value.facets or []:
            piece = data[facet.index.byte_start : facet.index.byte_end].decode()
            feature = facet.features[0]
            covered.append(
                (piece, getattr(feature, "tag", None) or getattr(feature, "uri", None) or feature.did)
            )
    assert (f"#{TAG}", TAG) in covered
    assert ("https://jobs.example/0?ref=coalesce", "https://jobs.example/0?ref=coalesce") in covered
    # A handle and a foreign tag in what the account publishes stay plain text: no one is
    # mentioned, no other tag is posted, no bare domain becomes a link.
    assert all(value not in (alice.did, "SpamTag", "https://evil.com") for _, value in covered)
    assert not any(piece.startswith("@") for piece, _ in covered)
    root = records[0]
    assert root.value.reply is None
    for i, record in enumerate(records[1:], 1):
        assert record.value.reply.root.uri == receipts[0].ref
        assert record.value.reply.parent.uri == receipts[i - 1].ref
        assert record.value.reply.parent.cid == records[i - 1].cid
    for receipt in reversed(receipts):
        await adapter.undo(receipt)


async def test_the_bot_queues_and_reposts_from_the_firehose(
    atproto_network: AtprotoNetwork, engine: Engine, settings: Settings
) -> None:
    adapter = build_adapter(network_settings(atproto_network), SystemClock(), engine)
    app = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter})
    await app.start()
    try:
        app.store.ingest(Platform.BLUESKY, [], app.clock.now(), source="firehose", cursor=FROM_THE_START)
        alice = await member(atproto_network)
        token = uuid.uuid4().hex[:8]
        created = await member_post(alice, f"Residency match {token}!")
        await atproto_network.process_all()

        report = await app.run_once()

        assert report.errors == {}
        with engine.connect() as conn:
            row = conn.execute(
                select(m.Candidate.id, m.Post.platform_post_id)
                .join(m.Post, m.Post.id == m.Candidate.post_id)
                .where(m.Post.text.contains(token))
            ).one()
        assert row.platform_post_id == created.uri
        app.queue.approve(row.id, "ana", app.clock.now())
        outcomes = await app.amplifier.run_due()
        assert [(o.ok, o.detail) for o in outcomes] == [(True, "done")]
        assert len(await _reposts_of(adapter, created.uri)) == 1
    finally:
        await app.stop()
