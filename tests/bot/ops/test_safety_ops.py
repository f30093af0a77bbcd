"""The curators' safety operations called directly, on SQLite and PostgreSQL: the freeze switch,
the runtime blocklist, one member's freeze (and its take-backs called off) and opt-out."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update

from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import health as health_ops
from bot.ops import safety
from bot.ops.result import Outcome
from bot.store import models as m
from bot.store.store import Item, Store
from bot.trust.veto import is_frozen
from tests.factories import author, post


def _amplified(store: Store, clock: FakeClock, handle: str = "maria@med.example") -> int:
    """A post of ``handle``'s, approved and boosted a moment ago; returns its candidate."""
    cid = store.ingest(Platform.MASTODON, [Item(post(by=author(handle)))], clock.now()).candidates[0]
    with store.engine.begin() as conn:
        conn.execute(
            insert(m.Amplification).values(
                community_id=store.community_id,
                candidate_id=cid,
                platform="mastodon",
                action="boost",
                state="done",
                started_at=clock.now(),
                completed_at=clock.now(),
            )
        )
        conn.execute(update(m.Candidate).where(m.Candidate.id == cid).values(state="amplified"))
    return cid


def _undos(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.Undo)).scalar_one())


def test_the_freeze_switch_says_whether_it_changed_and_health_shows_it(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    first = safety.freeze(store, settings, "ana", clock.now())
    assert (first.outcome, first.data) == (Outcome.DONE, safety.SwitchChange(frozen=True, changed=True))
    assert is_frozen(store)
    again = safety.freeze(store, settings, "rosa", clock.now())
    assert again.message == "Amplification was already frozen."
    health = health_ops.health(store, settings, clock.now())
    assert health.data is not None
    assert health.data.freeze.frozen
    assert health.data.freeze.changed_by == "rosa"
    assert "amplification is frozen" in health.message
    back = safety.unfreeze(store, settings, "ana", clock.now())
    assert back.message == "Amplification is back on."
    assert safety.unfreeze(store, settings, "ana", clock.now()).message == "Amplification was not frozen."
    assert safety.freeze(store, settings, "bob", clock.now()).outcome is Outcome.USAGE
    assert not is_frozen(store)


def test_blocking_twice_does_not_say_added_and_unblocking_nothing_is_refused(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    store.ingest(Platform.MASTODON, [Item(post(by=author("troll@pile.example")))], clock.now())
    added = safety.block(
        store, settings, "domain", "https://Pile.example/", "ana", clock.now(), reason="pile-on"
    )
    assert added.outcome is Outcome.DONE
    assert added.data == safety.BlockChange("domain", "pile.example", changed=True, withdrawn=1)
    assert added.message == "Blocked: domain pile.example.\n1 waiting candidate left the queue."
    twice = safety.block(store, settings, "domain", "pile.example", "rosa", clock.now())
    assert twice.message == "Already blocked: domain pile.example."
    assert twice.data is not None
    assert not twice.data.changed
    assert safety.block(store, settings, "did", "not-a-did", "ana", clock.now()).outcome is Outcome.USAGE
    assert safety.block(store, settings, "planet", "mars", "ana", clock.now()).outcome is Outcome.USAGE
    listed = safety.list_blocks(store, settings)
    assert listed.data is not None
    assert [(r.kind, r.value, r.source, r.added_by) for r in listed.data] == [
        ("domain", "pile.example", "runtime", "ana")
    ]
    assert safety.unblock(store, settings, "domain", "pile.example", "ana", clock.now()).ok
    gone = safety.unblock(store, settings, "domain", "pile.example", "ana", clock.now())
    assert gone.outcome is Outcome.REFUSED
    assert "was not on the runtime blocklist" in gone.message


def test_unfreezing_a_member_calls_off_the_take_backs_not_yet_made(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    _amplified(store, clock)
    frozen = safety.freeze_member(store, settings, "maria@med.example", "ana", clock.now())
    assert frozen.outcome is Outcome.DONE
    assert frozen.data == safety.MemberChange(("mastodon maria@med.example",), undoing=1)
    assert "1 boost of the last" in frozen.message
    assert _undos(store) == 1
    unfrozen = safety.unfreeze_member(store, settings, "maria", "rosa", clock.now())
    assert unfrozen.data is not None
    assert unfrozen.data.called_off == 1
    assert "1 take-back not yet made was called off" in unfrozen.message
    assert _undos(store) == 0
    nobody = safety.freeze_member(store, settings, "nobody@nowhere.example", "ana", clock.now())
    assert nobody.outcome is Outcome.REFUSED
    assert "has been seen" in nobody.message


def test_a_curator_records_an_opt_out_sent_another_way(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    _amplified(store, clock)
    store.ingest(Platform.MASTODON, [Item(post(by=author()))], clock.now())
    result = safety.opt_out_member(store, settings, "maria@med.example", "ana", clock.now())
    assert result.outcome is Outcome.DONE
    assert result.data is not None
    assert (result.data.withdrawn, result.data.undoing) == (1, 1)
    standing = safety.member_standing(store, settings, "maria@med.example")
    assert standing.data is not None
    assert standing.data.consent == "out"
    assert standing.data.accounts[0]["consent_source"] == "curator:ana"
    assert standing.message == "This member opted out."
