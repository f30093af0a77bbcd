"""Bluesky counts the replies from accounts that don't follow a post's author (the card's
pile-on flag): the real SDK against the sandbox's getPostThread and getRelationships."""

from __future__ import annotations

from collections.abc import Callable

from adapters.bluesky.adapter import BlueskyAdapter
from sandbox.bluesky import BlueskySandbox

Make = Callable[..., BlueskyAdapter]


async def test_repliers_who_do_not_follow_the_author_are_counted_once_each(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    handles = ("ana.test", "friend.test", "pal.test", "s1.test", "s2.test")
    ana, friend, pal, s1, s2 = (sandbox.add_account(h) for h in handles)
    adapter = make_adapter()
    await adapter.start()
    loud = await adapter.resolve(sandbox.post(ana, "Residency match results are in"))
    quiet = await adapter.resolve(sandbox.post(ana, "A quiet one"))
    sandbox.follow(friend, ana)  # two who follow the author
    sandbox.follow(pal, ana)
    sandbox.follow(ana, s1)  # the author follows s1, but s1 does not follow her: still a stranger
    sandbox.post(friend, "congratulations!", reply_to=loud.post_id)
    sandbox.post(pal, "so proud", reply_to=loud.post_id)
    sandbox.post(s1, "who asked", reply_to=loud.post_id)
    sandbox.post(s1, "really, who", reply_to=loud.post_id)  # one account, counted once
    reply = sandbox.post(s2, "ratio", reply_to=loud.post_id)
    sandbox.post(s2, "deeper down", reply_to=reply)  # not a direct reply to the post
    sandbox.post(ana, "thanks all", reply_to=loud.post_id)  # the author's own reply
    sandbox.post(sandbox.central, "welcome!", reply_to=loud.post_id)  # ours

    counts = await adapter.stranger_replies([loud, quiet])

    assert counts == {loud.post_id: 2, quiet.post_id: 0}
    asked = [path for verb, path in sandbox.requests if "getRelationships" in path]
    assert len(asked) == 1  # the quiet post has no repliers to ask about


async def test_a_deleted_post_is_left_out_and_many_repliers_are_asked_about_thirty_at_a_time(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    post = await adapter.resolve(sandbox.post(ana, "Big news"))
    gone = await adapter.resolve(sandbox.post(ana, "soon deleted"))
    followers = 0
    for i in range(35):
        replier = sandbox.add_account(f"r{i}.test")
        if i % 5 == 0:
            sandbox.follow(replier, ana)
            followers += 1
        sandbox.post(replier, f"reply {i}", reply_to=post.post_id)
    sandbox.delete(gone.post_id)

    counts = await adapter.stranger_replies([post, gone])

    assert counts == {post.post_id: 35 - followers}
    asked = [path for verb, path in sandbox.requests if "getRelationships" in path]
    assert len(asked) == 2  # 30 + 5
