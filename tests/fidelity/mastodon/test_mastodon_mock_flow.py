"""The Mastodon adapter's whole flow against a second, independent emulator: mastodon-mock
(PyPI, by another author), run from its own virtual environment on 127.0.0.1.

It watches a tag across pages, takes a nomination from a mention, boosts and unboosts, answers
a member directly, keeps the members list and reads followers. Where mastodon-mock and our
sandbox disagree, DISAGREEMENTS says which one matches the recordings of a real Mastodon 4.6 and
the documentation, and the test that holds our sandbox to it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonUnauthorizedError

from adapters.mastodon.adapter import MastodonAdapter, client_for
from adapters.mastodon.settings import MastodonSettings
from bot.domain import Action, Author, Batch
from bot.errors import NotFound

ROOT = Path(__file__).resolve().parents[3]
MOCK = ROOT / ".cache" / "mastodon-mock-venv" / "bin" / "mastodon_mock"
MEMBERS = {"coalesce": "central-token", "ana": "ana-token", "bea": "bea-token", "cara": "cara-token"}
LOCKED = {"dora": "dora-token"}  # accepts followers one by one
# Its rate limits on, so the adapter reads its headers, but never reached in this module.
RATE_LIMIT = 100_000

# Where mastodon-mock 0.6.1 answers otherwise than our sandbox, and who is right. Each claim about
# a real server is held by the test named (against Mastodon.py's recordings of Mastodon 4.6.4).
DISAGREEMENTS = {
    "X-RateLimit-Reset": "mastodon-mock sends seconds since the epoch (as GoToSocial does); a real "
    "Mastodon (recordings, docs.joinmastodon.org/api/rate-limits) and the sandbox send an ISO 8601 "
    "time. Mastodon.py reads both, so the adapter runs on either (this module runs mastodon-mock "
    "with its rate limits on) - test_sandbox_shapes.py::test_rate_limit_headers_are_recorded_and_sent_alike",
    "deletion limit": "mastodon-mock counts a delete or unboost against the general 300 and says so; "
    "a real server has 30 per 30 minutes for them and its headers say so (the adapter's deletes "
    "budget follows them) - test_rate_limit_headers_are_recorded_and_sent_alike[unreblog]",
    "status ids": "mastodon-mock counts ids up from a fixed number; a real server's are snowflakes "
    "(milliseconds of created_at << 16), which the adapter's late-federation look-back relies on "
    "(against mastodon-mock it re-reads the tag from the start: harmless, the store drops repeats) - "
    "test_sandbox_shapes.py::test_status_ids_are_snowflakes_of_their_creation_time",
    "direct visibility": "mastodon-mock shows a direct status to accounts it does not mention; Mastodon "
    "shows it only to its author and the accounts mentioned (docs.joinmastodon.org/entities/Status, "
    "visibility) - tests/sandbox/test_mastodon_sandbox.py and test_a_direct_answer_mentions_the_member",
    "search by URL": "mastodon-mock searches text only ('no webfinger resolve'), so a status's URL "
    "finds nothing; Mastodon with resolve=true looks a URL up, its own statuses' included "
    "(docs.joinmastodon.org/methods/search), as the sandbox does - tests/adapters/test_mastodon.py "
    "resolves a status URL against the sandbox",
    "401 text": "mastodon-mock answers an unknown token with 'This method requires an authenticated "
    "user'; the recordings say 'The access token is invalid', as the sandbox does (the adapter "
    "reads the status, not the text)",
    "404 text": "the 4.6.4 recordings say 'Not Found'; mastodon-mock, the sandbox and the "
    "documentation's examples say 'Record not found' (the adapter reads the status, not the text: left)",
    "account created_at": "mastodon-mock sends the exact time with +00:00; a real server the day at "
    "midnight with milliseconds and Z, as the sandbox does (both parse the same)",
}


@dataclass
class MockServer:
    base_url: str
    domain: str

    def client(self, username: str) -> Mastodon:
        return Mastodon(
            api_base_url=self.base_url,
            access_token={**MEMBERS, **LOCKED}[username],
            version_check_mode="none",
        )


def _config(domain: str) -> str:
    accounts = "".join(
        f'[[seed.accounts]]\nusername = "{name}"\naccess_token = "{token}"\n'
        + ('note = "Cardiologist, #nobot"\n' if name == "bea" else "")
        for name, token in MEMBERS.items()
    )
    locked = '[[seed.accounts]]\nusername = "dora"\nlocked = true\naccess_token = "dora-token"\n'
    return (
        f'domain = "{domain}"\nurl_scheme = "http"\n'
        '[database]\npath = ":memory:"\n[faults]\nenabled = false\n[streaming]\nenabled = false\n'
        f"[ratelimit]\nenabled = true\nlimit = {RATE_LIMIT}\nwindow_seconds = 300\n" + accounts + locked
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """mastodon-mock on a free loopback port, fresh in memory, for this module's tests."""
    if not MOCK.exists():
        if os.environ.get("COALESCE_REQUIRE_MASTODON_MOCK"):
            pytest.fail(f"mastodon-mock is not installed at {MOCK}")
        pytest.skip("mastodon-mock is not installed: bash .ci/mastodon-mock-setup.sh")
    port = _free_port()
    domain = f"127.0.0.1:{port}"
    config = tmp_path_factory.mktemp("mastodon-mock") / "mastodon_mock.toml"
    config.write_text(_config(domain), encoding="utf-8")
    command = [str(MOCK), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "info"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,  # it would read a [tool.mastodon_mock] from ./pyproject.toml otherwise
    )
    ready = threading.Event()
    said: list[str] = []

    def read_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            said.append(line)
            if "Uvicorn running on" in line:  # said once the port is bound (startup comes before)
                ready.set()
        ready.set()  # it exited: stop waiting

    threading.Thread(target=read_log, name="mastodon-mock-log", daemon=True).start()
    try:
        if not ready.wait(90) or proc.poll() is not None:
            pytest.fail("mastodon-mock did not start:\n" + "".join(said[-30:]))
        yield MockServer(f"http://{domain}", domain)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
