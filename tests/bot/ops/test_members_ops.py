"""Finding members across the platforms, on SQLite and PostgreSQL: linked accounts come together,
consent, freeze, block and the organisation mark show as they stand, and what a stranger put in
a name or a profile link is data, never a pattern or a link."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Author, Platform
from bot.ops import members, report, safety
from bot.ops.result import Outcome
from bot.store import models as m
from bot.store.store import Item, Store
from tests.factories import post

HOSTILE = '<img src=x onerror=alert(1)> "Dra." <script>alert(1)</script>'


def _seen(store: Store, clock: FakeClock, platform: Platform, who: Author) -> int:
    store.ingest(platform, [Item(post(by=who, platform=platform))], clock.now())
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(m.Account.id).where(
                    m.Account.platform == platform.value, m.Account.platform_account_id == who.account_id
                )
            ).scalar_one()
        )


def _link(store: Store, *pks: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(m.Account).where(m.Account.id.in_(pks)).values(person_id=min(pks)))


def _set_url(store: Store, pk: int, url: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(m.Account).where(m.Account.id == pk).values(url=url))


def test_search_brings_a_persons_accounts_together_with_their_standing(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    maria_m = _seen(store, clock, Platform.MASTODON, Author("m-1", "maria@med.example", "María Pérez"))
    maria_b = _seen(store, clock, Platform.BLUESKY, Author("did:plc:maria", "maria.bsky.social", ""))
    clinic = _seen(store, clock, Platform.MASTODON, Author("m-2", "clinic@med.example", "Clínica Sur"))
    _link(store, maria_m, maria_b)
    _set_url(store, maria_m, "javascript:alert(1)")
    _set_url(store, clinic, "https://med.example/@clinic")

    found = members.search(store, settings, "MARIA")
    assert found.outcome is Outcome.DONE
    assert found.data is not None
    (maria,) = found.data
    assert maria.person == min(maria_m, maria_b)
    assert maria.name == "María Pérez"
    assert {(x.platform, x.handle) for x in maria.accounts} == {
        ("mastodon", "maria@med.example"),
        ("bluesky", "maria.bsky.social"),
    }
    assert {x.ref for x in maria.accounts} == {"mastodon:m-1", "bluesky:did:plc:maria"}
    assert all(x.url is None for x in maria.accounts)  # a javascript: profile link is no link
    assert (maria.consent, maria.frozen, maria.blocked, maria.organisation) == (None, False, False, False)

    # the operations a face offers on a result take the account's ref as it is
    assert safety.freeze_member(store, settings, "bluesky:did:plc:maria", "ana", clock.now()).ok
    assert safety.opt_out_member(store, settings, "mastodon:m-1", "rosa", clock.now()).ok
    assert report.mark(store, settings, "ana", "clinic@med.example", organisation=True).ok
    assert safety.block(store, settings, "account", "clinic@med.example", "ana", clock.now()).ok

    again = members.search(store, settings, "med.example")
    assert again.data is not None
    by_name = {v.name: v for v in again.data}
    assert set(by_name) == {"María Pérez", "Clínica Sur"}
    maria = by_name["María Pérez"]
    assert (maria.consent, maria.frozen, maria.blocked) == ("out", True, False)
    assert {x.frozen_by for x in maria.accounts} == {"ana"}
    clinic_view = by_name["Clínica Sur"]
    assert (clinic_view.organisation, clinic_view.blocked) == (True, True)
    (account,) = clinic_view.accounts
    assert (account.organisation_source, account.url) == ("curator:ana", "https://med.example/@clinic")
    assert "opted out, frozen" in again.message
    json.dumps(again.as_json())

    assert safety.unfreeze_member(store, settings, "bluesky:did:plc:maria", "ana", clock.now()).ok
    thawed = members.search(store, settings, "maria.bsky")
    assert thawed.data is not None
    assert not thawed.data[0].frozen


def test_nothing_found_and_bad_input(store: Store, settings: Settings, clock: FakeClock) -> None:
    _seen(store, clock, Platform.MASTODON, Author("m-1", "maria@med.example", "María"))
    assert members.search(store, settings, "   ").outcome is Outcome.USAGE
    assert members.search(store, settings, "maria", limit=0).outcome is Outcome.USAGE
    none = members.search(store, settings, "nobody")
    assert (none.outcome, none.data) == (Outcome.DONE, [])
    # LIKE's wildcards typed by a curator are themselves, not "anything"
    assert members.search(store, settings, "%").data == []
    assert members.search(store, settings, "_").data == []


def test_hostile_names_come_back_as_written_and_match_only_themselves(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    _seen(store, clock, Platform.TELEGRAM, Author("tg-9", "evil_user", HOSTILE))
    _seen(store, clock, Platform.MASTODON, Author("m-1", "maria@med.example", "María"))
    found = members.search(store, settings, "<script>")
    assert found.data is not None
    (evil,) = found.data
    assert evil.name == HOSTILE  # the data keeps the text; every face escapes it

    @hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(min_size=1, max_size=30))
    def any_text_is_a_literal(text: str) -> None:
        result = members.search(store, settings, text)
        assert result.outcome in (Outcome.DONE, Outcome.USAGE)
        wanted = " ".join(text.split()).lstrip("@").casefold()
        for view in result.data or []:
            haystacks = [f"{x.handle}\n{x.name}\n{x.ref}".casefold() for x in view.accounts]
            assert any(wanted in h for h in haystacks)

    any_text_is_a_literal()
