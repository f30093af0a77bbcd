"""The Bluesky adapter with the real atproto SDK against the loopback sandbox: Jetstream and
search watching, cursors across drops and restarts, bad frames, sessions, limits, reposts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapters.bluesky import watching as watching_module
from adapters.bluesky.adapter import BlueskyAdapter, Position
from bot.clock import FakeClock
from bot.domain import Action, Author, Batch, Receipt
from bot.errors import NotFound, RateLimited, Rejected, Transient, Unauthorized
from sandbox._server import Fault
from sandbox.bluesky import BlueskySandbox
from tests.adapters.bluesky.conftest import TAG, follow_until, texts

Make = Callable[..., BlueskyAdapter]


async def run_once(adapter: BlueskyAdapter, cursors: dict[str, str | None]) -> list[Batch]:
    """One ``follow=False`` watch, with the cursors saved as the core would."""
    batches = []
    async for batch in adapter.watch([TAG], cursors, follow=False):
        batches.append(batch)
        cursors[batch.source] = batch.cursor
    return batches


# -- watching: Jetstream ---------------------------------------------------------------------------


async def test_first_start_backfills_the_window_by_search_then_follows_jetstream(
    sandbox: BlueskySandbox, make_adapter: Make, clock: FakeClock
) -> None:
    ana = sandbox.add_account("ana.test", display_name="Dra. Ana", description="Cardiology")
    sandbox.post(ana, f"Too old to queue #{TAG}", created_at=clock.now() - timedelta(hours=100))
    sandbox.post(ana, f"Matched this morning! #{TAG}", created_at=clock.now() - timedelta(hours=2))
    sandbox.post(ana, "Lunch 🥗 #SomethingElse")
    clock.advance(1)  # the bot starts after those were posted
    adapter = make_adapter()
    await adapter.start()
    cursors: dict[str, str | None] = {}

    first = await run_once(adapter, cursors)

    assert texts(first) == ["Matched this morning! #LatinasInMedicine"]
    assert first[0].source == "backfill"
    post = first[0].posts[0]
    assert post.author.handle == "ana.test"
    assert post.author.bio == "Cardiology"
    assert post.url == f"https://bsky.app/profile/ana.test/post/{post.post_id.rsplit('/', 1)[1]}"
    start = Position.parse(cursors["jetstream"])
    assert start is not None
    assert start.seq is None  # nothing streamed yet: resume from the time we started
    searches = sum(1 for _, path in sandbox.requests if path.endswith("searchPosts"))

    sandbox.post(ana, f"Now on the stream #{TAG.lower()}")
    second = await run_once(adapter, cursors)

    assert texts(second) == ["Now on the stream #latinasinmedicine"]
    assert [b.source for b in second] == ["jetstream"]
    resumed = Position.parse(cursors["jetstream"])
    assert resumed is not None
    assert resumed.seq == sandbox.next_seq() - 1
    assert sum(1 for _, path in sandbox.requests if path.endswith("searchPosts")) == searches
    assert await run_once(adapter, cursors) == []  # caught up: nothing again


async def test_a_dropped_socket_resumes_from_the_cursor_nothing_lost_nothing_twice(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)
    sandbox.drop_stream_after(2)
    for i in range(6):
        sandbox.post(ana, f"Post {i} #{TAG}")

    batches = await follow_until(adapter, cursors, lambda bs: len(texts(bs)) >= 6)

    assert sorted(texts(batches)) == [f"Post {i} #{TAG}" for i in range(6)]
    assert sandbox.stream_connections == 3  # the first run, the dropped one, the reconnect
    assert await run_once(adapter, cursors) == []


async def test_consumer_too_slow_reconnects_from_the_cursor(
    sandbox: BlueskySandbox, make_adapter: Make, caplog: pytest.LogCaptureFixture
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)
    sandbox.too_slow_after(1)
    for i in range(3):
        sandbox.post(ana, f"Slow {i} #{TAG}")

    with caplog.at_level(logging.WARNING):
        batches = await follow_until(adapter, cursors, lambda bs: len(texts(bs)) >= 3)

    assert sorted(texts(batches)) == [f"Slow {i} #{TAG}" for i in range(3)]
    assert "jetstream dropped us as too slow" in caplog.text


async def test_a_cursor_older_than_the_stream_keeps_resumes_by_time_and_searches_the_gap(
    sandbox: BlueskySandbox, make_adapter: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    sandbox.post(ana, "warming up")
    await run_once(adapter, cursors)
    sandbox.post(ana, "an event to hold a cursor at")
    clock.advance(1)
    await run_once(adapter, cursors)
    held = Position.parse(cursors["jetstream"])
    assert held is not None
    assert held.seq is not None
    clock.advance(60)
    sandbox.post(ana, f"Posted while we were away #{TAG}")
    sandbox.forget_events_before(sandbox.next_seq())

    with caplog.at_level(logging.WARNING):
        batches = await run_once(adapter, cursors)

    assert texts(batches) == [f"Posted while we were away #{TAG}"]
    assert [b.source for b in batches if b.posts] == ["backfill"]
    assert "no longer has our cursor" in caplog.text
    after = Position.parse(cursors["jetstream"])
    assert after is not None
    assert after.seq is None or after.seq >= sandbox.next_seq() - 1


async def test_bad_frames_are_logged_counted_and_passed_over(
    sandbox: BlueskySandbox, make_adapter: Make, caplog: pytest.LogCaptureFixture
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)

    def commit(seq: int, record: dict[str, object], rkey: str) -> dict[str, object]:
        return {
            "$type": "network.bsky.jetstream.subscribeEvents#commit",
            "seq": seq,
            "did": ana,
            "time": "2026-03-02T14:59:00.000001Z",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "operation": "create",
            "cid": "bafyreib",
            "record": record,
        }

    post = {"$type": "app.bsky.feed.post", "createdAt": "2026-03-02T15:00:00Z"}
    seq = sandbox.next_seq()
    cut = '{"$type":"message","payload":{"seq":' + str(seq) + ',"record":{"text":"#' + TAG
    sandbox.emit_raw(cut)  # the frame ends mid-string
    seq = sandbox.next_seq()
    invalid_utf8 = json.dumps(
        {"$type": "message", "payload": commit(seq, {**post, "text": f"caf\udce9 #{TAG}"}, "3bad1")},
        ensure_ascii=False,
    ).encode("utf-8", "surrogateescape")  # a raw 0xE9 byte: not UTF-8
    sandbox.emit_raw(invalid_utf8)
    seq = sandbox.next_seq()
    huge = {**post, "text": f"#{TAG} " + "x" * 10_240}
    sandbox.emit_raw(json.dumps({"$type": "message", "payload": commit(seq, huge, "3huge")}))
    seq = sandbox.next_seq()
    facets = [{"index": {"byteStart": 5, "byteEnd": 900}, "features": [{"$type": "x#tag", "tag": TAG}]}]
    odd = {**post, "text": f"odd #{TAG}", "facets": facets, "embed": {"$type": "app.bsky.embed.future"}}
    sandbox.emit_raw(json.dumps({"$type": "message", "payload": commit(seq, odd, "3odd")}))
    sandbox.post(ana, f"A fine post after all that #{TAG}")

    with caplog.at_level(logging.WARNING):
        batches = await run_once(adapter, cursors)

    assert texts(batches) == [f"caf\ufffd #{TAG}", f"odd #{TAG}", f"A fine post after all that #{TAG}"]
    assert sum(b.malformed for b in batches) == 2  # the cut frame and the 10 KB post
    logged = {r.getMessage(): r.__dict__ for r in caplog.records}
    assert logged["skipped malformed jetstream frame"]["seq"] == seq - 3
    assert logged["skipped malformed post"]["id"] == f"at://{ana}/app.bsky.feed.post/3huge"
    assert "10259 bytes" in logged["skipped malformed post"]["error"]  # "#LatinasInMedicine " + 10240
    end = Position.parse(cursors["jetstream"])
    assert end is not None
    assert end.seq == sandbox.next_seq() - 1  # past every bad frame


async def test_own_posts_are_never_candidates_and_replies_nominate_their_parent(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test", display_name="Ana")
    bea = sandbox.add_account("bea.test", display_name="Bea")
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)
    paper = sandbox.post(ana, "Our paper on rural stroke care is out")
    gone = sandbox.post(ana, "A post that will be deleted")
    sandbox.post(sandbox.central, f"This week's digest #{TAG}")
    sandbox.post(bea, "@coalesce.test this deserves a boost!", reply_to=paper)
    sandbox.post(bea, "@coalesce.test and this one", reply_to=gone)
    sandbox.delete(gone)
    sandbox.post(bea, "a reply that does not mention us", reply_to=paper)

    batches = await run_once(adapter, cursors)

    assert texts(batches) == []
    nominations = [n for b in batches for n in b.nominations]
    assert [(n.post.post_id, n.nominated_by.handle, n.note) for n in nominations] == [
        (paper, "bea.test", "@coalesce.test this deserves a boost!")
    ]
    assert nominations[0].post.author.handle == "ana.test"


async def test_compression_offered_but_not_served_falls_back_to_plain_frames(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter(jetstream_compress=True)
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)
    sandbox.post(ana, f"plain frames #{TAG}")
    assert texts(await run_once(adapter, cursors)) == [f"plain frames #{TAG}"]


async def test_a_first_start_tells_its_backfill_page_by_page_and_a_poll_stays_quiet(
    sandbox: BlueskySandbox, make_adapter: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the running bot backfills: a person watching a first start sees a line per search
    page with the running count and how far back of how far, then what the backfill found."""
    ana = sandbox.add_account("ana.test")
    for hours in (3, 2, 1):
        sandbox.post(ana, f"{hours} hours ago #{TAG}", created_at=clock.now() - timedelta(hours=hours))
    clock.advance(1)
    adapter = make_adapter(search_page_size=1)
    await adapter.start()

    with caplog.at_level(logging.INFO, logger="adapters.bluesky"):
        first = await run_once(adapter, {})

    assert len(texts(first)) == 3
    pages = [r for r in caplog.records if r.getMessage() == "bluesky backfill"]
    assert [(r.q.casefold(), r.pages, r.posts) for r in pages] == [
        (f"#{TAG.casefold()}", n, n) for n in (1, 2, 3)
    ]
    assert all(r.until and r.back_to for r in pages)
    (read,) = [r for r in caplog.records if r.getMessage() == "bluesky backfill read"]
    assert (read.posts, read.requests, read.malformed) == (3, 0, 0)

    caplog.clear()
    polling = make_adapter(watch="search", search_page_size=1)
    with caplog.at_level(logging.INFO, logger="adapters.bluesky"):
        assert len(texts(await run_once(polling, {}))) == 3
    assert [r for r in caplog.records if r.getMessage().startswith("bluesky backfill")] == []


