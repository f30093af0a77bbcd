"""The Mastodon sandbox, driven by the real Mastodon.py client over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonBadGatewayError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)

from bot.clock import FakeClock
from sandbox.mastodon import Fault, MastodonSandbox

TAG = "LatinasInMedicine"
START = datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(clock=clock.now) as sandbox:
        yield sandbox


def client(server: MastodonSandbox, token: str | None = None, **kwargs: Any) -> Mastodon:
    return Mastodon(
        api_base_url=server.base_url,
        access_token=token or server.token,
        ratelimit_method="throw",
        version_check_mode="none",
        **kwargs,
    )


@pytest.fixture
def api(server: MastodonSandbox) -> Mastodon:
    return client(server)


def posts_over_time(
    server: MastodonSandbox, clock: FakeClock, author: Any, n: int, tag: str = TAG
) -> list[str]:
    ids = []
    for i in range(n):
        clock.advance(seconds=1)
        ids.append(server.post(author, f"post {i} #{tag}")["id"])
    return ids


def test_verify_credentials_is_the_central_account_with_rate_limit_headers(
    server: MastodonSandbox, api: Mastodon
) -> None:
    me = api.account_verify_credentials()

    assert me.acct == "coalesce"
    assert me.id == server.central["id"]
    assert me.created_at == datetime(2026, 3, 2, tzinfo=UTC)  # accounts show midnight
    assert me.source.privacy == "public"
    assert api.ratelimit_limit == 300
    assert api.ratelimit_remaining == 299


def test_every_response_carries_mastodon_headers(server: MastodonSandbox) -> None:
    alice = server.add_account("alice")
    older, newer = server.post(alice, f"one #{TAG}"), server.post(alice, f"two #{TAG}")

    resp = requests.get(f"{server.base_url}/api/v1/timelines/tag/{TAG.lower()}?limit=2&local=1", timeout=5)

    assert resp.status_code == 200
    assert resp.headers["X-RateLimit-Limit"] == "300"
    assert resp.headers["X-RateLimit-Remaining"] == "299"
    assert resp.headers["X-RateLimit-Reset"] == "2026-03-02T12:05:00.000000Z"
    assert resp.headers["Date"] == "Mon, 02 Mar 2026 12:00:10 GMT"
    base = f"{server.base_url}/api/v1/timelines/tag/{TAG.lower()}"
    assert resp.headers["Link"] == (
        f'<{base}?limit=2&local=1&max_id={older["id"]}>; rel="next", '
        f'<{base}?limit=2&local=1&min_id={newer["id"]}>; rel="prev"'
    )
    missing = requests.get(f"{server.base_url}/api/v1/statuses/1", timeout=5)
    assert missing.status_code == 404
    assert missing.json() == {"error": "Record not found"}
    assert missing.headers["X-RateLimit-Remaining"] == "298"


def test_status_entity_follows_the_documented_shape(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice", display_name="Dr Alice")
    server.add_account("bea", "remote.example")
    posted = server.post(
        alice, "Fellowship open\n\nAsk @bea@remote.example #LatinasInMedicine", language="es"
    )

    status = api.status(posted["id"])

    assert isinstance(posted["id"], str)
    assert int(posted["id"]) > 0
    assert status.id == posted["id"]
    assert status.created_at == START
    assert posted["created_at"] == "2026-03-02T12:00:10.000Z"
    assert status.account.acct == "alice"
    assert status.language == "es"
    assert status.visibility == "public"
    assert status.reblog is None
    assert status.url == f"https://mastodon.test/@alice/{posted['id']}"
    assert status.tags[0].name == "latinasinmedicine"
    assert status.tags[0].url == "https://mastodon.test/tags/latinasinmedicine"
    assert [m.acct for m in status.mentions] == ["bea@remote.example"]
    assert status.content.startswith("<p>Fellowship open</p><p>Ask ")
    assert (
        '<a href="https://mastodon.test/tags/LatinasInMedicine" class="mention hashtag" rel="tag">'
        "#<span>LatinasInMedicine</span></a>"
    ) in status.content
    assert 'class="u-url mention"' in status.content
    for key in ("replies_count", "reblogs_count", "favourites_count", "emojis", "media_attachments", "card"):
        assert key in posted


def test_hashtag_timeline_with_any_covers_two_tags_case_insensitively(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice = server.add_account("alice")
    bob = server.add_account("bob", "remote.example")
    first = posts_over_time(server, clock, alice, 1, "LatinasInMedicine")
    second = posts_over_time(server, clock, bob, 1, "blackmeninmedicine")
    server.post(alice, "nothing to see #cats")
    server.post(alice, f"quiet #{TAG}", visibility="unlisted")
    server.post(bob, reblog_of=first[0])

    both = api.timeline("tag/latinasinmedicine?any[]=BlackMenInMedicine")
    one = api.timeline_hashtag("LATINASINMEDICINE")
    local_only = api.timeline("tag/latinasinmedicine?any[]=BlackMenInMedicine", local=True)

    assert [s.id for s in both] == [second[0], first[0]]  # newest first, no boosts/unlisted
    assert [s.id for s in one] == [first[0]]
    assert [s.id for s in local_only] == [first[0]]
    assert api.timeline_hashtag("nobodyusesthis") == []


def test_paging_forward_with_min_id_until_caught_up(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice = server.add_account("alice")
    before = posts_over_time(server, clock, alice, 2)
    ids = posts_over_time(server, clock, alice, 7)
    cursor = before[-1]

    page = api.timeline(f"tag/{TAG}?any[]=other", min_id=cursor, limit=3)
    assert [s.id for s in page] == list(reversed(ids[:3]))  # right after the cursor
    seen: list[str] = []
    pages = 0
    while page:
        pages += 1
        assert str(page._pagination_prev["min_id"]) == page[0].id  # Mastodon.py stores an int
        seen.extend(s.id for s in reversed(page))
        cursor = page[0].id
        page = api.fetch_previous(page)

    assert pages == 3
    assert seen == ids
    assert page is not None
    assert len(page) == 0  # caught up: empty and no Link header
    assert api.fetch_previous(page) is None

    newer = posts_over_time(server, clock, alice, 2)
    resumed = api.timeline_hashtag(TAG, min_id=cursor, limit=3)
    assert [s.id for s in resumed] == list(reversed(newer))


def test_since_id_gives_the_newest_page_but_min_id_the_oldest(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice = server.add_account("alice")
    ids = posts_over_time(server, clock, alice, 6)

    assert [s.id for s in api.timeline_hashtag(TAG, since_id=ids[0], limit=2)] == [ids[5], ids[4]]
    assert [s.id for s in api.timeline_hashtag(TAG, min_id=ids[0], limit=2)] == [ids[2], ids[1]]
    between = api.timeline_hashtag(TAG, min_id=ids[0], max_id=ids[3], limit=5)
    assert [s.id for s in between] == [ids[2], ids[1]]


def test_paging_backward_with_max_id(server: MastodonSandbox, api: Mastodon, clock: FakeClock) -> None:
    alice = server.add_account("alice")
    ids = posts_over_time(server, clock, alice, 8)

    page = api.timeline_hashtag(TAG, limit=3)
    seen: list[str] = []
    while page:
        assert str(page._pagination_next["max_id"]) == page[-1].id
        seen.extend(s.id for s in page)
        page = api.fetch_next(page)

    assert seen == list(reversed(ids))


def test_limit_defaults_to_20_and_caps_at_40(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice = server.add_account("alice")
    posts_over_time(server, clock, alice, 45)

    assert len(api.timeline_hashtag(TAG)) == 20
    assert len(api.timeline_hashtag(TAG, limit=100)) == 40


def test_reblog_twice_makes_one_reblog_with_the_same_id(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice")
    original = server.post(alice, f"hiring #{TAG}")

    first = api.status_reblog(original["id"])
    second = api.status_reblog(original["id"])

    assert first.id == second.id
    assert first.reblog.id == original["id"]
    assert first.reblogged is True
    assert first.reblog.reblogged is True
    assert first.account.acct == "coalesce"
    assert first.content == ""
    assert len(server.reblogs_of(original["id"])) == 1
    assert api.status(original["id"]).reblogs_count == 1


def test_unreblog_returns_the_original_and_a_new_reblog_gets_a_new_id(
    server: MastodonSandbox, api: Mastodon
) -> None:
    alice = server.add_account("alice")
    original = server.post(alice, f"hiring #{TAG}")
    boost = api.status_reblog(original["id"])

    undone = api.status_unreblog(original["id"])

    assert undone.id == original["id"]
    assert undone.reblogged is False
    assert server.reblogs_of(original["id"]) == []
    with pytest.raises(MastodonNotFoundError):
        api.status(boost.id)
    assert api.status_reblog(original["id"]).id != boost.id


def test_reblogging_a_private_status_is_not_allowed(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice")
    private = server.post(alice, "just for @coalesce", visibility="private")

    with pytest.raises(MastodonAPIError) as err:
        api.status_reblog(private["id"])

    assert err.value.args[1] == 403
    assert server.reblogs_of(private["id"]) == []


def test_search_resolves_a_remote_url_only_with_resolve(server: MastodonSandbox, api: Mastodon) -> None:
    bea = server.add_account("bea", "remote.example")
    remote = server.remote_status(bea, f"Residency tips #{TAG}")
    assert remote["id"] is None
    assert api.timeline_hashtag(TAG) == []  # nobody here has seen it yet

    assert api.search_v2(remote["url"], resolve=False).statuses == []
    found = api.search_v2(remote["url"], resolve=True).statuses
    again = api.search_v2(remote["uri"], resolve=True, result_type="statuses").statuses

    assert len(found) == 1
    assert found[0].url == remote["url"]
    assert found[0].account.acct == "bea@remote.example"
    assert [s.id for s in again] == [found[0].id]
    assert [s.id for s in api.timeline_hashtag(TAG)] == [found[0].id]
    assert api.status(found[0].id).uri == remote["uri"]


def test_search_finds_local_status_urls_and_accounts(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice")
    server.add_account("bea", "remote.example")
    local = server.post(alice, "hello")

    assert [s.id for s in api.search_v2(local["url"]).statuses] == [local["id"]]
    assert [a.acct for a in api.search_v2("@bea@remote.example", result_type="accounts").accounts] == [
        "bea@remote.example"
    ]
    anonymous = Mastodon(api_base_url=server.base_url, ratelimit_method="throw", version_check_mode="none")
    with pytest.raises(MastodonUnauthorizedError):
        anonymous.search_v2(local["url"], resolve=True)


def test_mention_reply_becomes_a_notification_with_its_status(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice")
    bob = server.add_account("bob")
    server.add_account("carol", "remote.example")
    post = server.post(alice, f"Looking for mentors #{TAG}")
    reply = server.post(bob, "@coalesce please boost this", in_reply_to=post["id"])
    server.post("carol@remote.example", "@coalesce@mastodon.test nominate this too")
    server.add_notification("favourite", bob, reply["id"])

    mentions = api.notifications(types=["mention"])
    others = api.notifications(exclude_types=["mention"])

    assert [n.type for n in mentions] == ["mention", "mention"]
    assert mentions[1].account.acct == "bob"
    assert mentions[1].status.id == reply["id"]
    assert mentions[1].status.in_reply_to_id == post["id"]
    assert mentions[1].status.in_reply_to_account_id == alice["id"]
    assert mentions[0].account.acct == "carol@remote.example"
    assert [n.type for n in others] == ["favourite"]
    assert str(mentions._pagination_prev["min_id"]) == mentions[0].id
    assert api.notifications(min_id=mentions[0].id, types=["mention"]) == []


def test_budget_exhausted_gives_429_until_the_clock_passes_reset(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    server.rate_limit = 2
    api.account_verify_credentials()
    api.account_verify_credentials()

    with pytest.raises(MastodonRatelimitError):
        api.account_verify_credentials()

    assert api.ratelimit_remaining == 0
    # reset is 12:05:00 on the server clock (12:00:10 now); Mastodon.py maps it onto its own clock
    assert api.ratelimit_reset - time.time() == pytest.approx(290, abs=5)
    clock.advance(seconds=290)
    assert api.account_verify_credentials().acct == "coalesce"
    assert api.ratelimit_remaining == 1


def test_injected_429_with_chosen_reset(server: MastodonSandbox, api: Mastodon) -> None:
    server.throttle_next(r"/timelines/tag/", reset_after=timedelta(seconds=60))

    with pytest.raises(MastodonRatelimitError):
        api.timeline_hashtag(TAG)

    assert api.ratelimit_reset - time.time() == pytest.approx(60, abs=5)
    assert api.timeline_hashtag(TAG) == []  # the fault fired once


def test_bad_token_is_unauthorized_where_a_user_is_needed(server: MastodonSandbox) -> None:
    alice = server.add_account("alice")
    status = server.post(alice, "public")
    stranger = client(server, token="not-a-token")

    with pytest.raises(MastodonUnauthorizedError) as err:
        stranger.account_verify_credentials()
    with pytest.raises(MastodonUnauthorizedError):
        stranger.status_reblog(status["id"])

    assert err.value.args[3] == "The access token is invalid"
    assert stranger.status(status["id"]).id == status["id"]  # public reads stay anonymous


def test_unknown_and_deleted_statuses_are_not_found(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice")
    gone = server.post(alice, "soon gone")
    server.delete(gone["id"])

    with pytest.raises(MastodonNotFoundError) as err:
        api.status("109999999999999999")
    with pytest.raises(MastodonNotFoundError):
        api.status(gone["id"])
    with pytest.raises(MastodonNotFoundError):
        api.status_reblog(gone["id"])

    assert err.value.args[3] == "Record not found"


def test_posting_a_thread_with_an_idempotency_key(server: MastodonSandbox, api: Mastodon) -> None:
    head = api.status_post(f"Weekly digest 1/2 #{TAG}", idempotency_key="digest-1")
    retry = api.status_post(f"Weekly digest 1/2 #{TAG}", idempotency_key="digest-1")
    tail = api.status_post("2/2 https://example.org/" + "x" * 600, in_reply_to_id=head.id)

    assert retry.id == head.id
    assert tail.in_reply_to_id == head.id
    assert tail.in_reply_to_account_id == server.central["id"]
    assert [s["id"] for s in server.statuses_by("coalesce")] == [tail.id, head.id]
    assert head.application.name == "Coalesce"
    with pytest.raises(MastodonAPIError) as err:
        api.status_post("x" * 501)
    assert err.value.args[1] == 422
    with pytest.raises(MastodonNotFoundError):
        api.status_post("orphan", in_reply_to_id="1")


def test_a_lost_response_retried_with_the_same_key_posts_once(server: MastodonSandbox, api: Mastodon) -> None:
    server.lose_next_response(r"^/api/v1/statuses$", method="POST")

    with pytest.raises(MastodonNetworkError):
        api.status_post("Interview: Dr Ruiz", idempotency_key="interview-7")
    retried = api.status_post("Interview: Dr Ruiz", idempotency_key="interview-7")

    assert [s["id"] for s in server.statuses_by("coalesce")] == [retried.id]


def test_deleting_returns_the_source_and_removes_the_status(server: MastodonSandbox, api: Mastodon) -> None:
    posted = api.status_post(f"Oops #{TAG}")

    deleted = api.status_delete(posted.id)

    assert deleted.text == f"Oops #{TAG}"
    assert api.timeline_hashtag(TAG) == []
    alice = server.add_account("alice")
    theirs = server.post(alice, "mine")
    with pytest.raises(MastodonNotFoundError):
        api.status_delete(theirs["id"])


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, MastodonInternalServerError),
        (502, MastodonBadGatewayError),
        (503, MastodonServiceUnavailableError),
    ],
)
def test_injected_server_errors(server: MastodonSandbox, api: Mastodon, status: int, error: type) -> None:
    server.faults.add(r"/api/v1/accounts/verify_credentials", Fault("status", status=status))

    with pytest.raises(error):
        api.account_verify_credentials()

    assert api.account_verify_credentials().acct == "coalesce"


def test_malformed_json_body(server: MastodonSandbox, api: Mastodon) -> None:
    server.faults.add(r"/api/v1/notifications", Fault("malformed"))

    with pytest.raises(MastodonAPIError, match="Could not parse response as JSON"):
        api.notifications()


def test_hang_makes_the_client_time_out(server: MastodonSandbox) -> None:
    slow = client(server, request_timeout=0.2)
    server.faults.add(r"/api/v1/accounts/verify_credentials", Fault("hang", seconds=30))

    with pytest.raises(MastodonNetworkError):
        slow.account_verify_credentials()


def test_one_malformed_status_in_a_timeline_page(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice = server.add_account("alice")
    ids = posts_over_time(server, clock, alice, 3)
    server.malform(ids[1], "missing_account")
    server.malform(ids[2], "bad_created_at")

    page = api.timeline_hashtag(TAG)
    raw = requests.get(f"{server.base_url}/api/v1/timelines/tag/{TAG}", timeout=5).json()

    assert [s.id for s in page] == list(reversed(ids))
    assert "account" not in raw[1]
    assert page[0].created_at is None  # Mastodon.py turns an unparseable date into None
    assert page[2].account.acct == "alice"
    assert page[2].created_at is not None


def test_account_endpoints(server: MastodonSandbox, api: Mastodon, clock: FakeClock) -> None:
    alice = server.add_account("alice", note="Paediatrics <3", bot=True)
    first = server.post(alice, "first")
    clock.advance(seconds=1)
    server.post(alice, "a reply to myself", in_reply_to=first["id"])
    server.set_relationship(alice, blocking=True)

    account = api.account(alice["id"])
    statuses = api.account_statuses(alice["id"])
    relationships = api.account_relationships([alice["id"]])

    assert account.bot is True
    assert account.note == "<p>Paediatrics &lt;3</p>"
    assert account.statuses_count == 2
    assert len(statuses) == 2
    assert statuses[0].in_reply_to_id == first["id"]
    assert relationships[0].blocking is True
    assert relationships[0].following is False
    with pytest.raises(MastodonNotFoundError):
        api.account("424242")


def test_status_context_lists_ancestors_and_descendants_in_thread_order(
    server: MastodonSandbox, api: Mastodon, clock: FakeClock
) -> None:
    alice, bea, cara = (server.add_account(n) for n in ("alice", "bea", "cara"))
    root = server.post(alice, "Matched into pediatrics!")
    clock.advance(seconds=1)
    first = server.post(bea, "congratulations", in_reply_to=root["id"])
    clock.advance(seconds=1)
    second = server.post(cara, "so proud", in_reply_to=root["id"])
    clock.advance(seconds=1)
    under_first = server.post(alice, "thank you!", in_reply_to=first["id"])
    clock.advance(seconds=1)
    hidden = server.post(cara, "psst", in_reply_to=root["id"], visibility="direct")
    gone = server.post(bea, "oops", in_reply_to=root["id"])
    server.delete(gone)

    context = api.status_context(root["id"])
    below = api.status_context(under_first["id"])

    assert [s.id for s in context.ancestors] == []
    assert [s.id for s in context.descendants] == [first["id"], under_first["id"], second["id"]]
    assert str(context.descendants[0].in_reply_to_id) == root["id"]
    assert str(context.descendants[1].in_reply_to_id) == first["id"]
    assert hidden["id"] not in [s.id for s in context.descendants]  # not addressed to the viewer
    assert [s.id for s in below.ancestors] == [root["id"], first["id"]]
    assert below.descendants == []
    with pytest.raises(MastodonNotFoundError):
        api.status_context(gone["id"])


def test_followers_are_paged_newest_follow_first_with_link_headers(
    server: MastodonSandbox, api: Mastodon
) -> None:
    alice = server.add_account("alice")
    fans = [server.add_account(f"fan{i}") for i in range(85)]
    for fan in fans:
        server.follow(fan, alice)
    server.follow(alice, fans[0])  # following back changes nothing on alice's followers list

    first = api.account_followers(alice["id"], limit=80)
    second = api.fetch_next(first)
    assert second is not None
    last = api.fetch_next(second)
    default = api.account_followers(alice["id"])
    capped = api.account_followers(alice["id"], limit=200)

    assert [a.id for a in first] == [f["id"] for f in reversed(fans)][:80]
    assert [a.id for a in second] == [f["id"] for f in reversed(fans)][80:]
    assert not last
    assert (len(default), len(capped)) == (40, 80)
    assert api.account(alice["id"]).followers_count == 85
    assert api.account(fans[0]["id"]).followers_count == 1
    assert [a.id for a in api.account_followers(fans[0]["id"])] == [alice["id"]]
    raw = requests.get(f"{server.base_url}/api/v1/accounts/{alice['id']}/followers", params={"limit": 2})
    assert 'rel="next"' in raw.headers["Link"]
    assert 'rel="prev"' in raw.headers["Link"]


def test_follow_sets_both_sides_of_the_relationship(server: MastodonSandbox, api: Mastodon) -> None:
    alice = server.add_account("alice", locked=True)
    server.follow(alice, server.central)  # the helper's follow is accepted even when locked
    server.set_relationship(server.add_account("bea"), followed_by=True)

    (rel,) = api.account_relationships([alice["id"]])
    followers = {a.acct for a in api.account_followers(server.central["id"])}

    assert (rel.followed_by, rel.following) == (True, False)
    assert followers == {"alice", "bea"}
    api.account_follow(alice["id"])
    (rel,) = api.account_relationships([alice["id"]])
    assert (rel.following, rel.requested) == (False, True)  # a locked account still asks through the API
