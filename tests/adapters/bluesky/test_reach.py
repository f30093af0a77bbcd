"""Bluesky's reach methods (engagement, followers, who follows us, deleted posts, the members
list) on the sandbox, and once against the reference network."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from atproto import AsyncClient, client_utils
from sqlalchemy import Engine

from adapters.bluesky.adapter import BlueskyAdapter
from bot.clock import SystemClock
from bot.domain import Action, Author
from bot.ports import Engagement
from sandbox.bluesky import BlueskySandbox
from tests.adapters.bluesky.conftest import TAG, build_adapter, network_settings
from tests.atproto_network.fixture import AtprotoNetwork

Make = Callable[..., BlueskyAdapter]


async def test_engagement_followers_and_who_follows_us(sandbox: BlueskySandbox, make_adapter: Make) -> None:
    ana = sandbox.add_account("ana.test")
    bea = sandbox.add_account("bea.test")
    adapter = make_adapter()
    await adapter.start()
    me = adapter.central_account()
    assert me is not None
    assert (me.account_id, me.handle) == (sandbox.central, "coalesce.test")
    liked = await adapter.resolve(sandbox.post(ana, f"Matched! #{TAG}"))
    gone = await adapter.resolve(sandbox.post(ana, "soon deleted"))
    await adapter.amplify(liked, Action.BOOST)
    sandbox.like(bea, liked.post_id)
    sandbox.post(bea, "congratulations!", reply_to=liked.post_id)
    sandbox.delete(gone.post_id)
    sandbox.follow(bea, sandbox.central)
    sandbox.follow(sandbox.central, ana)  # we follow ana; she does not follow us

    counts = await adapter.engagement([liked, gone])

    assert counts == {liked.post_id: Engagement(likes=1, reposts=1, replies=1, quotes=0)}
    assert await adapter.follower_count() == 1
    unknown = "did:plc:nobodyhere234567abcdefgh"
    assert await adapter.follows_central([ana, bea, unknown, "not-a-did"]) == {ana: False, bea: True}
    assert await adapter.posts_gone([liked, gone]) == {gone.post_id}


async def test_the_members_list_is_brought_in_step(sandbox: BlueskySandbox, make_adapter: Make) -> None:
    ana, bea, cara = (sandbox.add_account(h) for h in ("ana.test", "bea.test", "cara.test"))
    adapter = make_adapter()

    first = await adapter.sync_member_list("Members", [Author(ana, "ana.test"), Author(bea, "bea.test")])
    again = await adapter.sync_member_list("Members", [Author(bea, "bea.test"), Author(cara, "cara.test")])
    steady = await adapter.sync_member_list("Members", [Author(bea, "bea.test"), Author(cara, "cara.test")])

    assert first.list_ref.startswith(f"at://{sandbox.central}/app.bsky.graph.list/")
    assert (first.added, first.removed) == (2, 0)
    assert (again.list_ref, again.added, again.removed) == (first.list_ref, 1, 1)
    assert (steady.added, steady.removed) == (0, 0)
    assert sandbox.list_members("Members") == sorted([bea, cara])
    [listed] = sandbox.records(sandbox.central, "app.bsky.graph.list")
    assert listed["purpose"] == "app.bsky.graph.defs#curatelist"


@pytest.mark.atproto_network
async def test_reach_against_the_reference_network(
    atproto_network: AtprotoNetwork, vault_engine: Engine
) -> None:
    adapter = build_adapter(network_settings(atproto_network), SystemClock(), vault_engine)
    try:
        alice = AsyncClient(base_url=atproto_network.pds_url)
        await alice.login(atproto_network.member.handle, atproto_network.member.password)
        created = await alice.send_post(client_utils.TextBuilder().text(f"Reach {uuid.uuid4().hex[:6]}"))
        await atproto_network.process_all()
        post = await adapter.resolve(created.uri)
        await adapter.amplify(post, Action.BOOST)
        follow = await alice.follow(atproto_network.central.did)
        await atproto_network.process_all()

        counts = await adapter.engagement([post])
        follows = await adapter.follows_central([atproto_network.member.did, atproto_network.members[1].did])
        synced = await adapter.sync_member_list(
            "Coalesce test members", [Author(alice.me.did, alice.me.handle)]
        )

        assert counts[post.post_id].reposts == 1
        assert follows[atproto_network.member.did] is True
        assert follows[atproto_network.members[1].did] is False
        assert await adapter.follower_count() >= 1
        assert synced.list_ref.startswith(f"at://{atproto_network.central.did}/app.bsky.graph.list/")
        items = await alice.com.atproto.repo.list_records(
            {"repo": atproto_network.central.did, "collection": "app.bsky.graph.listitem"}
        )
        # (other tests on this shared network keep lists of their own)
        ours = [(r.value.subject, r.value.list) for r in items.records if r.value.list == synced.list_ref]
        assert ours == [(alice.me.did, synced.list_ref)]
        await alice.delete_follow(follow.uri)
    finally:
        await adapter.close()
