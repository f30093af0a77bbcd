"""The Bluesky adapter's other write and read paths on the reference atproto network (PLC + PDS +
AppView from @atproto/dev-env): quote posts, the curation list, a withdrawn interview's posts
deleted, answers to members as replies, search mode and the first-start backfill, #nobot in a
profile read through the AppView, and pile-on counts from getPostThread and getRelationships.

Each test makes accounts of its own (the network lives for the whole session and other tests
post as its seeded members) and a hashtag of its own, so nothing here depends on test order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from atproto import AsyncClient, client_utils
from sqlalchemy import Engine

from adapters.bluesky.adapter import BlueskyAdapter, Position
from adapters.registry import REGISTRY, settings_class
from bot.clock import FakeClock, SystemClock
from bot.config import parse
from bot.domain import Action, Author, Platform
from bot.schema import Environment
from bot.series.runner import SeriesRunner
from bot.store.migrate import upgrade
from bot.store.store import Store, make_engine
from tests.adapters.bluesky.conftest import WAIT_S, build_adapter, network_settings
from tests.atproto_network.fixture import AtprotoNetwork
from tests.bot.series.test_publishing import INTERVIEW_SLOT, confirmed_interview
from tests.conftest import BASE_CONFIG

pytestmark = pytest.mark.atproto_network

POST, LIST, LIST_ITEM = "app.bsky.feed.post", "app.bsky.graph.list", "app.bsky.graph.listitem"
Make = Callable[..., BlueskyAdapter]


@dataclass
class Member:
    """An account made for one test, logged in."""

    handle: str
    did: str
    client: AsyncClient

    @property
    def author(self) -> Author:
        return Author(account_id=self.did, handle=self.handle, display_name=self.handle)


async def new_member(network: AtprotoNetwork, name: str) -> Member:
    """A fresh account on the PDS (the dev PDS needs no invite code)."""
    handle = f"{name}{uuid.uuid4().hex[:6]}.test"
    password = uuid.uuid4().hex
    async with httpx.AsyncClient(timeout=30) as http:
        made = await http.post(
            f"{network.pds_url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@coalesce.test", "password": password},
        )
    made.raise_for_status()
    await network.process_all()  # logging in reads the profile from the AppView
    client = AsyncClient(base_url=network.pds_url)
    await client.login(handle, password)
    return Member(handle, made.json()["did"], client)


async def tagged(member: Member, text: str, tag: str, **kw: Any) -> Any:
    builder = client_utils.TextBuilder().text(f"{text} ").tag(f"#{tag}", tag)
    return await member.client.send_post(builder, **kw)


async def mentioning(member: Member, central_did: str, text: str, **kw: Any) -> Any:
    builder = client_utils.TextBuilder().mention("@coalesce.test", central_did).text(f" {text}")
    return await member.client.send_post(builder, **kw)


def ref(created: Any) -> dict[str, str]:
    return {"uri": created.uri, "cid": created.cid}


def reply_to(created: Any) -> dict[str, dict[str, str]]:
    return {"root": ref(created), "parent": ref(created)}


@pytest.fixture
async def make_adapter(atproto_network: AtprotoNetwork, vault_engine: Engine) -> AsyncIterator[Make]:
    made: list[BlueskyAdapter] = []

    def build(**overrides: Any) -> BlueskyAdapter:
        adapter = build_adapter(network_settings(atproto_network, **overrides), SystemClock(), vault_engine)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.close()


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:8]


async def _records(adapter: BlueskyAdapter, collection: str) -> list[Any]:
    reader = AsyncClient(base_url=adapter.settings.service_url)
    listed = await reader.com.atproto.repo.list_records(
        {"repo": adapter.did, "collection": collection, "limit": 100}
    )
    return list(listed.records)


async def test_a_quote_post_embeds_the_member_post_and_is_counted(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    adapter = make_adapter()
    await adapter.start()
    ana = await new_member(atproto_network, "ana")
    created = await tagged(ana, f"Our free clinic opens Saturday {token}", f"Fid{token}")
    await atproto_network.process_all()
    post = await adapter.resolve(created.uri)

    receipt = await adapter.quote(post, f"Spotlight of the week {token}")
    await atproto_network.process_all()

    assert receipt.action is Action.PUBLISH
    record = await ana.client.com.atproto.repo.get_record(
        {"repo": adapter.did, "collection": POST, "rkey": receipt.ref.rsplit("/", 1)[1]}
    )
    assert record.value.text == f"Spotlight of the week {token}"
    assert record.value.embed.py_type == "app.bsky.embed.record"
    assert (record.value.embed.record.uri, record.value.embed.record.cid) == (created.uri, created.cid)
    # The AppView shows the quote with the member's post inside it, and counts it on hers.
    (view,) = (await ana.client.get_posts([receipt.ref])).posts
    assert view.embed.record.uri == created.uri
    assert (await adapter.engagement([post]))[post.post_id].quotes == 1
    await adapter.undo(receipt)
    await atproto_network.process_all()
    assert (await adapter.engagement([post]))[post.post_id].quotes == 0


async def test_the_curation_list_is_kept_in_step_with_the_members(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    adapter = make_adapter()
    await adapter.start()
    ana, bea = await new_member(atproto_network, "ana"), await new_member(atproto_network, "bea")
    title = f"Members {token}"

    first = await adapter.sync_member_list(title, [ana.author, bea.author])
    assert (first.added, first.removed) == (2, 0)
    lists = [r for r in await _records(adapter, LIST) if r.value.name == title]
    assert [r.uri for r in lists] == [first.list_ref]
    assert lists[0].value.purpose == "app.bsky.graph.defs#curatelist"
    await atproto_network.process_all()
    shown = await ana.client.app.bsky.graph.get_list({"list": first.list_ref})
    assert sorted(i.subject.did for i in shown.items) == sorted([ana.did, bea.did])

    second = await adapter.sync_member_list(title, [bea.author])
    assert (second.list_ref, second.added, second.removed) == (first.list_ref, 0, 1)
    again = await adapter.sync_member_list(title, [bea.author])
    assert (again.list_ref, again.added, again.removed) == (first.list_ref, 0, 0)
    items = [r for r in await _records(adapter, LIST_ITEM) if r.value.list == first.list_ref]
    assert [i.value.subject for i in items] == [bea.did]
    await atproto_network.process_all()
    shown = await ana.client.app.bsky.graph.get_list({"list": first.list_ref})
    assert [i.subject.did for i in shown.items] == [bea.did]


async def test_a_withdrawn_interviews_posts_are_deleted_from_the_network(
    atproto_network: AtprotoNetwork, tmp_path: Path
) -> None:
    """The series runner publishes a confirmed interview on Bluesky, the member withdraws it,
    and every part of it is gone from the repository and from the AppView."""
    clock = FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    engine = make_engine(f"sqlite:///{tmp_path / 'series.db'}")
    upgrade(engine)
    data: dict[str, Any] = {
        **BASE_CONFIG,
        "platforms": {
            "bluesky": {
                "handle": atproto_network.central.handle,
                "app_password": "${BLUESKY_PASSWORD}",
                "service_url": atproto_network.pds_url,
                "firehose_url": atproto_network.pds_ws_url,
                "watch": "firehose",
                "request_timeout": 20,
            }
        },
        "series": {
            "schedule": [
                {
                    "name": "interview",
                    "kind": "interview",
                    "cron": "0 12 * * thu",
                    "timezone": "America/Chicago",
                }
            ]
        },
    }
    env = Environment({"BLUESKY_PASSWORD": atproto_network.central.password})
    settings = parse(data, env, schemas=settings_class)
    store = Store.open(engine, settings.community.slug, settings.community.name, clock.now())
    adapter = build_adapter(settings.platforms[Platform.BLUESKY], clock, None)
    await adapter.start()
    try:
        runner = SeriesRunner(
            store, {Platform.BLUESKY: adapter}, settings, clock, worker="w1", catalog=REGISTRY
        )
        interview_id = await confirmed_interview(runner, clock, f"Dra. Fidelity {uuid.uuid4().hex[:6]}")
        clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
        (published,) = await runner.run_due()
        assert (published.platform, published.state) == (Platform.BLUESKY, "done")
        parts = [uri for _, uri, _ in runner.publisher.parts(runner.publisher.rows(series="interview")[0].id)]
        assert parts
        assert all(uri.startswith(f"at://{adapter.did}/{POST}/") for uri in parts)
        await atproto_network.process_all()
        reader = (await new_member(atproto_network, "reader")).client
        assert len((await reader.get_posts(parts)).posts) == len(parts)

        clock.advance(seconds=timedelta(days=2).total_seconds())
        interview, outcomes = await runner.withdraw_interview(interview_id, by="member")
        assert interview.state == "withdrawn"
        assert [(o.platform, o.state) for o in outcomes] == [(Platform.BLUESKY, "withdrawn")]
        await atproto_network.process_all()
        assert not {r.uri for r in await _records(adapter, POST)} & set(parts)
        assert (await reader.get_posts(parts)).posts == []
    finally:
        await adapter.close()
        engine.dispose()


async def test_answers_to_members_are_replies_that_mention_them(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    adapter = make_adapter()
    await adapter.start()
    assert adapter.did is not None
    ana = await new_member(atproto_network, "ana")
    asked = await mentioning(ana, adapter.did, "optout")
    await atproto_network.process_all()

    long_answer = f"Done {token}: " + "you are out of every boost and digest from now on. " * 8
    receipt = await adapter.send_direct(ana.author, long_answer, reply_to=asked.uri)
    assert receipt is not None
    await atproto_network.process_all()
    thread = await ana.client.get_post_thread(receipt.ref, depth=10)
    first = thread.thread.post.record
    assert first.reply.parent.uri == asked.uri
    assert first.reply.root.uri == asked.uri
    assert first.text.startswith(f"@{ana.handle} Done {token}")
    mention = first.facets[0]
    assert first.text.encode()[mention.index.byte_start : mention.index.byte_end].decode() == f"@{ana.handle}"
    assert mention.features[0].did == ana.did
    # Longer than one post: it goes on as a thread under the first part.
    assert [r.post.record.reply.parent.uri for r in thread.thread.replies] == [receipt.ref]

    # The member deleted what they wrote: the deletion check sees it, and the answer stands on
    # its own.
    asked_post = await adapter.resolve(asked.uri)
    assert await adapter.posts_gone([asked_post]) == set()
    await ana.client.delete_post(asked.uri)
    await atproto_network.process_all()
    assert await adapter.posts_gone([asked_post]) == {asked.uri}
    alone = await adapter.send_direct(ana.author, f"Still done {token}", reply_to=asked.uri)
    assert alone is not None
    record = await ana.client.com.atproto.repo.get_record(
        {"repo": adapter.did, "collection": POST, "rkey": alone.ref.rsplit("/", 1)[1]}
    )
    assert record.value.reply is None
    assert record.value.text == f"@{ana.handle} Still done {token}"


async def test_search_mode_finds_posts_nominations_and_requests(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    """The local AppView's searchPosts is a case-sensitive substring match on the text (it
    ignores since and sort), so everything here is told apart by this test's own hashtag and
    token, written in lower case as the adapter asks for it (Bluesky's own search ignores case)."""
    adapter = make_adapter(watch="search")
    await adapter.start()
    assert adapter.did is not None
    ana, bea = await new_member(atproto_network, "ana"), await new_member(atproto_network, "bea")
    tag = f"fid{token}"  # lower case: the local search is case-sensitive, the adapter asks in lower case
    posted = await tagged(ana, f"Grand rounds {token}", tag)
    paper = await ana.client.send_post(f"Our paper on rural stroke care {token}")
    nominating = await mentioning(bea, adapter.did, f"this one {token}", reply_to=reply_to(paper))
    asking = await mentioning(bea, adapter.did, "optout")
    await atproto_network.process_all()

    batches = [b async for b in adapter.watch([tag], {}, follow=False)]

    assert [b.source for b in batches] == ["search"]
    (batch,) = batches
    assert [p.post_id for p in batch.posts] == [posted.uri]
    assert batch.posts[0].author.account_id == ana.did
    assert batch.posts[0].hashtags == {tag.lower()}
    mine = [n for n in batch.nominations if n.post.post_id == paper.uri]
    assert [(n.nominated_by.account_id, n.note) for n in mine] == [
        (bea.did, f"@coalesce.test this one {token}")
    ]
    requests = [r for r in batch.requests if r.reply_ref == asking.uri]
    assert [(r.kind, r.author.account_id) for r in requests] == [("optout", bea.did)]
    assert nominating.uri not in {p.post_id for p in batch.posts}
    assert batch.cursor is not None
    assert datetime.fromisoformat(batch.cursor.replace("Z", "+00:00")) <= datetime.now(UTC)


async def test_the_first_start_reads_back_by_search_then_follows_the_stream(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    ana = await new_member(atproto_network, "ana")
    tag = f"fid{token}"  # lower case: the local search is case-sensitive, the adapter asks in lower case
    before = await tagged(ana, f"Posted before the bot's first start {token}", tag)
    await atproto_network.process_all()
    adapter = make_adapter()  # firehose mode, no cursor stored: a first start
    await adapter.start()

    seen: list[Any] = []
    after_uri: str | None = None

    async def follow() -> None:
        nonlocal after_uri
        async for batch in adapter.watch([tag], {}, follow=True):
            seen.append(batch)
            # The stream joins the firehose at its live tip once the backfill is handed over;
            # its first batch (a cursor to save) says it is listening.
            if batch.source == "firehose" and after_uri is None:
                after_uri = (await tagged(ana, f"Posted after it {token}", tag)).uri
            if after_uri is not None and any(p.post_id == after_uri for p in batch.posts):
                return

    await asyncio.wait_for(follow(), WAIT_S * 2)

    backfill = [b for b in seen if b.source == "backfill"]
    assert [p.post_id for b in backfill for p in b.posts] == [before.uri]
    streamed = [p.post_id for b in seen if b.source == "firehose" for p in b.posts]
    assert streamed == [after_uri]  # the earlier one is not read twice
    position = Position.parse(seen[-1].cursor)
    assert position is not None
    assert position.seq is not None


async def test_nobot_in_a_profile_reaches_the_adapter_through_the_appview(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    adapter = make_adapter()
    await adapter.start()
    ana = await new_member(atproto_network, "ana")
    await ana.client.com.atproto.repo.put_record(
        {
            "repo": ana.did,
            "collection": "app.bsky.actor.profile",
            "rkey": "self",
            "record": {"$type": "app.bsky.actor.profile", "description": "Cardiologist. #nobot please"},
        }
    )
    tag = f"fid{token}"  # lower case: the local search is case-sensitive, the adapter asks in lower case
    created = await tagged(ana, f"Clinic news {token}", tag)
    await atproto_network.process_all()

    fetched = await adapter.fetch_author(ana.author)
    assert fetched is not None
    assert "#nobot" in fetched.bio
    # The stream's posts carry the author's profile (getProfiles on the AppView), marker and all.
    cursors: dict[str, str | None] = {"firehose": str(Position(0, None))}
    batches = [b async for b in adapter.watch([tag], cursors, follow=False)]
    (post,) = [p for b in batches for p in b.posts if p.post_id == created.uri]
    assert "#nobot" in post.author.bio


async def test_pile_on_counts_read_the_thread_and_the_relationships(
    atproto_network: AtprotoNetwork, make_adapter: Make, token: str
) -> None:
    adapter = make_adapter()
    await adapter.start()
    assert adapter.did is not None
    author, fan, stranger, other = [
        await new_member(atproto_network, n) for n in ("ana", "fan", "str", "oth")
    ]
    await fan.client.follow(author.did)
    created = await tagged(author, f"Why rural hospitals close {token}", f"Fid{token}")
    for who in (fan, stranger, other, author):  # the author's own reply never counts
        await who.client.send_post(f"reply {token}", reply_to=reply_to(created))
    await stranger.client.send_post(f"again {token}", reply_to=reply_to(created))  # counted once
    central = AsyncClient(base_url=atproto_network.pds_url)
    await central.login(atproto_network.central.handle, atproto_network.central.password)
    await central.send_post(f"ours {token}", reply_to=reply_to(created))  # ours never counts
    await atproto_network.process_all()
    post = await adapter.resolve(created.uri)

    assert await adapter.stranger_replies([post]) == {created.uri: 2}  # stranger and other
    await other.client.follow(author.did)
    await atproto_network.process_all()
    assert await adapter.stranger_replies([post]) == {created.uri: 1}
    follows = await adapter.follows_central([fan.did, stranger.did])
    assert follows == {fan.did: False, stranger.did: False}
    followers = await adapter.follower_count()
    await stranger.client.follow(adapter.did)
    await atproto_network.process_all()
    assert (await adapter.follows_central([stranger.did]))[stranger.did] is True
    assert await adapter.follower_count() == followers + 1
