"""Respect what members already said on Mastodon (issue 10, class 10): an account that is not
``discoverable`` or asks for ``noindex`` is treated as not (yet) consenting — its posts reach the
curators with the reason on their card, and are not boosted until the member opts in. The
signals are read with the profile, again just before each boost. Through the real Mastodon.py
against the loopback sandbox, the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from adapters.mastodon.normalize import to_author
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.amplifier import WITHHELD_HOLD
from bot.curation.flags import card_flags
from bot.domain import Platform
from bot.store import models as m
from bot.trust.discovery import OPTED_OUT, SIGNALS, WITHHELD, ProfileRule, objection
from sandbox.mastodon import MastodonSandbox
from tests.conftest import StartApp, make_settings
from tests.mastodon_adapter import sandbox_adapter

TAG = "LatinasInMedicine"


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", clock=clock.now) as sb:
        yield sb


@pytest.fixture
def make_app(start_app: StartApp, sandbox: MastodonSandbox, clock: FakeClock) -> Callable[..., Any]:
    async def build(settings: Settings | None = None) -> Coalesce:
        adapter = sandbox_adapter(sandbox.base_url, sandbox.token, clock)
        return await start_app(settings or make_settings(), {Platform.MASTODON: adapter})

    return build


def _only_candidate(engine: Engine) -> int:
    with engine.connect() as conn:
        (cid,) = conn.execute(select(m.Candidate.id)).scalars().all()
    return int(cid)


def _state(engine: Engine, cid: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(m.Candidate.state, m.Candidate.last_error).where(m.Candidate.id == cid)
        ).one()
    return str(row.state), row.last_error


def _flags(app: Coalesce, cid: int, clock: FakeClock) -> list[str]:
    view = app.queue.show(cid)
    noted = card_flags(
        app.settings.trust.flags,
        text=view.text,
        now=clock.now(),
        consent_note=view.consent_note,
        nominated_by_stranger=view.nominated_by_stranger,
    )
    return [f.code for f in noted]


async def test_an_undiscoverable_member_reaches_the_curators_and_waits_for_her_opt_in(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app()
    rosa = sandbox.add_account("rosa", discoverable=False)
    post = sandbox.post(rosa, f"Our clinic opens today #{TAG}")
    await app.run_once()

    cid = _only_candidate(engine)
    view = app.queue.show(cid)
    assert view.state == "pending"  # the curators can still read it
    assert view.consent_note is not None
    assert "not discoverable" in view.consent_note
    assert "not_consenting" in _flags(app, cid, clock)

    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert sandbox.reblogs_of(post) == []
    state, why = _state(engine, cid)
    assert state == "approved"  # held, not lost: it goes once she opts in
    assert why is not None
    assert "until they opt in" in why

    sandbox.post(rosa, f"@{sandbox.central['acct']}@{sandbox.domain} optin")
    await app.run_once()
    assert app.queue.show(cid).consent_note is None  # the card no longer holds it back
    clock.advance(WITHHELD_HOLD.total_seconds() + 1)
    await app.run_once()
    assert len(sandbox.reblogs_of(post)) == 1
    assert _state(engine, cid)[0] == "amplified"


async def test_noindex_holds_a_post_back_as_well(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app()
    lucia = sandbox.add_account("lucia", noindex=True)
    post = sandbox.post(lucia, f"Night shift thoughts #{TAG}")
    await app.run_once()
    cid = _only_candidate(engine)
    assert "search engines" in (app.queue.show(cid).consent_note or "")
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert sandbox.reblogs_of(post) == []


async def test_a_signal_set_after_approval_is_read_at_the_last_look(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app()
    ines = sandbox.add_account("ines")
    post = sandbox.post(ines, f"Match day! #{TAG}")
    await app.run_once()
    cid = _only_candidate(engine)
    assert app.queue.show(cid).consent_note is None
    app.queue.approve(cid, "ana", clock.now())
    sandbox.set_discovery(ines, discoverable=False)  # she changed her mind before the boost

    await app.run_once()

    assert sandbox.reblogs_of(post) == []
    assert "not discoverable" in (app.queue.show(cid).consent_note or "")  # the card follows


async def test_the_community_can_relax_one_signal_and_keep_the_others(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    relaxed = make_settings(trust__respect_platform_signals={"discoverable": False})
    app = await make_app(relaxed)
    rosa = sandbox.add_account("rosa", discoverable=False)
    lucia = sandbox.add_account("lucia", noindex=True)
    hers = sandbox.post(rosa, f"Grand rounds #{TAG}")
    theirs = sandbox.post(lucia, f"Grand rounds too #{TAG}")
    await app.run_once()
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(m.Candidate.id)).scalars())
    for cid in ids:
        app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(hers)) == 1
    assert sandbox.reblogs_of(theirs) == []


async def test_an_account_whose_server_says_nothing_is_not_held(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await make_app()
    remote = sandbox.add_account("vera", domain="other.example", discoverable=None)
    post = sandbox.post(remote, f"From afar #{TAG}")
    await app.run_once()
    cid = _only_candidate(engine)
    assert app.queue.show(cid).consent_note is None
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(post)) == 1


async def test_under_opt_in_the_signals_change_nothing(
    make_app: Callable[..., Any], sandbox: MastodonSandbox, engine: Engine
) -> None:
    app = await make_app(make_settings(community__consent="opt-in"))
    rosa = sandbox.add_account("rosa", discoverable=False)
    sandbox.post(rosa, f"Hello #{TAG}")
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].skipped.get("not_opted_in") == 1


# -- the rule itself, over any bio, any signals, any settings --------------------------------

_names = st.sampled_from(sorted(SIGNALS))


@settings(max_examples=200, deadline=None)
@given(
    bio=st.text(max_size=80),
    marker=st.booleans(),
    withheld=st.frozensets(_names | st.text(max_size=8)),
    respected=st.frozensets(_names),
    opted_in=st.booleans(),
)
def test_the_profile_rule(
    bio: str, marker: bool, withheld: frozenset[str], respected: frozenset[str], opted_in: bool
) -> None:
    rule = ProfileRule(markers=frozenset({"nobot"}), respected=respected)
    text = f"{bio} #NoBot" if marker else bio.replace("#", " ").replace("＃", " ")
    found = objection(rule, bio=text, withheld=withheld, opted_in=opted_in)
    if marker:
        assert found is not None
        assert found.kind == OPTED_OUT
    elif withheld & respected and not opted_in:
        assert found is not None
        assert found.kind == WITHHELD
        assert all(SIGNALS[name] in found.reason for name in withheld & respected)
    else:
        assert found is None


_field = st.none() | st.booleans() | st.text(max_size=3) | st.integers()


@settings(max_examples=200, deadline=None)
@given(discoverable=_field, noindex=_field, present=st.booleans())
def test_the_signals_are_read_from_any_account_entity(discoverable: Any, noindex: Any, present: bool) -> None:
    """Only an explicit ``discoverable: false`` / ``noindex: true`` holds a post back; anything
    else a server may send (absent, null, a string) says nothing."""
    entity: dict[str, Any] = {"id": "1", "acct": "rosa", "note": "", "created_at": "2026-01-01T00:00:00Z"}
    if present:
        entity.update(discoverable=discoverable, noindex=noindex)
    expected = set()
    if present and discoverable is False:
        expected.add("discoverable")
    if present and noindex is True:
        expected.add("noindex")
    assert to_author(entity, "med.example").withheld == expected