async def adapter(mock: MockServer) -> MastodonAdapter:
    cfg = MastodonSettings(
        api_base_url=mock.base_url, access_token=MEMBERS["coalesce"], request_timeout=10, page_size=2
    )
    found = MastodonAdapter(client_for(cfg), cfg, backfill=timedelta(hours=72))
    await found.start()
    return found


def _author(mock: MockServer, username: str) -> Author:
    account = mock.client(username).account_verify_credentials()
    return Author(account_id=str(account["id"]), handle=f"{username}@{mock.domain}", display_name=username)


async def _watch(adapter: MastodonAdapter, tags: list[str], cursors: dict[str, str | None]) -> list[Batch]:
    return [batch async for batch in adapter.watch(tags, cursors, follow=False)]


def _cursors(batches: list[Batch], before: dict[str, str | None] | None = None) -> dict[str, str | None]:
    out = dict(before or {})
    for batch in batches:
        out[batch.source] = batch.cursor
    return out


async def test_start_reads_the_central_account(adapter: MastodonAdapter, mock: MockServer) -> None:
    assert adapter.domain == mock.domain
    assert adapter.me is not None
    assert adapter.me.handle == f"coalesce@{mock.domain}"
    # Its rate-limit headers (seconds since the epoch) were read, and the budget took them in.
    assert adapter.client.ratelimit_limit == RATE_LIMIT
    assert adapter.budget._window("requests", "").allowed == int(RATE_LIMIT * adapter.budget.fraction)


async def test_a_tag_is_read_across_pages_then_only_what_is_new(
    adapter: MastodonAdapter, mock: MockServer
) -> None:
    ana = mock.client("ana")
    tag = "MockPaging"
    written = [str(ana.status_post(f"case {i} #{tag}")["id"]) for i in range(5)]
    mock.client("bea").status_post("no tag here")
    first = await _watch(adapter, [tag], {})
    posts = [p for b in first if b.source == "hashtag" for p in b.posts]
    assert [p.post_id for p in posts] == written  # three pages of two, oldest first
    assert [p.text for p in posts] == [f"case {i} #{tag}" for i in range(5)]
    assert all(p.hashtags == {tag.lower()} for p in posts)
    cursors = _cursors(first)
    assert cursors["hashtag"] == written[-1]

    newest = str(ana.status_post(f"one more #{tag}")["id"])
    again = await _watch(adapter, [tag], cursors)
    seen = [p.post_id for b in again if b.source == "hashtag" for p in b.posts]
    assert newest in seen
    assert set(seen) <= {*written, newest}  # the look-back may re-read older ones, never others
    assert _cursors(again, cursors)["hashtag"] == newest


async def test_a_second_tag_is_watched_when_the_first_was_never_used(
    adapter: MastodonAdapter, mock: MockServer
) -> None:
    written = str(mock.client("ana").status_post("only the second #MockSecondTag")["id"])
    batches = await _watch(adapter, ["MockNeverUsedTag", "MockSecondTag"], {})
    assert [p.post_id for b in batches for p in b.posts] == [written]


async def test_a_reply_mentioning_the_central_account_nominates_the_post(
    adapter: MastodonAdapter, mock: MockServer
) -> None:
    cursors = _cursors(await _watch(adapter, ["MockNothing"], {}))
    original = mock.client("bea").status_post("Grand rounds on maternal health equity")
    mock.client("ana").status_post("@coalesce this one, please", in_reply_to_id=original["id"])
    batches = await _watch(adapter, ["MockNothing"], cursors)
    nominations = [n for b in batches for n in b.nominations]
    assert len(nominations) == 1
    assert nominations[0].post.post_id == str(original["id"])
    assert nominations[0].post.author.handle == f"bea@{mock.domain}"
    assert nominations[0].nominated_by.handle == f"ana@{mock.domain}"
    assert "this one, please" in nominations[0].note


