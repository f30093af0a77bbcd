"""``platforms.bluesky`` in config.yaml: what is accepted, and one clear line for each mistake."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.bluesky.settings import BlueskySettings
from adapters.registry import settings_class
from bot.config import parse
from bot.domain import Platform
from bot.errors import ConfigError
from bot.schema import Environment

ENV = Environment({"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"})


def config(**bluesky: Any) -> dict[str, Any]:
    return {
        "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
        "platforms": {"bluesky": {"handle": "latinasinmed.bsky.social", **bluesky}},
    }


def test_a_minimal_bluesky_section() -> None:
    settings = parse(config(app_password="${BLUESKY_APP_PASSWORD}"), ENV, schemas=settings_class)
    bluesky = settings.platforms[Platform.BLUESKY]
    assert isinstance(bluesky, BlueskySettings)
    assert (bluesky.watch, bluesky.account, bluesky.app_password) == (
        "jetstream",
        "latinasinmed.bsky.social",
        "abcd-efgh-ijkl-mnop",
    )
    assert "abcd-efgh-ijkl-mnop" in settings.secrets  # so the logs mask it


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"app_password": "abcd-efgh-ijkl-mnop"}, "platforms.bluesky.app_password: is a secret: write it as"),
        ({}, "platforms.bluesky.app_password: is required"),
        ({"watch": "pigeon"}, "platforms.bluesky.watch: expected one of 'jetstream', 'firehose', 'search'"),
        ({"handle": "not a handle"}, "platforms.bluesky.handle: expected a handle"),
        (
            {"firehose_url": "https://bsky.network"},
            "platforms.bluesky.firehose_url: expected a WebSocket URL",
        ),
        ({"search_page_size": 500}, "platforms.bluesky.search_page_size: expected 1 to 100"),
        ({"write_points_per_hour": 9000}, "platforms.bluesky.write_points_per_hour: expected 3 to 5000"),
        ({"poll_seconds": 0}, "platforms.bluesky.poll_seconds: expected a positive number"),
        ({"colour": "blue"}, "platforms.bluesky.colour: unknown key"),
    ],
)
def test_mistakes_name_the_key(overrides: dict[str, Any], message: str) -> None:
    data = config(**{"app_password": "${BLUESKY_APP_PASSWORD}", **overrides})
    if not overrides:
        del data["platforms"]["bluesky"]["app_password"]
    with pytest.raises(ConfigError) as err:
        parse(data, ENV, schemas=settings_class)
    assert str(err.value).startswith(message)
    assert "abcd-efgh-ijkl-mnop" not in str(err.value)
