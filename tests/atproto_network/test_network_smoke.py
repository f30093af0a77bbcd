"""Smoke test: the real atproto SDK against the reference network started by the fixture."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from atproto import (
    CAR,
    AsyncClient,
    AsyncFirehoseSubscribeReposClient,
    AtUri,
    client_utils,
    firehose_models,
    models,
    parse_subscribe_repos_message,
)
from atproto.exceptions import BadRequestError

from tests.atproto_network.fixture import AtprotoAccount, AtprotoNetwork

pytestmark = pytest.mark.atproto_network

FIREHOSE_WAIT_S = 30.0
HASHTAG = "coalesce"


async def _login(network: AtprotoNetwork, account: AtprotoAccount) -> AsyncClient:
    client = AsyncClient(base_url=network.pds_url)
    # Without an AppView the PDS cannot serve app.bsky.actor.getProfile.
    profile = await client.login(account.handle, account.password, fetch_bsky_profile=network.has_appview)
    if network.has_appview:
        assert profile is not None
        assert profile.did == account.did
    assert client.me is profile
    return client


async def _repost(
    client: AsyncClient, account: AtprotoAccount, uri: str, cid: str
) -> models.AppBskyFeedRepost.CreateRecordResponse:
    if client.me is not None:
        return await client.repost(uri, cid)
    # AsyncClient.repost() takes the repo from client.me, which only a profile fetch
    # through an AppView fills in; write the record directly instead.
    record = models.AppBskyFeedRepost.Record(
        subject=models.ComAtprotoRepoStrongRef.Main(uri=uri, cid=cid),
        created_at=client.get_current_time_iso(),
    )
    return await client.app.bsky.feed.repost.create(account.did, record)


def _hashtag_post(token: str) -> client_utils.TextBuilder:
    return client_utils.TextBuilder().text(f"Grand rounds {token} today ").tag(f"#{HASHTAG}", HASHTAG)


def _tag_facets(record: models.AppBskyFeedPost.Record) -> list[tuple[int, int, str]]:
    found = []
    for facet in record.facets or []:
        for feature in facet.features:
            if isinstance(feature, models.AppBskyRichtextFacet.Tag):
                found.append((facet.index.byte_start, facet.index.byte_end, feature.tag))
    return found


async def test_member_post_is_reposted_and_unreposted_by_the_central_account(
    atproto_network: AtprotoNetwork,
) -> None:
    member = await _login(atproto_network, atproto_network.member)
    token = uuid.uuid4().hex[:12]
    builder = _hashtag_post(token)
    text = builder.build_text()

    # send_post() also takes the repo from client.me unless profile_identify is given.
    post = await member.send_post(builder, profile_identify=atproto_network.member.did)

    uri = AtUri.from_str(post.uri)
    assert uri.host == atproto_network.member.did
    assert uri.collection == "app.bsky.feed.post"
    stored = await member.app.bsky.feed.post.get(atproto_network.member.did, uri.rkey)
    assert stored.cid == post.cid
    assert stored.value.text == text
    tag_start = len(text.encode()) - len(f"#{HASHTAG}".encode())
    assert _tag_facets(stored.value) == [(tag_start, len(text.encode()), HASHTAG)]

    central = await _login(atproto_network, atproto_network.central)
    central_did = atproto_network.central.did
    repost = await _repost(central, atproto_network.central, post.uri, post.cid)

    repost_uri = AtUri.from_str(repost.uri)
    assert repost_uri.host == central_did
    assert repost_uri.collection == "app.bsky.feed.repost"
    record = await central.app.bsky.feed.repost.get(central_did, repost_uri.rkey)
    assert record.uri == repost.uri
    assert record.value.subject.uri == post.uri
    assert record.value.subject.cid == post.cid
    # The network is shared by the session: other tests' reposts by the central account are there
    # too, so this test judges the reposts of its own post.
    listed = await central.app.bsky.feed.repost.list(central_did)
    assert [u for u, r in listed.records.items() if r.subject.uri == post.uri] == [repost.uri]

    assert await central.delete_repost(repost.uri) is True

    with pytest.raises(BadRequestError) as gone:
        await central.app.bsky.feed.repost.get(central_did, repost_uri.rkey)
    assert gone.value.response is not None
    assert gone.value.response.content.error == "RecordNotFound"
    after = (await central.app.bsky.feed.repost.list(central_did)).records
    assert [u for u, r in after.items() if r.subject.uri == post.uri] == []


async def test_firehose_carries_the_commit_of_a_new_post(atproto_network: AtprotoNetwork) -> None:
    member_did = atproto_network.member.did
    member = await _login(atproto_network, atproto_network.member)
    seen = asyncio.Event()
    wanted: dict[str, Any] = {}  # path -> expected record CID, filled once the post exists
    commits: list[models.ComAtprotoSyncSubscribeRepos.Commit] = []
    callback_errors: list[BaseException] = []

    async def on_message(frame: firehose_models.MessageFrame) -> None:
        if frame.type != "#commit":
            return
        commit = parse_subscribe_repos_message(frame)
        if not isinstance(commit, models.ComAtprotoSyncSubscribeRepos.Commit) or commit.repo != member_did:
            return
        commits.append(commit)
        _check(commit)

    def _check(commit: models.ComAtprotoSyncSubscribeRepos.Commit) -> None:
        for op in commit.ops:
            if op.action == "create" and op.path in wanted and str(op.cid) == wanted[op.path]:
                blocks = CAR.from_bytes(commit.blocks).blocks
                record = blocks.get(op.cid)
                assert record is not None, f"commit {commit.seq} lacks the block of {op.path}"
                wanted["record"] = record
                seen.set()

    async def on_error(exc: BaseException) -> None:
        callback_errors.append(exc)
        seen.set()

    # cursor 0 replays the PDS's history first, so the post's commit is delivered
    # however the subscription's start races with the post.
    firehose = AsyncFirehoseSubscribeReposClient(params={"cursor": 0}, base_uri=atproto_network.pds_ws_url)
    task = asyncio.create_task(firehose.start(on_message, on_error))
    try:
        post = await member.send_post(_hashtag_post(uuid.uuid4().hex[:12]), profile_identify=member_did)
        uri = AtUri.from_str(post.uri)
        wanted[f"{uri.collection}/{uri.rkey}"] = post.cid
        for commit in list(commits):  # commits that arrived before `wanted` was known
            _check(commit)
        await asyncio.wait_for(seen.wait(), timeout=FIREHOSE_WAIT_S)
    finally:
        await firehose.stop()
        await asyncio.wait_for(task, timeout=FIREHOSE_WAIT_S)

    assert callback_errors == []
    record = wanted["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["text"].startswith("Grand rounds ")
    assert record["facets"][0]["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": HASHTAG}


async def test_appview_indexes_and_searches_the_post(atproto_network: AtprotoNetwork) -> None:
    if not atproto_network.has_appview:
        pytest.skip("network started without an AppView (COALESCE_ATPROTO_MODE=no-appview)")
    member = await _login(atproto_network, atproto_network.member)
    central = await _login(atproto_network, atproto_network.central)
    token = uuid.uuid4().hex[:12]
    post = await member.send_post(_hashtag_post(token))

    await atproto_network.process_all()

    # The PDS proxies app.bsky.* reads to the AppView.
    views = await central.get_posts([post.uri])
    assert [v.uri for v in views.posts] == [post.uri]
    assert views.posts[0].author.handle == atproto_network.member.handle

    # The local AppView has no search service: searchPosts is a case-sensitive
    # substring match on the post text (`from:` narrows by author).
    found = await central.app.bsky.feed.search_posts({"q": f"{token} today #{HASHTAG}"})
    assert [p.uri for p in found.posts] == [post.uri]
    by_author = await central.app.bsky.feed.search_posts(
        {"q": f"from:{atproto_network.member.handle} {token}"}
    )
    assert [p.uri for p in by_author.posts] == [post.uri]
    upper = await central.app.bsky.feed.search_posts({"q": f"{token.upper()} TODAY"})
    assert upper.posts == []
