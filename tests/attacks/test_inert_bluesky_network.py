"""On the reference Bluesky network (PLC + PDS + AppView from @atproto/dev-env), a post of the
central account that repeats a stranger's words mentions and tags no one, and a direct answer
mentions only its member: the records hold no other mention or tag facet, and the AppView gives
the other account no notification, while the member does get hers.
"""

from __future__ import annotations

import pytest
from atproto import AsyncClient

from bot.clock import SystemClock
from bot.domain import Author
from tests.adapters.bluesky.conftest import build_adapter, network_settings
from tests.atproto_network.fixture import AtprotoAccount, AtprotoNetwork

pytestmark = pytest.mark.atproto_network

TAG = "LatinasInMedicine"


async def _mentions_of(network: AtprotoNetwork, account: AtprotoAccount, by: str) -> list[str]:
    """The post URIs of ``by`` that mention ``account``, as the AppView notifies them."""
    client = AsyncClient(base_url=network.pds_url)
    await client.login(account.handle, account.password)
    found = await client.app.bsky.notification.list_notifications()
    return [n.uri for n in found.notifications if n.reason == "mention" and n.author.did == by]


async def test_the_central_account_mentions_no_one_a_stranger_named(atproto_network: AtprotoNetwork) -> None:
    network = atproto_network
    member, victim = network.members[0], network.members[1]
    adapter = build_adapter(network_settings(network), SystemClock(), None)
    adapter.own_tags = frozenset({TAG.casefold()})
    try:
        await adapter.start()
        title = f"Fellowship @{victim.handle} #SpamTag $SPAM evil.com https://grants.example.org/x #{TAG}"
        published = await adapter.publish_part(f"📢 This week: {title}")
        answered = await adapter.send_direct(
            Author(member.did, member.handle), f"Done! (Someone asked as @{victim.handle} #SpamTag)"
        )
        assert answered is not None

        reader = AsyncClient(base_url=network.pds_url)
        facets = []
        for receipt in (published, answered):
            record = await reader.app.bsky.feed.post.get(adapter.did, receipt.ref.rsplit("/", 1)[1])
            assert victim.handle in record.value.text  # the words are there, as written
            facets += [f for facet in record.value.facets or [] for f in facet.features]
        assert [f.did for f in facets if hasattr(f, "did")] == [member.did]
        assert [f.tag for f in facets if hasattr(f, "tag")] == [TAG]
        assert [f.uri for f in facets if hasattr(f, "uri")] == ["https://grants.example.org/x"]

        if network.has_appview:
            await network.process_all()
            # Only this test's two posts are judged: the network is shared by the session, and
            # other tests' central account answers these members too.
            ours = {published.ref, answered.ref}
            assert [uri for uri in await _mentions_of(network, victim, adapter.did) if uri in ours] == []
            mentioned = [uri for uri in await _mentions_of(network, member, adapter.did) if uri in ours]
            assert mentioned == [answered.ref]
    finally:
        await adapter.close()
