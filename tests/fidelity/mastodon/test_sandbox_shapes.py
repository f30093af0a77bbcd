"""Our Mastodon sandbox against a real Mastodon server's recordings: for each endpoint the
adapter calls, the sandbox's answer to the same request carries every key and JSON type the
real server sent (apart from DELIBERATELY_ABSENT, each with its reason), and the headers the
adapter relies on (rate limits, pagination ``Link``) are produced the same way."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.domain import Action
from bot.errors import RateLimited
from sandbox.mastodon import MastodonSandbox
from tests.fidelity.mastodon.cassettes import (
    RATE_LIMIT_HEADERS,
    Interaction,
    extra_keys,
    find,
    json_type,
    load,
    require_recordings,
    shape_differences,
)
from tests.mastodon_adapter import sandbox_adapter

require_recordings()

# What a Mastodon 4.6 server sends that the sandbox leaves out on purpose: nothing Coalesce
# reads, and features (quotes, collections, profile feature approval) the sandbox does not
# emulate. Keys are shape paths: ``$`` is the body, ``[]`` any element of an array.
_QUOTES = (
    "the sandbox is a 4.3 server (its instance says so), before quote posts (4.5); the adapter reads "
    "quotes_count where a server sends it (test_adapter_recordings: engagement) and 0 where not"
)
_PROFILE_46 = "4.6 profile display settings; the adapter reads none of them"
DELIBERATELY_ABSENT: dict[str, str] = {
    "quotes_count": _QUOTES,
    "quote": _QUOTES,
    "quote_approval": _QUOTES,
    "quote_approval.automatic": _QUOTES,
    "quote_approval.manual": _QUOTES,
    "quote_approval.current_user": _QUOTES,
    "tagged_collections": "collections (4.6) are not emulated",
    "avatar_description": _PROFILE_46,
    "header_description": _PROFILE_46,
    "show_media": _PROFILE_46,
    "show_media_replies": _PROFILE_46,
    "show_featured": _PROFILE_46,
    "feature_approval": _PROFILE_46,
    "feature_approval.automatic": _PROFILE_46,
    "feature_approval.manual": _PROFILE_46,
    "feature_approval.current_user": _PROFILE_46,
    "source.quote_policy": _QUOTES,
    "source.attribution_domains": "4.4 author attribution for links; not emulated, not read",
    "muting_expires_at": "timed mutes are not emulated; the adapter reads following/requested/followed_by",
    "collections": "collections (4.6) are not emulated",
    "role.collection_limit": "collections (4.6) are not emulated",
    "configuration.accounts.max_display_name_length": "instance limits the adapter never reads",
    "configuration.accounts.max_note_length": "instance limits the adapter never reads",
    "configuration.accounts.max_avatar_description_length": "instance limits the adapter never reads",
    "configuration.accounts.max_header_description_length": "instance limits the adapter never reads",
    "configuration.accounts.max_profile_fields": "instance limits the adapter never reads",
    "configuration.accounts.profile_field_name_limit": "instance limits the adapter never reads",
    "configuration.accounts.profile_field_value_limit": "instance limits the adapter never reads",
    "configuration.urls.about": "web page links the adapter never reads",
    "configuration.urls.privacy_policy": "web page links the adapter never reads",
    "configuration.urls.terms_of_service": "web page links the adapter never reads",
    "configuration.media_attachments.description_limit": "no media upload in the sandbox",
    "configuration.timelines_access": "4.5 timeline access settings; the sandbox's timelines are public",
    "configuration.limited_federation": "federation settings the adapter never reads",
    "thumbnail.description": "instance artwork the adapter never reads",
    "registrations.reason_required": "sign-up settings the adapter never reads",
    "registrations.min_age": "sign-up settings the adapter never reads",
    "wrapstodon": "the yearly review (4.6) is not emulated",
}


def _absent_on_purpose(path: str) -> bool:
    """DELIBERATELY_ABSENT keys name a field wherever it sits (a status in a notification, in a
    reblog, in an array), and everything under it."""
    parts = path.replace("[]", "").removeprefix("$").lstrip(".").split(".")
    return any(
        ".".join(parts[i:j]) in DELIBERATELY_ABSENT
        for i in range(len(parts))
        for j in range(i + 1, len(parts) + 1)
    )


@dataclass
class Sent:
    """What the sandbox answered, to set against the recording."""

    status: int
    headers: httpx.Headers
    body: Any


class Api:
    """Plain HTTP to the sandbox (no client library in between, so JSON types stay as sent)."""

    def __init__(self, sandbox: MastodonSandbox) -> None:
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=sandbox.base_url, timeout=5)

    def __call__(self, method: str, path: str, token: str | None = None, **kw: Any) -> Sent:
        token = self.sandbox.token if token is None else token
        resp = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        return Sent(resp.status_code, resp.headers, resp.json())


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    clock = FakeClock(datetime(2026, 8, 1, 13, 53, 58, tzinfo=UTC))
    with MastodonSandbox(domain="localhost", clock=clock.now) as sb:
        yield sb


@pytest.fixture
def api(sandbox: MastodonSandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.http.close()


def _own_status(api: Api, text: str = "Toot!") -> str:
    return str(api("POST", "/api/v1/statuses", data={"status": text}).body["id"])


def _member(sandbox: MastodonSandbox, name: str = "mastodonpy_test_2") -> dict[str, Any]:
    return sandbox.add_account(name, note="I walk funny", fields=[("site", "https://example.org")])


# Each case: the recorded interaction (cassette, method, path, status) and how to make the same
# request of the sandbox, after setting the sandbox up so it has the same kind of content.
Case = tuple[str, str, str, int, Callable[[MastodonSandbox, Api], Sent]]


def _tag_timeline(sb: MastodonSandbox, api: Api) -> Sent:
    _own_status(api, "#hoot (hashtag toot)")
    return api("GET", "/api/v1/timelines/tag/hoot")


def _tag_timeline_paged(sb: MastodonSandbox, api: Api) -> Sent:
    for i in range(30):
        _own_status(api, f"Toot number {i}! #fgiztss")
    return api("GET", "/api/v1/timelines/tag/fgiztss", params={"limit": 10})


def _mentions(sb: MastodonSandbox, api: Api) -> Sent:
    member = _member(sb)
    sb.post(member, "@coalesce hello!")
    return api("GET", "/api/v1/notifications", params={"types[]": "mention"})


def _search(sb: MastodonSandbox, api: Api, **extra: str) -> Sent:
    _member(sb, "mastodonpy_test")
    params = {"q": "mastodonpy_test", "resolve": "1", "exclude_unreviewed": "1", **extra}
    return api("GET", "/api/v2/search", params=params)


def _reblog(sb: MastodonSandbox, api: Api) -> Sent:
    return api("POST", f"/api/v1/statuses/{_own_status(api)}/reblog")


def _unreblog(sb: MastodonSandbox, api: Api) -> Sent:
    status = _own_status(api)
    api("POST", f"/api/v1/statuses/{status}/reblog")
    return api("POST", f"/api/v1/statuses/{status}/unreblog")


def _reply(sb: MastodonSandbox, api: Api) -> Sent:
    member = _member(sb)
    parent = sb.post(member, "Toot, finally!")["id"]
    data = {"status": "@mastodonpy_test_2 same!", "in_reply_to_id": parent, "visibility": "public"}
    return api("POST", "/api/v1/statuses", data=data)


def _context(sb: MastodonSandbox, api: Api) -> Sent:
    status = _own_status(api)
    sb.post(_member(sb), "@coalesce a reply", in_reply_to=status)
    return api("GET", f"/api/v1/statuses/{status}/context")


def _followers(sb: MastodonSandbox, api: Api) -> Sent:
    member = _member(sb)
    sb.follow(sb.add_account("fan"), member)
    return api("GET", f"/api/v1/accounts/{member['id']}/followers")


def _new_list(api: Api) -> str:
    data = {"title": "ham burglars", "replies_policy": "list", "exclusive": "0"}
    return str(api("POST", "/api/v1/lists", data=data).body["id"])


def _lists(sb: MastodonSandbox, api: Api) -> Sent:
    _new_list(api)
    return api("GET", "/api/v1/lists")


def _listed(sb: MastodonSandbox, api: Api) -> tuple[str, str]:
    list_id = _new_list(api)
    member = _member(sb)["id"]
    api("POST", f"/api/v1/accounts/{member}/follow", data={"reblogs": "1", "notify": "0"})
    return list_id, member


def _list_add(sb: MastodonSandbox, api: Api) -> Sent:
    list_id, member = _listed(sb, api)
    return api("POST", f"/api/v1/lists/{list_id}/accounts", data={"account_ids[]": member})


def _list_accounts(sb: MastodonSandbox, api: Api) -> Sent:
    list_id, member = _listed(sb, api)
    api("POST", f"/api/v1/lists/{list_id}/accounts", data={"account_ids[]": member})
    return api("GET", f"/api/v1/lists/{list_id}/accounts")


def _list_remove(sb: MastodonSandbox, api: Api) -> Sent:
    list_id, member = _listed(sb, api)
    api("POST", f"/api/v1/lists/{list_id}/accounts", data={"account_ids[]": member})
    return api("DELETE", f"/api/v1/lists/{list_id}/accounts", params={"account_ids[]": member})


CASES: dict[str, Case] = {
    "instance_v2": (
        "test_instance",
        "GET",
        r"^/api/v2/instance",
        200,
        lambda sb, api: api("GET", "/api/v2/instance/"),
    ),
    "instance_v1": (
        "test_instance_v1",
        "GET",
        r"^/api/v1/instance",
        200,
        lambda sb, api: api("GET", "/api/v1/instance/"),
    ),
    "verify_credentials": (
        "test_verify_credentials",
        "GET",
        r"verify_credentials$",
        200,
        lambda sb, api: api("GET", "/api/v1/accounts/verify_credentials"),
    ),
    "account": (
        "test_account",
        "GET",
        r"^/api/v1/accounts/\d+$",
        200,
        lambda sb, api: api("GET", f"/api/v1/accounts/{_member(sb)['id']}"),
    ),
    "tag_timeline": ("test_hashtag_tl", "GET", r"/timelines/tag/", 200, _tag_timeline),
    "tag_timeline_paged": ("test_pagination_iterator", "GET", r"/timelines/tag/", 200, _tag_timeline_paged),
    "notifications_mentions": (
        "test_notifications_mentions_only",
        "GET",
        r"^/api/v1/notifications$",
        200,
        _mentions,
    ),
    "status": (
        "test_status",
        "GET",
        r"^/api/v1/statuses/\d+$",
        200,
        lambda sb, api: api("GET", f"/api/v1/statuses/{_own_status(api)}"),
    ),
    "status_missing": (
        "test_status_missing",
        "GET",
        r"^/api/v1/statuses/0$",
        404,
        lambda sb, api: api("GET", "/api/v1/statuses/0"),
    ),
    "search_resolve": ("test_search", "GET", r"^/api/v2/search$", 200, _search),
    "reblog": ("test_status_reblog_unreblog", "POST", r"/reblog$", 200, _reblog),
    "unreblog": ("test_status_reblog_unreblog", "POST", r"/unreblog$", 200, _unreblog),
    "post_direct": (
        "test_status_post[None-direct]",
        "POST",
        r"^/api/v1/statuses$",
        200,
        lambda sb, api: api("POST", "/api/v1/statuses", data={"status": "Toot!", "visibility": "direct"}),
    ),
    "post_reply": ("test_status_reply", "POST", r"^/api/v1/statuses$", 200, _reply),
    "post_empty": (
        "test_status_empty",
        "POST",
        r"^/api/v1/statuses$",
        422,
        lambda sb, api: api("POST", "/api/v1/statuses", data={"status": ""}),
    ),
    "post_revoked_token": (
        "test_zzz_revoke",
        "POST",
        r"^/api/v1/statuses$",
        401,
        lambda sb, api: api("POST", "/api/v1/statuses", token="revoked", data={"status": "x"}),
    ),
    "delete_status": (
        "test_status",
        "DELETE",
        r"^/api/v1/statuses/\d+$",
        200,
        lambda sb, api: api("DELETE", f"/api/v1/statuses/{_own_status(api)}"),
    ),
    "relationships": (
        "test_account_relationships",
        "GET",
        r"relationships$",
        200,
        lambda sb, api: api("GET", "/api/v1/accounts/relationships", params={"id": _member(sb)["id"]}),
    ),
    "context": ("test_status_context", "GET", r"/context$", 200, _context),
    "followers": ("test_account_followers", "GET", r"/followers$", 200, _followers),
    "follow": (
        "test_account_follow_unfollow",
        "POST",
        r"/follow$",
        200,
        lambda sb, api: api("POST", f"/api/v1/accounts/{_member(sb)['id']}/follow", data={"reblogs": "1"}),
    ),
    "list_create": (
        "test_list_create",
        "POST",
        r"^/api/v1/lists$",
        200,
        lambda sb, api: api(
            "POST", "/api/v1/lists", data={"title": "ham burglars", "replies_policy": "list"}
        ),
    ),
    "lists": (
        "test_list_create",
        "GET",
        r"^/api/v1/lists$",
        200,
        _lists,
    ),
    "list_accounts_add": (
        "test_list_add_remove_account",
        "POST",
        r"^/api/v1/lists/\d+/accounts$",
        200,
        _list_add,
    ),
    "list_accounts": (
        "test_list_add_remove_account",
        "GET",
        r"^/api/v1/lists/\d+/accounts$",
        200,
        _list_accounts,
    ),
    "list_accounts_remove": (
        "test_list_add_remove_account",
        "DELETE",
        r"^/api/v1/lists/\d+/accounts$",
        200,
        _list_remove,
    ),
}


def _recorded(case: str) -> Interaction:
    cassette, method, path, status, _ = CASES[case]
    return find(cassette, method, path, status)


def _answer(case: str, sandbox: MastodonSandbox, api: Api) -> Sent:
    return CASES[case][4](sandbox, api)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sandbox_answers_with_every_recorded_key_and_type(
    case: str, sandbox: MastodonSandbox, api: Api
) -> None:
    recorded = _recorded(case)
    ours = _answer(case, sandbox, api)
    assert ours.status == recorded.status
    missing = {
        path: why
        for path, why in shape_differences(recorded.json(), ours.body).items()
        if not _absent_on_purpose(path)
    }
    assert missing == {}, f"{case}: the sandbox differs from {recorded.cassette}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sandbox_sends_nothing_the_real_server_does_not(
    case: str, sandbox: MastodonSandbox, api: Api
) -> None:
    """Keys the sandbox makes up would let the adapter read a field no server sends."""
    recorded = _recorded(case)
    ours = _answer(case, sandbox, api)
    invented = {p for p in extra_keys(recorded.json(), ours.body) if not _absent_on_purpose(p)}
    assert invented <= SANDBOX_ONLY, f"{case}: keys only the sandbox sends: {sorted(invented - SANDBOX_ONLY)}"


# Keys the sandbox sends that these recordings lack, each one still sent by Mastodon in some
# state the recordings did not catch (checked against docs.joinmastodon.org/entities).
SANDBOX_ONLY: set[str] = set()


def test_deliberately_absent_keys_are_really_absent_and_really_recorded() -> None:
    """Each entry earns its place: the real server sends it in some recording here."""
    seen: set[str] = set()
    for case in CASES:
        recorded = _recorded(case)
        for path in shape_differences(recorded.json(), {}):
            bare = re.sub(r"\[\]", "", path).lstrip("$.")
            parts = bare.split(".")
            seen.update(".".join(parts[i:]) for i in range(len(parts)))
    assert set(DELIBERATELY_ABSENT) <= seen


# -- headers -----------------------------------------------------------------------------------

_RESET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Which limit each answer's headers speak of: (limit, window in minutes). Deleting and unboosting
# have their own; posting and boosting theirs (a refused post counts too); the rest the general.
GENERAL, DELETES, STATUSES = (300, 5), (30, 30), (300, 180)
FAMILY = {
    "unreblog": DELETES,
    "delete_status": DELETES,
    "reblog": STATUSES,
    "post_direct": STATUSES,
    "post_reply": STATUSES,
    "post_empty": STATUSES,
}


def _reset(value: str) -> datetime:
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rate_limit_headers_are_recorded_and_sent_alike(
    case: str, sandbox: MastodonSandbox, api: Api
) -> None:
    recorded = _recorded(case)
    ours = _answer(case, sandbox, api)
    for name in RATE_LIMIT_HEADERS:
        assert name in recorded.headers, f"{recorded.cassette} has no {name}"
        assert name in ours.headers, f"the sandbox sent no {name} for {case}"
    assert _RESET.match(recorded.headers["x-ratelimit-reset"])
    assert _RESET.match(ours.headers["x-ratelimit-reset"])
    limit, minutes = FAMILY.get(case, GENERAL)
    # The recording: that family's limit, reset on a boundary of its window (epoch-aligned).
    assert int(recorded.headers["x-ratelimit-limit"]) == limit
    assert int(_reset(recorded.headers["x-ratelimit-reset"]).timestamp()) % (minutes * 60) == 0
    # The sandbox: the same limit, reset at the end of the same window around its own clock.
    assert int(ours.headers["x-ratelimit-limit"]) == limit
    assert 0 <= int(ours.headers["x-ratelimit-remaining"]) < limit
    now = sandbox.now().timestamp()
    window_end = (now // (minutes * 60) + 1) * minutes * 60
    assert _reset(ours.headers["x-ratelimit-reset"]).timestamp() == window_end


def _links(value: str) -> dict[str, dict[str, list[str]]]:
    """rel -> query of each URL in a Link header."""
    out = {}
    for url, rel in re.findall(r'<([^>]+)>;\s*rel="(\w+)"', value):
        out[rel] = parse_qs(urlsplit(url).query)
    return out


@pytest.mark.parametrize(
    "case", ["tag_timeline", "tag_timeline_paged", "notifications_mentions", "list_accounts"]
)
def test_pagination_links_are_built_the_same_way(case: str, sandbox: MastodonSandbox, api: Api) -> None:
    """The same rels, the same cursor parameters (taken from the same items of the page), the
    same parameters kept from the request."""
    recorded = _recorded(case)
    ours = _answer(case, sandbox, api)
    real, mine = _links(recorded.headers["link"]), _links(ours.headers["link"])
    assert set(mine) == set(real)
    real_body, our_body = recorded.json(), ours.body
    for rel in real:
        assert set(mine[rel]) == set(real[rel]), rel
        for key, values in real[rel].items():
            if key in ("max_id", "min_id", "since_id"):
                # the cursor is the id of the page's last item (next) or first (prev)
                index = -1 if rel == "next" else 0
                assert values == [str(real_body[index]["id"])]
                assert mine[rel][key] == [str(our_body[index]["id"])]
            else:
                assert mine[rel][key] == values


def test_status_ids_are_snowflakes_of_their_creation_time(sandbox: MastodonSandbox, api: Api) -> None:
    """A real server's status ids are the milliseconds of created_at (give or take a few)
    shifted left 16 bits (the adapter's look-back for late-federated posts counts on it); so are
    the sandbox's."""
    recorded = [i.json() for i in load("test_pagination_iterator") if i.method == "POST"]
    ours = [api("POST", "/api/v1/statuses", data={"status": f"Toot {n}"}).body for n in range(3)]
    for status in [*recorded, *ours]:
        created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
        assert abs((int(status["id"]) >> 16) - created.timestamp() * 1000) < 1000


# -- the comparer itself -------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text("abcdef", min_size=1, max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
_documents = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), _json, min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(_documents)
def test_a_document_has_the_shape_of_itself(document: dict[str, Any]) -> None:
    assert shape_differences(document, document) == {}
    assert extra_keys(document, document) == set()