# -- watching: search -----------------------------------------------------------------------------


async def test_search_mode_polls_since_its_cursor_and_finds_nominations(
    sandbox: BlueskySandbox, make_adapter: Make, clock: FakeClock
) -> None:
    ana = sandbox.add_account("ana.test")
    bea = sandbox.add_account("bea.test")
    sandbox.post(ana, f"Outside the window #{TAG}", created_at=clock.now() - timedelta(hours=80))
    sandbox.post(ana, f"Inside the window #{TAG}", created_at=clock.now() - timedelta(hours=3))
    sandbox.post(ana, "Only in the tags field", tags=[TAG.upper()])
    adapter = make_adapter(watch="search", search_page_size=1)
    cursors: dict[str, str | None] = {}

    first = await run_once(adapter, cursors)

    assert sorted(texts(first)) == ["Inside the window #LatinasInMedicine", "Only in the tags field"]
    assert [b.source for b in first] == ["search"]
    clock.advance(minutes=5)
    paper = sandbox.post(ana, "A paper")
    sandbox.post(bea, "@coalesce.test boost please", reply_to=paper)
    sandbox.post(ana, f"New since #{TAG}")

    second = await run_once(adapter, cursors)

    # The look-back window re-reads a little (late-indexed posts); the store keeps each once.
    assert f"New since #{TAG}" in texts(second)
    assert set(texts(second)) - {f"New since #{TAG}"} <= set(texts(first))
    assert [n.post.post_id for b in second for n in b.nominations] == [paper]
    # Quiet now: only the look-back before the cursor is read again, not the whole window.
    third = texts(await run_once(adapter, cursors))
    assert f"Inside the window #{TAG}" not in third
    assert set(third) <= {"Only in the tags field", f"New since #{TAG}"}


