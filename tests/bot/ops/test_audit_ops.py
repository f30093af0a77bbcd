"""The audit log read through its operation, on SQLite and PostgreSQL: every kind of step a curator
or member takes shows, who and when, filtered by kind, actor, member and dates, and paged."""

from __future__ import annotations

import json

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Author, Platform
from bot.ops import audit, interviews, opportunities, safety
from bot.ops import queue as q_ops
from bot.ops.result import Outcome
from bot.store.store import Item, Store
from tests.factories import author, post

HOSTILE = '<script>alert("x")</script> javascript:alert(1)'


def _history(store: Store, settings: Settings, clock: FakeClock) -> dict[str, int]:
    """A day of steps, one hour apart: maria's two posts decided, her opt-out, a block, her freeze
    and unfreeze, the switch, an opportunity added and removed, an interview invited."""
    maria = Author(account_id="acc-maria", handle="maria@med.example", display_name=HOSTILE)
    items = [Item(post(by=maria)), Item(post(by=maria)), Item(post(by=author("troll@pile.example")))]
    first, second, troll = store.ingest(Platform.MASTODON, items, clock.now()).candidates
    queue = Queue(store, settings)

    def step() -> None:
        clock.advance(hours=1)

    step()
    assert q_ops.approve(queue, first, "ana", clock.now(), reason="lovely").ok
    step()
    assert q_ops.reject(queue, second, "rosa", clock.now(), reason=HOSTILE).ok
    step()
    assert safety.block(store, settings, "domain", "pile.example", "rosa", clock.now(), reason="pile-on").ok
    step()
    assert safety.freeze_member(store, settings, "maria@med.example", "ana", clock.now()).ok
    step()
    assert safety.unfreeze_member(store, settings, "maria@med.example", "rosa", clock.now()).ok
    step()
    assert safety.opt_out_member(store, settings, "maria@med.example", "ana", clock.now()).ok
    step()
    assert safety.freeze(store, settings, "lucia", clock.now()).ok
    step()
    added = opportunities.add(
        store, settings, clock.now(), "ana", title=HOSTILE, url="https://grants.example/a"
    )
    assert added.data is not None
    step()
    assert opportunities.remove(store, settings, clock.now(), "rosa", added.data.opportunity.id).ok
    step()
    invited = interviews.invite(store, settings, clock.now(), "lucia", name=HOSTILE)
    assert invited.data is not None
    return {"first": first, "second": second, "troll": troll, "interview": invited.data.interview.id}


def test_every_kind_of_step_shows_newest_first_with_who_and_when(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    ids = _history(store, settings, clock)
    result = audit.log(store, settings, clock.now(), limit=100)
    assert result.outcome is Outcome.DONE
    assert result.data is not None
    entries = result.data.entries
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    seen = {(e.kind, e.action, e.actor) for e in entries}
    assert {
        ("decision", "approve", "ana"),
        ("decision", "reject", "rosa"),
        ("block", "block", "rosa"),
        ("freeze", "freeze", "ana"),
        ("freeze", "unfreeze", "rosa"),
        ("consent", "out", "curator:ana"),
        ("freeze", "freeze", "lucia"),
        ("opportunity", "added", "ana"),
        ("opportunity", "removed", "rosa"),
        ("interview", "invited", "lucia"),
    } <= seen
    rejected = next(e for e in entries if e.action == "reject")
    assert rejected.detail == HOSTILE  # kept as written: escaping is the face's work
    assert rejected.ref == f"candidate:{ids['second']}"
    assert rejected.member == "mastodon maria@med.example"
    block = next(e for e in entries if e.kind == "block")
    assert (block.subject, block.detail) == ("domain:pile.example", "pile-on")
    switch = next(e for e in entries if e.kind == "freeze" and e.actor == "lucia")
    assert switch.subject == "all amplification"
    assert not result.data.more
    json.dumps(result.as_json())


def test_filters_by_kind_actor_member_and_dates_and_pages(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    start = clock.now()
    _history(store, settings, clock)
    now = clock.now()
    freezes = audit.log(store, settings, now, kinds=["freeze"])
    assert freezes.data is not None
    assert [(e.action, e.actor) for e in freezes.data.entries] == [
        ("freeze", "lucia"),
        ("unfreeze", "rosa"),
        ("freeze", "ana"),
    ]
    by_rosa = audit.log(store, settings, now, actor="ROSA")
    assert by_rosa.data is not None
    assert {e.actor for e in by_rosa.data.entries} == {"rosa"}
    assert len(by_rosa.data.entries) == 4  # reject, block, unfreeze, opportunity removed
    by_ana = audit.log(store, settings, now, actor="ana", kinds=["consent"])
    assert by_ana.data is not None
    assert [e.actor for e in by_ana.data.entries] == ["curator:ana"]  # a curator for a member

    hers = audit.log(store, settings, now, member="maria@med.example")
    assert hers.data is not None
    assert {e.kind for e in hers.data.entries} == {"decision", "freeze", "consent"}
    assert all(e.member == "mastodon maria@med.example" for e in hers.data.entries)
    nobody = audit.log(store, settings, now, member="nobody@nowhere.example")
    assert nobody.outcome is Outcome.REFUSED

    assert start.date().isoformat() == "2026-03-02"
    today = audit.log(store, settings, now, since="2026-03-02", until="2026-03-02")
    assert today.data is not None
    # 16:00 … 23:00, with the two withdrawals the block and the opt-out made; the last two steps
    # fall on the 3rd
    assert len(today.data.entries) == 10
    assert ("decision", "withdraw", "system") in {(e.kind, e.action, e.actor) for e in today.data.entries}
    later = audit.log(store, settings, now, since="2026-03-03")
    assert later.data is not None
    assert [e.kind for e in later.data.entries] == ["interview", "opportunity"]

    page = audit.log(store, settings, now, limit=3)
    assert page.data is not None
    assert page.data.more
    assert "more: --offset 3" in page.message
    rest = audit.log(store, settings, now, limit=100, offset=3)
    everything = audit.log(store, settings, now, limit=100)
    assert rest.data is not None
    assert everything.data is not None
    assert page.data.entries + rest.data.entries == everything.data.entries


def test_bad_filters_are_usage_errors(store: Store, settings: Settings, clock: FakeClock) -> None:
    now = clock.now()
    assert audit.log(store, settings, now, kinds=["gossip"]).outcome is Outcome.USAGE
    assert audit.log(store, settings, now, since="someday").outcome is Outcome.USAGE
    assert audit.log(store, settings, now, since="2026-03-02", until="2026-03-01").outcome is Outcome.USAGE
    assert audit.log(store, settings, now, limit=0).outcome is Outcome.USAGE
    assert audit.log(store, settings, now, offset=-1).outcome is Outcome.USAGE
    nul = audit.log(store, settings, now, actor="ana\x00", member="\x00")  # PostgreSQL refuses NUL
    assert (nul.outcome, nul.message) == (Outcome.DONE, "No audit entries match.")
    empty = audit.log(store, settings, now)
    assert (empty.outcome, empty.message) == (Outcome.DONE, "No audit entries match.")
