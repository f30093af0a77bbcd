"""The Bluesky sandbox itself, through the real SDK: searchPosts semantics that the reference
AppView does not implement, and the Jetstream v2 wire as the SDK's own typed client reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from atproto import AsyncClient, AsyncJetstreamClient, models
from atproto_jetstream.exceptions import JetstreamCursorTooOldError

from bot.clock import FakeClock
from sandbox.bluesky import BlueskySandbox

TAG = "LatinasInMedicine"


@pytest.fixture
async def client(sandbox: BlueskySandbox) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(base_url=sandbox.base_url)
    await c.login("coalesce.test", sandbox.password, fetch_bsky_profile=False)
    yield c
    await c.request.close()


async def search(client: AsyncClient, **params: Any) -> list[str]:
    out = await client.app.bsky.feed.search_posts(params)
    return [p.record.text for p in out.posts]


async def test_search_tags_are_case_blind_anded_and_read_from_facets_and_the_tags_field(
    sandbox: BlueskySandbox, client: AsyncClient
) -> None:
    ana = sandbox.add_account("ana.test")
    sandbox.post(ana, f"one #{TAG}")
    sandbox.post(ana, f"two #{TAG.upper()} #MedEd")
    sandbox.post(ana, "three", tags=["latinasinmedicine"])
    sandbox.post(ana, f"four {TAG} without the hash")
    assert sorted(await search(client, q=f"#{TAG.lower()}")) == [
        "one #LatinasInMedicine",
        "three",
        "two #LATINASINMEDICINE #MedEd",
    ]
    assert await search(client, q="*two*", tag=[TAG, "meded"]) == []  # words must match too
    assert await search(client, q="two", tag=[TAG, "meded"]) == ["two #LATINASINMEDICINE #MedEd"]
    assert await search(client, q="without", tag=[TAG]) == []  # plain text is not a tag


async def test_search_since_until_sort_order_and_cursor_pages(
    sandbox: BlueskySandbox, client: AsyncClient, clock: FakeClock
) -> None:
    ana = sandbox.add_account("ana.test")
    for hours in (30, 20, 10, 5, 1):
        sandbox.post(ana, f"{hours}h ago #{TAG}", created_at=clock.now() - timedelta(hours=hours))
    since = (clock.now() - timedelta(hours=12)).isoformat()
    until = (clock.now() - timedelta(hours=2)).isoformat()
    assert await search(client, q=f"#{TAG}", since=since) == [
        f"1h ago #{TAG}",
        f"5h ago #{TAG}",
        f"10h ago #{TAG}",
    ]
    assert await search(client, q=f"#{TAG}", since=since, until=until) == [
        f"5h ago #{TAG}",
        f"10h ago #{TAG}",
    ]
    pages, cursor = [], None
    while True:
        out = await client.app.bsky.feed.search_posts({"q": f"#{TAG}", "limit": 2, "cursor": cursor})
        pages.append([p.record.text for p in out.posts])
        cursor = out.cursor
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert pages[0][0] == f"1h ago #{TAG}"


async def test_search_mentions_author_and_bad_requests(sandbox: BlueskySandbox, client: AsyncClient) -> None:
    ana = sandbox.add_account("ana.test")
    bea = sandbox.add_account("bea.test")
    sandbox.post(ana, "@coalesce.test look at this")
    sandbox.post(bea, "mentions coalesce.test in words only")
    assert await search(client, q="@coalesce.test", mentions="coalesce.test") == [
        "@coalesce.test look at this"
    ]
    assert await search(client, q="coalesce.test", author="bea.test") == [
        "mentions coalesce.test in words only"
    ]
    assert await search(client, q="from:ana.test look") == ["@coalesce.test look at this"]
    # What the SDK would refuse before sending, the server refuses too.
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        too_many = await http.get("/xrpc/app.bsky.feed.searchPosts", params={"q": "x", "limit": 101})
        no_query = await http.get("/xrpc/app.bsky.feed.searchPosts", params={"tag": TAG})
    assert (too_many.status_code, too_many.json()["error"]) == (400, "InvalidRequest")
    assert (no_query.status_code, no_query.json()["error"]) == (400, "InvalidRequest")


async def test_get_post_thread_shows_replies_to_the_depth_asked_and_parents(
    sandbox: BlueskySandbox, client: AsyncClient
) -> None:
    ana, bea, cara = (sandbox.add_account(h) for h in ("ana.test", "bea.test", "cara.test"))
    root = sandbox.post(ana, "Matched into pediatrics!")
    first = sandbox.post(bea, "congratulations", reply_to=root)
    sandbox.post(cara, "so proud", reply_to=root)
    deeper = sandbox.post(ana, "thank you!", reply_to=first)

    # The SDK's typed models read the answer: the lexicon's shape, unions tagged with $type.
    out = await client.app.bsky.feed.get_post_thread({"uri": root, "depth": 1})
    thread = out.thread
    assert isinstance(thread, models.AppBskyFeedDefs.ThreadViewPost)
    assert thread.post.uri == root
    assert thread.parent is None
    replies = thread.replies or []
    assert [
        r.post.author.handle for r in replies if isinstance(r, models.AppBskyFeedDefs.ThreadViewPost)
    ] == [
        "bea.test",
        "cara.test",
    ]
    assert all(not r.replies for r in replies if isinstance(r, models.AppBskyFeedDefs.ThreadViewPost))

    down = await client.app.bsky.feed.get_post_thread({"uri": root})  # depth 6 by default
    (bea_reply,) = [r for r in down.thread.replies or [] if r.post.uri == first]
    assert [r.post.uri for r in bea_reply.replies or []] == [deeper]

    up = await client.app.bsky.feed.get_post_thread({"uri": deeper, "depth": 0})
    assert isinstance(up.thread, models.AppBskyFeedDefs.ThreadViewPost)
    assert up.thread.replies is None
    assert up.thread.parent.post.uri == first
    assert up.thread.parent.parent.post.uri == root

    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        missing = await http.get(
            "/xrpc/app.bsky.feed.getPostThread", params={"uri": root.replace(root[-6:], "aaaaaa")}
        )
        too_deep = await http.get("/xrpc/app.bsky.feed.getPostThread", params={"uri": root, "depth": 1001})
    assert (missing.status_code, missing.json()["error"]) == (400, "NotFound")
    assert (too_deep.status_code, too_deep.json()["error"]) == (400, "InvalidRequest")


async def test_jetstream_speaks_the_sdk_typed_protocol_with_inclusive_cursors(
    sandbox: BlueskySandbox,
) -> None:
    ana = sandbox.add_account("ana.test")
    uris = [sandbox.post(ana, f"post {i}") for i in range(3)]
    sandbox.follow(ana, sandbox.central)  # another collection: filtered out by the server
    received: list[Any] = []
    done = asyncio.Event()

    async def on_message(message: Any) -> None:
        received.append(message)
        if len(received) == 2:
            done.set()

    stream = AsyncJetstreamClient(
        params={"collections": ["app.bsky.feed.post"], "cursor": 2}, base_uri=sandbox.ws_url, compress=False
    )
    task = asyncio.create_task(stream.start(on_message))
    await asyncio.wait_for(done.wait(), 10)
    await stream.stop()
    await asyncio.wait_for(task, 10)

    assert all(isinstance(m, models.NetworkBskyJetstreamSubscribeEvents.Commit) for m in received)
    assert [m.seq for m in received] == [2, 3]  # inclusive from the cursor
    assert [f"at://{m.did}/{m.collection}/{m.rkey}" for m in received] == uris[1:]
    assert received[0].record.text == "post 1"
    assert stream.cursor == 3


async def test_jetstream_refuses_a_cursor_below_its_retention_before_the_upgrade(
    sandbox: BlueskySandbox,
) -> None:
    ana = sandbox.add_account("ana.test")
    for i in range(3):
        sandbox.post(ana, f"post {i}")
    sandbox.forget_events_before(3)
    stream = AsyncJetstreamClient(params={"cursor": 1}, base_uri=sandbox.ws_url, compress=False)

    async def ignore(_: Any) -> None:
        return None

    with pytest.raises(JetstreamCursorTooOldError):
        await asyncio.wait_for(stream.start(ignore), 10)
