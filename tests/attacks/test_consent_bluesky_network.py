"""On the reference Bluesky network (PLC, PDS, AppView from @atproto/dev-env), through the real
atproto library and the whole bot: a member's `link` gets no code in the public reply, only where
to ask for one in private, and "Opt–out please 🙏" (en dash, emoji) opts her out."""

from __future__ import annotations

import re

import pytest
from atproto import AsyncClient, client_utils
from sqlalchemy import Engine, select

from adapters.bluesky.adapter import Position
from bot.app import Coalesce
from bot.clock import SystemClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from tests.adapters.bluesky.conftest import build_adapter, network_settings
from tests.atproto_network.fixture import AtprotoNetwork

pytestmark = pytest.mark.atproto_network

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")


async def _ask(client: AsyncClient, network: AtprotoNetwork, text: str) -> str:
    central = network.central
    builder = client_utils.TextBuilder().mention(f"@{central.handle}", central.did).text(f" {text}")
    created = await client.send_post(builder)
    return str(created.uri)


async def _answer_to(client: AsyncClient, network: AtprotoNetwork, uri: str) -> str:
    """The central account's reply under the member's post ``uri``."""
    records = await client.com.atproto.repo.list_records(
        {"repo": network.central.did, "collection": "app.bsky.feed.post", "limit": 100}
    )
    for record in records.records:
        reply = getattr(record.value, "reply", None)
        if reply is not None and reply.parent.uri == uri:
            return str(record.value.text)
    raise AssertionError(f"no answer under {uri}")


async def test_link_and_opt_out_words_on_the_reference_network(
    atproto_network: AtprotoNetwork, engine: Engine, settings: Settings
) -> None:
    adapter = build_adapter(network_settings(atproto_network), SystemClock(), engine)
    app = Coalesce(settings, engine=engine, adapters={Platform.BLUESKY: adapter})
    await app.start()
    try:
        app.store.ingest(
            Platform.BLUESKY, [], app.clock.now(), source="firehose", cursor=str(Position(0, None))
        )
        member = atproto_network.members[-1]
        client = AsyncClient(base_url=atproto_network.pds_url)
        await client.login(member.handle, member.password)
        link_uri = await _ask(client, atproto_network, "link")
        out_uri = await _ask(client, atproto_network, "Opt–out please 🙏")
        await atproto_network.process_all()

        await app.run_once()
        await app.trust.run_once()
        await atproto_network.process_all()

        link_answer = await _answer_to(client, atproto_network, link_uri)
        assert "only sent in private" in link_answer
        assert CODE.search(link_answer) is None
        assert "Done" in await _answer_to(client, atproto_network, out_uri)
        with engine.connect() as conn:
            assert conn.execute(select(m.LinkCode.id)).all() == []
            consent = conn.execute(
                select(m.Account.consent).where(m.Account.platform_account_id == member.did)
            ).scalar_one()
        assert consent == "out"
    finally:
        await app.stop()