async def test_boost_then_unboost(adapter: MastodonAdapter, mock: MockServer) -> None:
    status = mock.client("ana").status_post("Our residency program is hiring #MockBoost")
    central = mock.client("coalesce")
    post = await adapter.resolve(str(status["id"]))
    receipt = await adapter.amplify(post, Action.BOOST)
    assert (receipt.ref, receipt.already) == (str(status["id"]), False)
    assert central.status(status["id"])["reblogged"] is True
    assert (await adapter.amplify(post, Action.BOOST)).already is True
    assert central.status(status["id"])["reblogs_count"] == 1
    await adapter.undo(receipt)
    assert central.status(status["id"])["reblogged"] is False
    await adapter.undo(receipt)  # undoing twice is done, not an error


async def test_a_direct_answer_mentions_the_member(adapter: MastodonAdapter, mock: MockServer) -> None:
    ana = mock.client("ana")
    asked = ana.status_post("@coalesce optout", visibility="direct")
    member = _author(mock, "ana")
    receipt = await adapter.send_direct(member, "You are opted out.", reply_to=str(asked["id"]))
    assert receipt is not None
    seen = ana.status(receipt.ref)
    assert seen["visibility"] == "direct"
    assert [m["acct"] for m in seen["mentions"]] == ["ana"]
    assert str(seen["in_reply_to_id"]) == str(asked["id"])
    assert "You are opted out." in seen["content"]


async def test_the_members_list_is_kept_in_step(adapter: MastodonAdapter, mock: MockServer) -> None:
    ana, bea, dora = (_author(mock, name) for name in ("ana", "bea", "dora"))
    central = mock.client("coalesce")
    sync = await adapter.sync_member_list("Mock members", [ana, bea, dora])
    assert (sync.added, sync.removed, sync.pending) == (2, 0, (dora.account_id,))  # dora is locked
    assert sorted(a["acct"] for a in central.list_accounts(sync.list_ref)) == ["ana", "bea"]
    again = await adapter.sync_member_list("Mock members", [bea])
    assert (again.list_ref, again.added, again.removed) == (sync.list_ref, 0, 1)
    assert [a["acct"] for a in central.list_accounts(sync.list_ref)] == ["bea"]
    assert [x["title"] for x in central.lists()].count("Mock members") == 1


async def test_followers_and_replies_from_strangers(adapter: MastodonAdapter, mock: MockServer) -> None:
    ana, bea, cara = (mock.client(name) for name in ("ana", "bea", "cara"))
    me = adapter.central_account()
    assert me is not None
    cara.account_follow(me.account_id)
    ana_id, bea_id, cara_id = (_author(mock, name).account_id for name in ("ana", "bea", "cara"))
    follows = await adapter.follows_central([ana_id, bea_id, cara_id])
    assert follows[cara_id] is True
    assert follows[bea_id] is False
    assert await adapter.follower_count() >= 1

    status = ana.status_post("Case review tonight #MockPileOn")
    post = await adapter.resolve(str(status["id"]))
    bea.status_post("@ana who asked you", in_reply_to_id=status["id"])
    assert await adapter.stranger_replies([post]) == {post.post_id: 1}
    bea.account_follow(ana_id)  # now a follower of the author: no longer a stranger
    assert await adapter.stranger_replies([post]) == {post.post_id: 0}
    counts = await adapter.engagement([post])
    assert counts[post.post_id].replies == 1


async def test_profiles_and_deleted_posts(adapter: MastodonAdapter, mock: MockServer) -> None:
    bea = _author(mock, "bea")
    fetched = await adapter.fetch_author(bea)
    assert fetched is not None
    assert "#nobot" in fetched.bio

    ana = mock.client("ana")
    status = ana.status_post("soon gone #MockGone")
    post = await adapter.resolve(str(status["id"]))
    assert await adapter.posts_gone([post]) == set()
    ana.status_delete(status["id"])
    assert await adapter.posts_gone([post]) == {post.post_id}


async def test_the_recorded_disagreements_still_hold(adapter: MastodonAdapter, mock: MockServer) -> None:
    """DISAGREEMENTS stays a record of fact: when mastodon-mock changes, this says so."""
    status = mock.client("ana").status_post("@cara just us", visibility="direct")
    created = datetime.fromisoformat(str(status["created_at"]))
    assert abs((int(status["id"]) >> 16) - created.timestamp() * 1000) > 86_400_000  # "status ids"
    assert mock.client("bea").status(status["id"])["visibility"] == "direct"  # "direct visibility"
    with pytest.raises(NotFound):  # "search by URL"
        await adapter.resolve(str(status["url"]))
    with pytest.raises(MastodonUnauthorizedError, match="requires an authenticated user"):  # "401 text"
        Mastodon(api_base_url=mock.base_url, access_token="nobody", version_check_mode="none").status_post(
            "x"
        )