@settings(max_examples=150, deadline=None)
@given(_documents, st.data())
def test_a_key_the_sandbox_drops_is_always_reported(document: dict[str, Any], data: st.DataObject) -> None:
    """Whatever the nesting, removing one key from our side is a difference at that path."""
    key = data.draw(st.sampled_from(sorted(document)))
    ours = {k: v for k, v in document.items() if k != key}
    assert f"$.{key}" in shape_differences(document, ours)
    assert f"$.{key}" in extra_keys(ours, document)


@settings(max_examples=150, deadline=None)
@given(_documents, st.data())
def test_a_changed_type_is_reported_unless_one_side_is_null(
    document: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    recorded = document[key]
    replacement = data.draw(_scalars | st.lists(_scalars, max_size=2))
    ours = {**document, key: replacement}
    differs = f"$.{key}" in shape_differences(document, ours)
    real, mine = json_type(recorded), json_type(replacement)
    assert differs is (real != mine and "null" not in (real, mine))


async def test_the_deletion_limit_in_the_headers_reaches_the_adapters_budget() -> None:
    """As on a real server, an unboost's headers speak of the deletions' own limit; the adapter
    then keeps its share of that limit and stops before the server has to refuse."""
    clock = FakeClock(datetime(2026, 8, 1, 13, 53, 58, tzinfo=UTC))
    with MastodonSandbox(domain="localhost", clock=clock.now, delete_limit=4) as sandbox:
        adapter = sandbox_adapter(sandbox.base_url, sandbox.token, clock)
        await adapter.start()
        member = _member(sandbox)
        posts = [await adapter.resolve(sandbox.post(member, f"case {i}")["id"]) for i in range(4)]
        receipts = [await adapter.amplify(post, Action.BOOST) for post in posts]
        for receipt in receipts[:3]:  # 90% of 4: three
            await adapter.undo(receipt)
        with pytest.raises(RateLimited):
            await adapter.undo(receipts[3])
        assert sandbox.too_many_requests == 0
        assert len(sandbox.reblogs_of(posts[3].post_id)) == 1