# -- sessions --------------------------------------------------------------------------------------


async def test_the_session_is_stored_and_reused_not_logged_in_per_cycle(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    first = make_adapter()
    await first.start()
    assert (first.logins, sandbox.logins) == (1, 1)
    for _ in range(3):
        later = make_adapter()  # a new process, or `run --once` from cron
        await later.start()
        await later.resolve(sandbox.post(sandbox.central, "hello"))
        assert later.logins == 0
    assert sandbox.logins == 1


async def test_a_session_near_expiry_is_refreshed_and_stored_again(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    sandbox.access_ttl = timedelta(minutes=5)  # the SDK refreshes 15 minutes ahead
    first = make_adapter()
    await first.start()
    second = make_adapter()
    await second.start()
    assert sandbox.refreshes >= 1
    assert sandbox.logins == 1
    assert second.logins == 0


async def test_an_expired_session_logs_in_once_and_carries_on(
    sandbox: BlueskySandbox, make_adapter: Make, caplog: pytest.LogCaptureFixture
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    await adapter.start()
    sandbox.expire_sessions()
    sandbox.revoke_refresh_tokens()
    with caplog.at_level(logging.INFO):
        post = await adapter.resolve(sandbox.post(ana, f"hi #{TAG}"))
    assert post.author.handle == "ana.test"
    assert sandbox.logins == 2
    assert "session refused; logging in again" in caplog.text
    restarted = make_adapter()  # the new session was stored
    await restarted.start()
    assert restarted.logins == 0
    assert sandbox.password not in caplog.text


async def test_a_wrong_app_password_stops_start_up_without_saying_it(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    adapter = make_adapter(app_password="not-the-password")
    with pytest.raises(Unauthorized) as refused:
        await adapter.start()
    assert "coalesce.test" in str(refused.value)
    assert "not-the-password" not in str(refused.value)


# -- acting ---------------------------------------------------------------------------------------


async def test_repost_once_even_when_asked_twice_then_undo(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    post = await adapter.resolve(sandbox.post(ana, f"Matched! #{TAG}"))

    first = await adapter.amplify(post, Action.BOOST)
    again = await adapter.amplify(post, Action.BOOST)

    assert not first.already
    assert again.already
    assert again.ref == first.ref
    assert sandbox.reposts_of(post.post_id) == [first.ref]
    await adapter.undo(first)
    assert sandbox.reposts_of(post.post_id) == []
    await adapter.undo(first)  # undoing twice is fine
    with pytest.raises(Rejected):
        await adapter.undo(Receipt(first.platform, first.action, post.post_id))  # not ours


async def test_a_post_deleted_between_watch_and_repost_is_not_found(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    post = await adapter.resolve(sandbox.post(ana, f"soon gone #{TAG}"))
    sandbox.delete(post.post_id)
    with pytest.raises(NotFound, match="gone"):
        await adapter.amplify(post, Action.BOOST)
    assert sandbox.reposts_of(post.post_id) == []


async def test_links_to_posts_resolve(sandbox: BlueskySandbox, make_adapter: Make) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    uri = sandbox.post(ana, "a post")
    rkey = uri.rsplit("/", 1)[1]
    assert (await adapter.resolve(f"https://bsky.app/profile/ana.test/post/{rkey}")).post_id == uri
    assert (await adapter.resolve(uri)).post_id == uri
    with pytest.raises(NotFound):
        await adapter.resolve("https://bsky.app/profile/ana.test")
    with pytest.raises(NotFound):
        await adapter.resolve(f"https://bsky.app/profile/ana.test/post/{rkey}x")


async def test_spent_write_budget_is_rate_limited_with_the_reset_time(
    sandbox: BlueskySandbox, make_adapter: Make, clock: FakeClock
) -> None:
    ana = sandbox.add_account("ana.test")
    adapter = make_adapter()
    post = await adapter.resolve(sandbox.post(ana, f"x #{TAG}"))
    sandbox.throttle_writes()
    with pytest.raises(RateLimited) as limited:
        await adapter.amplify(post, Action.BOOST)
    reset_in = 3600 - clock.now().timestamp() % 3600
    assert limited.value.retry_after == pytest.approx(reset_in, abs=2)
    # The headers of that answer are remembered: the next write is refused before it is sent.
    writes = sum(1 for _, path in sandbox.requests if path.endswith("createRecord"))
    with pytest.raises(RateLimited):
        await adapter.publish_part("hello")
    assert sum(1 for _, path in sandbox.requests if path.endswith("createRecord")) == writes


async def test_writes_are_paced_under_the_hourly_points(sandbox: BlueskySandbox, make_adapter: Make) -> None:
    adapter = make_adapter(write_points_per_hour=9)
    for i in range(3):
        await adapter.publish_part(f"part {i}")
    with pytest.raises(RateLimited, match="pacing"):
        await adapter.publish_part("one too many")
    assert len(sandbox.records(sandbox.central, "app.bsky.feed.post")) == 3


async def test_a_thread_is_published_with_facets_and_reply_refs(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    sandbox.add_account("ana.test")
    adapter = make_adapter()
    adapter.own_tags = frozenset({"latinasinmedicine"})
    from adapters.bluesky.richtext import thread

    text = (
        "Opportunities this week 👩🏽‍⚕️ #LatinasInMedicine: "
        + " ".join(f"item{i} https://jobs.example/{i}" for i in range(30))
        + " thanks @ana.test"
    )
    parts = thread(text)
    assert len(parts) > 1
    receipts: list[Receipt] = []
    for part in parts:
        receipts.append(await adapter.publish_part(part, receipts[-1] if receipts else None))
    records = {r["text"]: r for r in sandbox.records(sandbox.central, "app.bsky.feed.post")}
    assert list(records) == parts
    first, *rest = (records[p] for p in parts)
    assert "reply" not in first
    for i, rec in enumerate(rest, 1):
        assert rec["reply"]["root"]["uri"] == receipts[0].ref
        assert rec["reply"]["parent"]["uri"] == receipts[i - 1].ref
    tag = first["facets"][0]
    data = first["text"].encode()
    assert data[tag["index"]["byteStart"] : tag["index"]["byteEnd"]] == b"#LatinasInMedicine"
    # The handle in the text is an existing account, and still no one is mentioned.
    features = [f["features"][0]["$type"] for r in records.values() for f in r.get("facets", [])]
    assert "app.bsky.richtext.facet#mention" not in features
    assert records[parts[-1]]["text"].endswith("thanks @ana.test " + parts[-1].rpartition(" ")[2])


async def test_a_publish_whose_answer_was_lost_is_not_posted_twice(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    adapter = make_adapter(request_timeout=1.0)
    await adapter.start()
    sandbox.faults.add(r"createRecord$", Fault("delay_after", seconds=3.0))
    with pytest.raises(Transient):
        await adapter.publish_part("Digest of the week #LatinasInMedicine")
    receipt = await adapter.publish_part("Digest of the week #LatinasInMedicine")
    assert receipt.already
    assert len(sandbox.records(sandbox.central, "app.bsky.feed.post")) == 1


async def test_a_part_too_long_for_one_post_is_refused_clearly(make_adapter: Make) -> None:
    adapter = make_adapter()
    with pytest.raises(Rejected, match="at most 300 graphemes and this one has 301"):
        await adapter.publish_part("é" * 301)


async def test_a_stream_that_cannot_be_reached_is_reported_not_taken_for_quiet(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = make_adapter(jetstream_url=f"ws://127.0.0.1:{port}/xrpc", caught_up_idle_seconds=1.0)
    cursors: dict[str, str | None] = {"jetstream": "5@"}
    with pytest.raises(Transient, match="Unreachable"):
        await run_once(adapter, cursors)
    assert cursors == {"jetstream": "5@"}  # nothing moved


async def test_a_curator_quote_embeds_the_post_and_profiles_are_read_fresh(
    sandbox: BlueskySandbox, make_adapter: Make
) -> None:
    ana = sandbox.add_account("ana.test", description="Cardiology")
    adapter = make_adapter()
    post = await adapter.resolve(sandbox.post(ana, f"Matched! #{TAG}"))

    receipt = await adapter.quote(post, "Congratulations, Dra. Ana! #LatinasInMedicine")

    [record] = sandbox.records(sandbox.central, "app.bsky.feed.post")
    assert record["embed"]["$type"] == "app.bsky.embed.record"
    assert (record["embed"]["record"]["uri"], record["embed"]["record"]["cid"]) == (post.post_id, post.ref)
    assert receipt.ref.startswith(f"at://{sandbox.central}/app.bsky.feed.post/")
    sandbox.set_description(ana, "Cardiology. #nobot")
    fresh = await adapter.fetch_author(post.author)
    assert fresh is not None
    assert fresh.bio == "Cardiology. #nobot"
    assert await adapter.fetch_author(Author("did:plc:gone234567abcdefghijklmn", "gone.test")) is None


async def test_a_quiet_stream_still_says_it_is_alive(
    sandbox: BlueskySandbox, make_adapter: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our own pacing constants, shortened so the test need not wait a minute for a heartbeat.
    monkeypatch.setattr(watching_module, "CURSOR_FLUSH_S", 0.05)
    monkeypatch.setattr(watching_module, "HEARTBEAT_S", 0.1)
    adapter = make_adapter()
    cursors: dict[str, str | None] = {}
    await run_once(adapter, cursors)
    saved = cursors["jetstream"]

    batches = await follow_until(adapter, cursors, lambda bs: len(bs) >= 3)

    # nothing was posted: each batch is empty, at the cursor already saved, and only says "alive"
    assert [(b.posts, b.nominations, b.requests, b.cursor) for b in batches] == [([], [], [], saved)] * 3
