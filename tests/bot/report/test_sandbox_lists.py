"""The sandbox's lists and follows answer Mastodon.py as a Mastodon server does, refusals included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError

from sandbox.mastodon import MastodonSandbox


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example") as sb:
        yield sb


@pytest.fixture
def client(sandbox: MastodonSandbox) -> Mastodon:
    return Mastodon(
        api_base_url=sandbox.base_url,
        access_token=sandbox.token,
        version_check_mode="none",
        request_timeout=5,
    )


def test_lists_hold_only_followed_accounts_once(sandbox: MastodonSandbox, client: Mastodon) -> None:
    maria = sandbox.add_account("maria")
    bea = sandbox.add_account("bea", "remote.example")
    members = client.list_create("Members")
    assert client.lists() == [{**members}]
    with pytest.raises(MastodonNotFoundError):
        client.list_accounts_add(members["id"], [maria["id"]])  # not followed yet
    rel = client.account_follow(maria["id"])
    assert (rel["following"], rel["requested"]) == (True, False)
    client.account_follow(bea["id"])
    client.list_accounts_add(members["id"], [maria["id"], bea["id"]])
    with pytest.raises(MastodonAPIError, match="already been taken"):
        client.list_accounts_add(members["id"], [maria["id"]])
    assert [a["acct"] for a in client.list_accounts(members["id"], limit=0)] == [
        "maria",
        "bea@remote.example",
    ]
    client.list_accounts_delete(members["id"], [maria["id"]])
    assert sandbox.list_members("Members") == ["bea@remote.example"]
    assert sandbox.central["following_count"] == 2


def test_a_locked_account_keeps_the_follow_request_waiting(
    sandbox: MastodonSandbox, client: Mastodon
) -> None:
    carla = sandbox.add_account("carla", locked=True)
    rel = client.account_follow(carla["id"])
    assert (rel["following"], rel["requested"]) == (False, True)
    (again,) = client.account_relationships([carla["id"]])
    assert again["requested"] is True


def test_list_accounts_page_with_link_headers(sandbox: MastodonSandbox, client: Mastodon) -> None:
    members = client.list_create("Members")
    ids = []
    for i in range(5):
        account = sandbox.add_account(f"member{i}")
        client.account_follow(account["id"])
        ids.append(account["id"])
    client.list_accounts_add(members["id"], ids)
    first = client.list_accounts(members["id"], limit=2)
    assert len(first) == 2
    every = client.fetch_remaining(first)
    assert sorted(a["id"] for a in every) == sorted(ids)


def test_lists_of_others_and_blank_titles_are_refused(sandbox: MastodonSandbox, client: Mastodon) -> None:
    other = sandbox.add_account("other")
    theirs = Mastodon(
        api_base_url=sandbox.base_url,
        access_token=sandbox.issue_token(other),
        version_check_mode="none",
        request_timeout=5,
    )
    private = theirs.list_create("Mine")
    with pytest.raises(MastodonNotFoundError):
        client.list(private["id"])
    with pytest.raises(MastodonAPIError, match="Title can't be blank"):
        client.list_create("  ")
