"""Config: every mistake stops start-up with one line naming the key and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import settings_class
from bot.config import load, parse
from bot.domain import Platform
from bot.errors import ConfigError
from bot.schema import Environment

GOOD: dict[str, Any] = {
    "community": {"slug": "lim", "name": "LIM", "hashtags": ["LatinasInMedicine"]},
    "platforms": {
        "mastodon": {"api_base_url": "https://med.example", "access_token": "${MASTODON_ACCESS_TOKEN}"}
    },
}
ENV = {"MASTODON_ACCESS_TOKEN": "tok-123456789"}


def _with(path: str, value: Any) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


def test_good_config_is_frozen_and_typed() -> None:
    s = parse(GOOD, Environment(ENV), schemas=settings_class)
    assert s.community.tags == ("latinasinmedicine",)
    assert s.enabled_platforms() == [Platform.MASTODON]
    assert s.secrets == frozenset({"tok-123456789"})
    with pytest.raises(AttributeError):
        s.community.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("path", "value", "key", "reason"),
    [
        ("community.hashtags", [], "community.hashtags", "needs at least one hashtag"),
        ("community.hashtags", "LatinasInMedicine", "community.hashtags", "expected a list of text"),
        ("community.colour", "red", "community.colour", "unknown key"),
        ("community.name", _DELETE, "community.name", "is required"),
        ("curation.approvals_required", "two", "curation.approvals_required", "expected a whole number"),
        ("curation.include_replies", "yes", "curation.include_replies", "expected true or false"),
        ("community.consent", "maybe", "community.consent", "expected one of 'opt-out', 'opt-in'"),
        ("platforms.myspace", {}, "platforms.myspace", "unknown platform"),
        (
            "platforms.mastodon.access_token",
            "plain-text-token",
            "platforms.mastodon.access_token",
            "is a secret",
        ),
        (
            "platforms.mastodon.api_base_url",
            "med.example",
            "platforms.mastodon.api_base_url",
            "expected a URL",
        ),
        ("platforms.mastodon.page_size", 80, "platforms.mastodon.page_size", "expected 1 to 40"),
        ("amplify.max_per_hour", 0, "amplify.max_per_hour", "expected 1 to 1000000, got 0"),
        ("curators", [{"name": "ana"}, {"name": "ana"}], "curators[1].name", "listed twice"),
    ],
)
def test_each_mistake_names_its_key(path: str, value: Any, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(_with(path, value), Environment(ENV), schemas=settings_class)
    assert info.value.key == key
    assert reason in info.value.reason


def test_missing_environment_variable_is_named_and_no_secret_leaks() -> None:
    with pytest.raises(ConfigError) as info:
        parse(GOOD, Environment({}), schemas=settings_class)
    assert info.value.key == "platforms.mastodon.access_token"
    assert "MASTODON_ACCESS_TOKEN is not set" in str(info.value)


def test_two_person_approval_needs_two_curators() -> None:
    data = _with("curation.approvals_required", 2)
    data["curators"] = [{"name": "ana"}]
    with pytest.raises(ConfigError, match="needs 2 curators"):
        parse(data, Environment(ENV), schemas=settings_class)


def test_database_url_comes_from_the_environment_when_set() -> None:
    env = Environment({**ENV, "DATABASE_URL": "postgresql://postgres@127.0.0.1/test"})
    s = parse(GOOD, env, schemas=settings_class)
    assert s.database.url == "postgresql://postgres@127.0.0.1/test"


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("community:\n  slug: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load(f, schemas=settings_class)
    assert str(f) in str(info.value)
    assert "line" in str(info.value)


def test_check_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_text(
        "community: {slug: lim, name: LIM, hashtags: [X]}\n"
        "platforms:\n  mastodon: {api_base_url: 'https://m.example', access_token: '${TOK}'}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "TOK": "super-secret-token"}
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(f)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert "super-secret-token" not in ok.stdout + ok.stderr
    f.write_text(f.read_text().replace("hashtags: [X]", "hashtags: []"))
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(f)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "config error: community.hashtags: needs at least one hashtag to watch"
    assert "Traceback" not in bad.stderr


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[3] / "config.example.yaml"
    env = {"MASTODON_ACCESS_TOKEN": "x" * 10, "BLUESKY_APP_PASSWORD": "y" * 10, "TELEGRAM_BOT_TOKEN": "1:z"}
    s = load(example, Environment(env), schemas=settings_class)
    assert s.community.hashtags
