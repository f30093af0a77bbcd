"""The sandbox world starts the three sandboxes together and says how a bot reaches them."""

from __future__ import annotations

import socket

import pytest

from adapters.registry import settings_class
from bot.clock import FakeClock
from bot.config import parse
from bot.domain import Platform
from bot.schema import Environment
from sandbox.world import Rooms, SandboxWorld
from tests.conftest import BASE_CONFIG


def test_the_platforms_section_parses_and_points_at_the_running_sandboxes(clock: FakeClock) -> None:
    with SandboxWorld(clock=clock.now, bluesky={"handle": "central.test"}) as world:
        config = {**BASE_CONFIG, "platforms": world.platforms_config(secrets_prefix="W")}
        settings = parse(config, Environment(world.secrets("W")), schemas=settings_class)

        assert set(settings.enabled_platforms()) == set(Platform)
        section = world.platforms_config()
        assert section["mastodon"]["api_base_url"] == world.mastodon.base_url
        assert section["mastodon"]["access_token"] == world.mastodon.token
        assert section["bluesky"]["handle"] == "central.test"
        assert section["bluesky"]["jetstream_url"] == world.bluesky.ws_url
        assert section["telegram"]["base_url"] == world.telegram.bot_base_url
        assert world.mastodon.now() == world.bluesky.now() == clock.now()


def test_rooms_hold_the_curators_and_the_community() -> None:
    rooms = Rooms(curators=-1001, community=-1002, channel=-1003)
    with SandboxWorld(rooms=rooms) as world:
        ana = world.telegram.add_user(1, "Ana")
        bea = world.telegram.add_user(2, "Bea")
        world.open_rooms([ana], [bea], name="Test Community", channel_username="testcommunity")

        sent = world.telegram.user_sends(bea, rooms.community, "hello")
        assert world.telegram.message(rooms.community, sent.message_id).text == "hello"
        world.telegram.user_sends(ana, rooms.curators, "hi curators")
        assert [m.text for m in world.telegram.messages(rooms.curators)] == ["hi curators"]
        with pytest.raises(ValueError, match="unknown chat"):
            world.telegram.user_sends(bea, -1004, "nobody made this chat")


def test_a_world_that_cannot_start_stops_what_it_started() -> None:
    world = SandboxWorld()
    world.telegram.start = _refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="no"):
        world.start()
    for started in (world.mastodon, world.bluesky):  # both were up, and both are down again
        port = int(started.base_url.rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def _refuse() -> None:
    raise RuntimeError("no")
