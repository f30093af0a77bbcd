"""Mastodon counts the replies from accounts that don't follow a post's author (the card's
pile-on flag): the real Mastodon.py against the sandbox's context and followers endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import to_post
from bot.clock import FakeClock
from bot.domain import Post
from sandbox.mastodon import MastodonSandbox
from tests.mastodon_adapter import sandbox_adapter


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def adapter(sandbox: MastodonSandbox, clock: FakeClock) -> MastodonAdapter:
    made = sandbox_adapter(sandbox.base_url, sandbox.token, clock)
    await made.start()
    return made


def as_post(sandbox: MastodonSandbox, status: dict[str, object]) -> Post:
    return to_post(status, sandbox.domain)


async def test_repliers_who_do_not_follow_the_author_are_counted_once_each(
    sandbox: MastodonSandbox, adapter: MastodonAdapter
) -> None:
    ana = sandbox.add_account("ana")
    friend, pal, s1, s2 = (sandbox.add_account(n) for n in ("friend", "pal", "s1", "s2"))
    loud = sandbox.post(ana, "Residency match results are in")
    quiet = sandbox.post(ana, "A quiet one")
    sandbox.follow(friend, ana)
    sandbox.follow(pal, ana)
    sandbox.follow(ana, s1)  # she follows s1, but s1 does not follow her: still a stranger
    sandbox.post(friend, "congratulations!", in_reply_to=loud)
    sandbox.post(pal, "so proud", in_reply_to=loud)
    sandbox.post(s1, "who asked", in_reply_to=loud)
    sandbox.post(s1, "really, who", in_reply_to=loud)  # one account, counted once
    reply = sandbox.post(s2, "ratio", in_reply_to=loud)
    sandbox.post(sandbox.add_account("s3"), "deeper down", in_reply_to=reply)  # not a direct reply
    sandbox.post(ana, "thanks all", in_reply_to=loud)  # the author's own reply
    sandbox.post(sandbox.central, "welcome!", in_reply_to=loud)  # ours

    counts = await adapter.stranger_replies(
        [as_post(sandbox, loud), as_post(sandbox, quiet), as_post(sandbox, loud)]
    )

    assert counts == {loud["id"]: 2, quiet["id"]: 0}
    followers_asked = [p for verb, p in sandbox.requests if p.endswith("/followers")]
    assert followers_asked == [f"/api/v1/accounts/{ana['id']}/followers"]  # once per author


async def test_followers_are_read_across_pages(sandbox: MastodonSandbox, adapter: MastodonAdapter) -> None:
    ana = sandbox.add_account("ana")
    fans = [sandbox.add_account(f"fan{i}") for i in range(90)]
    for fan in fans:
        sandbox.follow(fan, ana)
    post = sandbox.post(ana, "Big news")
    sandbox.post(fans[0], "the first to follow, so on the second page", in_reply_to=post)
    sandbox.post(sandbox.add_account("stranger"), "hm", in_reply_to=post)

    assert await adapter.stranger_replies([as_post(sandbox, post)]) == {post["id"]: 1}


async def test_a_replier_missing_from_a_list_we_could_not_read_whole_cannot_be_told(
    sandbox: MastodonSandbox, adapter: MastodonAdapter
) -> None:
    ana = sandbox.add_account("ana")
    bea = sandbox.add_account("bea")
    sandbox.follow(bea, ana)
    post = sandbox.post(ana, "Big news")
    sandbox.post(bea, "congratulations!", in_reply_to=post)
    known = await adapter.stranger_replies([as_post(sandbox, post)])
    sandbox.set_followers_count(5000, ana)  # most of her followers are not on this server's list
    followers_only = await adapter.stranger_replies([as_post(sandbox, post)])
    sandbox.post(sandbox.add_account("cara"), "who is this", in_reply_to=post)
    unknown = await adapter.stranger_replies([as_post(sandbox, post)])

    assert known == {post["id"]: 0}
    assert followers_only == {post["id"]: 0}  # bea is on the list: that much is certain
    assert unknown == {}  # cara may follow her among those not listed: left out, not guessed


async def test_gone_and_foreign_posts_are_left_out(
    sandbox: MastodonSandbox, adapter: MastodonAdapter
) -> None:
    ana = sandbox.add_account("ana")
    kept = sandbox.post(ana, "Stays")
    gone = sandbox.post(ana, "Deleted soon")
    kept_post, gone_post = as_post(sandbox, kept), as_post(sandbox, gone)
    sandbox.delete(gone)
    foreign = Post(
        platform=kept_post.platform,
        post_id="https://elsewhere.example/@x/1",
        url="https://elsewhere.example/@x/1",
        author=kept_post.author,
        text="x",
        created_at=kept_post.created_at,
    )

    assert await adapter.stranger_replies([kept_post, gone_post, foreign]) == {kept["id"]: 0}
