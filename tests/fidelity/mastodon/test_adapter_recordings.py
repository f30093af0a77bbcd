"""The real Mastodon adapter (and Mastodon.py under it) reading what a real Mastodon 4.6 server
answered: each recording is replayed on loopback and the adapter's reading of it is checked
field by field against the recorded JSON, errors included."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text
from bot.clock import FakeClock
from bot.domain import Action, Author, Platform, Post, Receipt
from bot.errors import NotFound, Rejected, Unauthorized
from bot.ports import Engagement
from tests.fidelity.mastodon.cassettes import Interaction, Replay, find, load, require_recordings
from tests.mastodon_adapter import sandbox_adapter

require_recordings()

DOMAIN = "localhost:3000"  # what the recorded /api/v2/instance says its domain is


def _as(item: Interaction, method: str, path: str, body: str | None = None, status: int = 200) -> Interaction:
    """A recorded answer served for another request (the same entity, asked for another way)."""
    return dataclasses.replace(
        item, method=method, url=f"http://localhost:3000{path}", body=body or item.body, status=status
    )


def _empty(path: str) -> Interaction:
    """The end of a timeline: an empty page (no recording needed to know its shape)."""
    return Interaction("synthetic", "GET", f"http://localhost:3000{path}", "", 200, {}, "[]")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 8, 1, 14, 0, tzinfo=UTC))


@pytest.fixture
def replay() -> Iterator[list[Replay]]:
    servers: list[Replay] = []
    yield servers
    for server in servers:
        server.stop()


def _adapter(
    servers: list[Replay], clock: FakeClock, *interactions: Interaction, **settings: Any
) -> MastodonAdapter:
    start = (
        find("test_instance", "GET", r"/api/v2/instance"),
        find("test_verify_credentials", "GET", r"verify"),
    )
    server = Replay(*start, *interactions).start()
    servers.append(server)
    return sandbox_adapter(server.base_url, "recorded-token", clock, **settings)


def _assert_post_matches(post: Post, status: dict[str, Any]) -> None:
    """Every field we take from a status, against the recorded JSON itself."""
    assert post.platform is Platform.MASTODON
    assert post.post_id == status["id"]
    assert post.url == status["url"]
    assert post.ref == status["uri"]
    assert post.created_at == datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    assert post.text == html_to_text(status["content"])
    assert post.hashtags == frozenset(t["name"].lower() for t in status["tags"])
    assert post.reply_to == status["in_reply_to_id"]
    assert post.language == status["language"]
    assert post.content_warning == (status["spoiler_text"] or None)
    assert post.is_boost is (status["reblog"] is not None)
    account = status["account"]
    assert post.author.account_id == account["id"]
    assert post.author.handle == f"{account['acct']}@{DOMAIN}"
    assert post.author.followers_count == account["followers_count"]
    assert post.author.is_bot is account["bot"]


async def test_start_reads_the_instance_and_the_central_account(
    replay: list[Replay], clock: FakeClock
) -> None:
    adapter = _adapter(replay, clock)
    await adapter.start()
    me = find("test_verify_credentials", "GET", r"verify").json()
    assert adapter.domain == DOMAIN
    assert adapter.me is not None
    assert (adapter.me.account_id, adapter.me.handle) == (me["id"], f"{me['acct']}@{DOMAIN}")
    assert adapter.me.display_name == (me["display_name"] or me["username"])
    assert adapter.me.bio == html_to_text(me["note"])
    # Only what was recorded was asked: no /api/v1/instance probe, which Mastodon.py would retry
    # without end (a RecursionError) when that one request fails.
    assert [path.rstrip("/") for _, path in replay[0].requests] == [
        "/api/v2/instance",
        "/api/v1/accounts/verify_credentials",
    ]


# The recorded 4.6 answer marks /api/v1/instance deprecated, and Mastodon.py says so.
@pytest.mark.filterwarnings("ignore::mastodon.errors.MastodonDeprecationWarning")
async def test_a_server_before_4_0_is_read_from_the_v1_instance(
    replay: list[Replay], clock: FakeClock
) -> None:
    """No /api/v2/instance (a 404, as a 3.x server answers): the recorded v1 document names the
    server instead."""
    v1 = find("test_instance_v1", "GET", r"^/api/v1/instance")
    missing = _as(
        find("test_status_missing", "GET", r"/statuses/0$", 404), "GET", "/api/v2/instance/", status=404
    )
    server = Replay(missing, v1, find("test_verify_credentials", "GET", r"verify")).start()
    replay.append(server)
    adapter = sandbox_adapter(server.base_url, "recorded-token", clock)
    await adapter.start()
    assert adapter.domain == v1.json()["uri"]
    assert adapter.me is not None


async def test_a_recorded_tag_timeline_becomes_posts(replay: list[Replay], clock: FakeClock) -> None:
    page = find("test_hashtag_tl", "GET", r"/timelines/tag/hoot")
    adapter = _adapter(replay, clock, page, _empty("/api/v1/timelines/tag/hoot"))
    await adapter.start()
    batches = [b async for b in adapter._tag_batches(["hoot"], cursor=None)]
    posts = [p for b in batches for p in b.posts]
    recorded = page.json()
    assert len(posts) == len(recorded) == 1
    assert batches[-1].cursor == recorded[0]["id"]
    assert sum(b.malformed for b in batches) == 0
    _assert_post_matches(posts[0], recorded[0])
    assert posts[0].hashtags == {"hoot"}
    assert posts[0].text == "#hoot (hashtag toot)"


async def test_a_recorded_tag_timeline_is_read_across_its_pages(
    replay: list[Replay], clock: FakeClock
) -> None:
    """Thirty posts in pages of ten: the backfill follows max_id down to the empty page."""
    tag = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
    pages = [i for i in load("test_pagination_iterator") if i.method == "GET" and "/timelines/tag/" in i.path]
    first_pass = pages[:4]  # three full pages and the empty one after them, as recorded
    assert [len(p.json()) for p in first_pass] == [10, 10, 10, 0]
    adapter = _adapter(replay, clock, *first_pass, page_size=10)
    await adapter.start()
    batches = [b async for b in adapter._tag_batches([tag], cursor=None)]
    posts = [p for b in batches for p in b.posts]
    recorded = [s for page in first_pass for s in page.json()]
    assert sorted(p.post_id for p in posts) == sorted(s["id"] for s in recorded)
    assert [p.text for p in posts] == [f"Toot number {i}! #{tag}" for i in range(30)]  # oldest first
    assert batches[-1].cursor == max((s["id"] for s in recorded), key=lambda i: (len(i), i))
    by_id = {s["id"]: s for s in recorded}
    for post in posts:
        _assert_post_matches(post, by_id[post.post_id])


async def test_a_recorded_mention_moves_the_cursor_and_nominates_nothing(
    replay: list[Replay], clock: FakeClock
) -> None:
    """A mention that replies to nothing is no nomination and no member request; it is read
    without a malformed count, and the cursor moves to its id."""
    note = find("test_notifications_mentions_only", "GET", r"^/api/v1/notifications$")
    adapter = _adapter(replay, clock, note, _empty("/api/v1/notifications"))
    await adapter.start()
    batches = [b async for b in adapter._mention_batches("1")]
    recorded = note.json()
    assert recorded[0]["type"] == "mention"
    assert recorded[0]["status"]["in_reply_to_id"] is None
    assert batches[0].cursor == recorded[0]["id"]
    assert (batches[0].malformed, batches[0].nominations, batches[0].requests) == (0, [], [])


async def test_a_recorded_status_and_a_recorded_404(replay: list[Replay], clock: FakeClock) -> None:
    got = find("test_status", "GET", r"^/api/v1/statuses/\d+$")
    missing = find("test_status_missing", "GET", r"/statuses/0$", 404)
    adapter = _adapter(replay, clock, got, missing)
    await adapter.start()
    status = got.json()
    _assert_post_matches(await adapter.resolve(status["id"]), status)
    with pytest.raises(NotFound):
        await adapter.resolve("0")


async def test_boost_and_unboost_read_the_recorded_answers_and_their_limits(
    replay: list[Replay], clock: FakeClock
) -> None:
    posted, reblog, unreblog = (
        find("test_status_reblog_unreblog", "POST", r"^/api/v1/statuses$"),
        find("test_status_reblog_unreblog", "POST", r"/reblog$"),
        find("test_status_reblog_unreblog", "POST", r"/unreblog$"),
    )
    status = posted.json()
    adapter = _adapter(
        replay, clock, _as(posted, "GET", f"/api/v1/statuses/{status['id']}"), reblog, unreblog
    )
    await adapter.start()
    post = await adapter.resolve(status["id"])
    receipt = await adapter.amplify(post, Action.BOOST)
    assert (receipt.ref, receipt.url, receipt.already) == (status["id"], status["url"], False)
    assert reblog.json()["reblog"]["id"] == status["id"]  # what Mastodon.py handed back: the boost
    await adapter.undo(receipt)
    # The unboost's headers speak of the deletions' limit (30 per 30 minutes): the adapter's own
    # deletes budget now allows 90% of what the server says, not of the general 300.
    assert unreblog.headers["x-ratelimit-limit"] == "30"
    assert adapter.budget._window("deletes", "").allowed == 27


async def test_engagement_and_deletion_checks_read_recorded_statuses(
    replay: list[Replay], clock: FakeClock
) -> None:
    """GET /api/v1/statuses?id[]= is not in the recordings; its items are Status entities, so
    the recorded boosted status (reblogs_count 1, quotes_count from 4.6) stands in for them."""
    boosted = find("test_status_reblog_unreblog", "POST", r"/reblog$").json()["reblog"]
    assert boosted["reblogs_count"] == 1
    many = _as(
        find("test_status", "GET", r"^/api/v1/statuses/\d+$"),
        "GET",
        "/api/v1/statuses",
        body=json.dumps([boosted]),
    )
    missing = find("test_status_missing", "GET", r"/statuses/0$", 404)
    adapter = _adapter(replay, clock, many, missing)
    await adapter.start()
    author = Author(account_id=boosted["account"]["id"], handle=f"x@{DOMAIN}", display_name="")
    posts = [
        Post(platform=Platform.MASTODON, post_id=pid, url="", author=author, text="", created_at=clock.now())
        for pid in (boosted["id"], "0")
    ]
    counts = await adapter.engagement(posts[:1])
    assert counts[boosted["id"]] == Engagement(
        likes=boosted["favourites_count"],
        reposts=1,
        replies=boosted["replies_count"],
        quotes=boosted["quotes_count"],
    )
    # One listed, one missing from the list and then a 404 on its own: only that one is gone.
    assert await adapter.posts_gone(posts) == {"0"}


async def test_a_recorded_direct_post_and_reply_become_receipts(
    replay: list[Replay], clock: FakeClock
) -> None:
    direct = find("test_status_post[None-direct]", "POST", r"^/api/v1/statuses$")
    adapter = _adapter(replay, clock, direct)
    await adapter.start()
    member = Author(account_id="1", handle=f"mastodonpy_test@{DOMAIN}", display_name="")
    receipt = await adapter.send_direct(member, "Toot!")
    body = direct.json()
    assert body["visibility"] == "direct"
    assert receipt == Receipt(Platform.MASTODON, Action.PUBLISH, body["id"], body["url"])

    reply = [i for i in load("test_status_reply") if i.method == "POST"][1]
    adapter = _adapter(replay, clock, reply)
    await adapter.start()
    parent = Receipt(Platform.MASTODON, Action.PUBLISH, reply.json()["in_reply_to_id"], None)
    receipt = await adapter.publish_part("same!", reply_to=parent)
    assert (receipt.ref, receipt.url) == (reply.json()["id"], reply.json()["url"])


async def test_recorded_refusals_become_our_errors(replay: list[Replay], clock: FakeClock) -> None:
    """A 422 (validation) is Rejected with the status and the server's reason; a 401 (token
    revoked) is Unauthorized; neither message carries the token."""
    empty = find("test_status_empty", "POST", r"^/api/v1/statuses$", 422)
    adapter = _adapter(replay, clock, empty)
    await adapter.start()
    with pytest.raises(Rejected) as refused:
        await adapter.publish_part("")
    assert "422" in str(refused.value)
    assert empty.json()["error"] in str(refused.value)

    revoked = find("test_zzz_revoke", "POST", r"^/api/v1/statuses$", 401)
    adapter = _adapter(replay, clock, revoked)
    await adapter.start()
    with pytest.raises(Unauthorized) as unauthorized:
        await adapter.publish_part("illegal access detected")
    assert "recorded-token" not in str(unauthorized.value)


async def test_recorded_relationships_context_and_followers(replay: list[Replay], clock: FakeClock) -> None:
    rel = find("test_account_relationships", "GET", r"relationships$")
    context = find("test_status_context", "GET", r"/context$")
    followers = find("test_account_followers", "GET", r"/followers$")
    account = find("test_account", "GET", r"^/api/v1/accounts/\d+$")
    account_id = rel.json()[0]["id"]
    status_id = re.findall(r"/statuses/(\d+)/context", context.path)[0]
    adapter = _adapter(
        replay, clock, rel, context, followers, _as(account, "GET", f"/api/v1/accounts/{account_id}")
    )
    await adapter.start()
    assert await adapter.follows_central([account_id]) == {account_id: rel.json()[0]["followed_by"]}
    author = Author(account_id=account_id, handle=f"x@{DOMAIN}", display_name="")
    post = Post(
        platform=Platform.MASTODON,
        post_id=status_id,
        url="",
        author=author,
        text="",
        created_at=clock.now(),
    )
    assert await adapter.stranger_replies([post]) == {status_id: 0}  # no replies recorded
    seen, whole = await adapter._followers(account_id)
    assert seen == set()
    assert whole is (account.json()["followers_count"] == 0)
    fetched = await adapter.fetch_author(author)
    assert fetched is not None
    assert fetched.handle == f"{account.json()['acct']}@{DOMAIN}"


async def test_a_recorded_search_with_resolve_that_finds_no_status(
    replay: list[Replay], clock: FakeClock
) -> None:
    searched = find("test_search", "GET", r"^/api/v2/search$")
    statuses_only = next(i for i in load("test_search") if "type=statuses" in i.url)
    assert statuses_only.json()["statuses"] == []
    adapter = _adapter(replay, clock, statuses_only)
    await adapter.start()
    with pytest.raises(NotFound):
        await adapter.resolve("http://localhost:3000/@mastodonpy_test/1")
    assert "resolve=1" in searched.url  # Mastodon.py sends resolve as 1, the server took it


async def test_a_recorded_list_is_found_and_emptied(replay: list[Replay], clock: FakeClock) -> None:
    """sync_member_list against the recorded list: it finds the list by title, reads its member
    from the recorded page and removes it (nobody is wanted) with the recorded DELETE."""
    recorded = load("test_list_add_remove_account")
    created = next(i for i in recorded if i.method == "POST" and i.path == "/api/v1/lists")
    members = next(i for i in recorded if i.method == "GET" and i.path.endswith("/accounts") and i.json())
    removed = next(i for i in recorded if i.method == "DELETE" and i.path.endswith("/accounts"))
    lists = _as(created, "GET", "/api/v1/lists", body=f"[{created.body}]")
    adapter = _adapter(replay, clock, lists, members, removed)
    await adapter.start()
    sync = await adapter.sync_member_list(created.json()["title"], [])
    assert (sync.list_ref, sync.added, sync.removed, sync.pending) == (created.json()["id"], 0, 1, ())
