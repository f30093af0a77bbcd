"""A direct answer reaches only the member it answers, whatever the text holds.

On Mastodon every account a "direct" status mentions is one of its recipients, so a handle in the
text would make it reach that person too; on Bluesky the answer is a public reply whose mention
facets notify. Through Mastodon.py and atproto against the sandboxes: the status mentions the
member alone and no one else can read it; the reply's only mention facet is the member's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from mastodon import Mastodon, MastodonNotFoundError

from adapters.bluesky.adapter import BlueskyAdapter
from bot.clock import FakeClock
from bot.domain import Author
from bot.errors import Rejected
from sandbox.bluesky import BlueskySandbox
from sandbox.mastodon import MastodonSandbox
from tests.adapters.bluesky.conftest import build_adapter, sandbox_settings
from tests.attacks.inert_hostile import hostile
from tests.mastodon_adapter import sandbox_adapter

TOKEN = "central-token"
ANSWER = "Done: you are opted out. (Asked by @victim@med.example and @victim, cc @other@far.example #SpamTag)"


@pytest.fixture
def mastodon(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN, clock=clock.now) as sb:
        sb.add_account("maria")
        sb.add_account("victim")
        sb.add_account("other", "far.example")
        yield sb


def _send(sandbox: MastodonSandbox, clock: FakeClock, member: Author, text: str) -> dict[str, Any]:
    async def go() -> str:
        adapter = sandbox_adapter(sandbox.base_url, TOKEN, clock)
        receipt = await adapter.send_direct(member, text)
        assert receipt is not None
        return receipt.ref

    ref = asyncio.run(go())
    status = sandbox.status(ref)
    assert status is not None
    return status


def _reader(sandbox: MastodonSandbox, account: str) -> Mastodon:
    """Mastodon.py acting as ``account``."""
    token = sandbox.issue_token(account)
    return Mastodon(api_base_url=sandbox.base_url, access_token=token, version_check_mode="none")


def test_a_direct_answer_on_mastodon_reaches_the_member_alone(
    mastodon: MastodonSandbox, clock: FakeClock
) -> None:
    maria = Author(account_id="1", handle="maria@med.example")
    status = _send(mastodon, clock, maria, ANSWER)
    assert status["visibility"] == "direct"
    assert [m["acct"] for m in status["mentions"]] == ["maria"]
    assert status["tags"] == []
    # Through the real library, as each of them: the member reads it, the others cannot.
    assert _reader(mastodon, "maria").status(status["id"])["id"] == status["id"]
    for name in ("victim", "other@far.example"):
        with pytest.raises(MastodonNotFoundError):
            _reader(mastodon, name).status(status["id"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile)
@example(text="@victim @other@far.example")
def test_any_text_in_a_direct_answer_reaches_only_the_member(
    mastodon: MastodonSandbox, clock: FakeClock, text: str
) -> None:
    maria = Author(account_id="0", handle="maria@med.example")
    status = _send(mastodon, clock, maria, text or "ok")
    assert [m["acct"] for m in status["mentions"]] == ["maria"]
    assert status["tags"] == []


def test_a_handle_that_could_address_someone_else_is_refused(
    mastodon: MastodonSandbox, clock: FakeClock
) -> None:
    """A member's handle comes from her server; one that is not a single handle is not sent."""
    for handle in (
        "maria@med.example @victim",
        "maria @victim@med.example",
        "@",
        "maria@med.example\n@victim",
    ):
        with pytest.raises(Rejected):
            _send(mastodon, clock, Author(account_id="1", handle=handle), "hello")


async def test_a_bluesky_answer_mentions_the_member_alone(clock: FakeClock) -> None:
    with BlueskySandbox(clock=clock.now) as bsky:
        maria = bsky.add_account("maria.test")
        victim = bsky.add_account("victim.test")
        adapter: BlueskyAdapter = build_adapter(sandbox_settings(bsky), clock, None)
        try:
            await adapter.start()
            text = "You are opted out. Ask @victim.test or #SpamTag or visit evil.com, " + "word " * 70
            receipt = await adapter.send_direct(Author(maria, "maria.test"), text)
            assert receipt is not None
            records = bsky.records(bsky.central, "app.bsky.feed.post")
            assert len(records) >= 2  # a thread: the member is addressed in its first post only
            features = [f for r in records for facet in r.get("facets", []) for f in facet["features"]]
            assert [f.get("did") for f in features if "did" in f] == [maria]
            assert victim not in str(records)
            assert not [f for f in features if "tag" in f or "uri" in f]
        finally:
            await adapter.close()
