"""Consent across platforms, end to end on the Mastodon sandbox: a member's opt-out by mention
withdraws what waits, takes back what was boosted and is confirmed to them; opt-in; linked
accounts; a profile marker found at the last moment; the sweep that catches races."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.store import models as m
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.trust.conftest import TAG, directs_to, mention, plain, states


def _consent(engine: Engine, handle: str) -> str | None:
    with engine.connect() as conn:
        value: str | None = conn.execute(
            select(m.Account.consent).where(m.Account.handle == handle)
        ).scalar_one()
        return value


def _decisions(engine: Engine, cid: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Decision.curator, m.Decision.action)
            .where(m.Decision.candidate_id == cid)
            .order_by(m.Decision.id)
        )
        return [(str(a), str(b)) for a, b in rows]


async def test_opting_out_by_mention_withdraws_undoes_and_confirms(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    boosted, approved, waiting = (sandbox.post(maria, f"News {i} #{TAG}") for i in range(3))
    await app.run_once()
    first, second, third = sorted(states(engine))
    app.queue.approve(first, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(boosted)) == 1
    app.queue.approve(second, "ana", clock.now())
    clock.advance(1)
    request = mention(sandbox, maria, "optout")

    await app.run_once()

    assert sandbox.reblogs_of(boosted) == []  # the earlier boost was taken back
    assert sandbox.reblogs_of(approved) == []
    assert sandbox.reblogs_of(waiting) == []
    assert states(engine) == {first: "withdrawn", second: "withdrawn", third: "withdrawn"}
    assert ("system", "undo") in _decisions(engine, first)
    assert ("system", "withdraw") in _decisions(engine, third)
    assert _consent(engine, "maria@med.example") == "out"
    (reply,) = directs_to(sandbox, maria)
    assert reply["in_reply_to_id"] == request["id"]
    assert "2 waiting posts taken out of the queue" in plain(reply)
    assert "1 earlier boost being taken back" in plain(reply)
    # Her later posts never reach the queue.
    sandbox.post(maria, f"Another one #{TAG}")
    report = await app.run_once()
    assert report.ingested[Platform.MASTODON].skipped.get("opted_out") == 1
    assert len(states(engine)) == 3


async def test_a_replayed_mention_is_handled_once(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    await app.run_once()
    mention(sandbox, maria, "opt out")
    await app.run_once()
    with engine.begin() as conn:  # a crash before the cursor moved: the mention comes again
        conn.execute(update(m.Cursor).where(m.Cursor.source == "mentions").values(value="0"))
    await app.run_once()
    with engine.connect() as conn:
        assert conn.execute(select(m.MemberRequest.id)).all() == [(1,)]
    assert len(directs_to(sandbox, maria)) == 1


async def test_opting_back_in_and_the_marker_warning(
    app: Coalesce, sandbox: MastodonSandbox, engine: Engine
) -> None:
    maria = sandbox.add_account("maria", note="Surgeon. #nobot")
    await app.run_once()
    mention(sandbox, maria, "optout")
    await app.run_once()
    mention(sandbox, maria, "Opt-in!")
    await app.run_once()
    assert _consent(engine, "maria@med.example") == "in"
    last = directs_to(sandbox, maria)[0]  # newest first
    assert "Welcome back" in plain(last)
    assert "#nobot" in plain(last).replace("\u2060", "")  # shown as written, not a live hashtag


async def test_in_an_opt_in_community_only_members_who_opted_in_are_queued(
    app_factory: Callable[..., Any],
    settings_factory: Callable[..., Settings],
    sandbox: MastodonSandbox,
    engine: Engine,
) -> None:
    app = await app_factory(settings_factory(community__consent="opt-in"))
    maria, rosa = sandbox.add_account("maria"), sandbox.add_account("rosa")
    await app.run_once()
    mention(sandbox, maria, "optin")
    await app.run_once()
    sandbox.post(maria, f"Mine #{TAG}")
    sandbox.post(rosa, f"Hers #{TAG}")
    report = await app.run_once()
    assert len(report.ingested[Platform.MASTODON].candidates) == 1
    assert "Thank you" in plain(directs_to(sandbox, maria)[0])


async def test_linked_accounts_share_one_opt_out(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    other = sandbox.add_account("maria_md", "elsewhere.example")
    sandbox.post(maria, f"From her first account #{TAG}")
    await app.run_once()
    mention(sandbox, maria, "link")
    await app.run_once()
    text = plain(directs_to(sandbox, maria)[0])
    code = re.search(r"link code is ([A-Z0-9]{4}-[A-Z0-9]{4})", text)
    assert code is not None
    mention(sandbox, maria, f"link {code.group(1)}")  # from the same account: refused
    mention(sandbox, other, "link ZZZZ-ZZZZ")  # a wrong code: refused
    await app.run_once()
    assert "from this account" in plain(directs_to(sandbox, maria)[0])
    assert "unknown or has expired" in plain(directs_to(sandbox, other)[0])
    mention(sandbox, other, f"link {code.group(1).lower().replace('-', ' ')}")  # typed loosely
    await app.run_once()
    assert "Nothing is linked until then" in plain(directs_to(sandbox, other)[0])
    # the account that got the code is asked in private, naming the other, and confirms
    asked = plain(directs_to(sandbox, maria)[0])
    assert "maria_md@elsewhere.example (Mastodon) entered your link code" in asked
    mention(sandbox, maria, "link yes")
    await app.run_once()
    assert "Linked" in plain(directs_to(sandbox, maria)[0])
    with engine.connect() as conn:
        people = set(
            conn.execute(select(m.Account.person_id).where(m.Account.handle.like("maria%"))).scalars()
        )
    assert len(people) == 1
    assert None not in people

    mention(sandbox, other, "optout")  # opting out from the second account…
    await app.run_once()
    assert _consent(engine, "maria@med.example") == "out"  # …covers the first
    assert set(states(engine).values()) == {"withdrawn"}
    assert "all 2 of your linked accounts" in plain(directs_to(sandbox, other)[0])


async def test_a_nobot_added_after_queueing_stops_the_boost(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria", note="Pediatrician")
    status = sandbox.post(maria, f"Proud day #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    sandbox.set_note(maria, "Pediatrician. #NoBoost please")

    await app.amplifier.run_due()  # (a watch would also notice it, on her next post)

    assert sandbox.reblogs_of(status) == []
    assert states(engine) == {cid: "withdrawn"}
    assert _consent(engine, "maria@med.example") == "out"
    with engine.connect() as conn:
        reason = conn.execute(
            select(m.Decision.reason).where(m.Decision.candidate_id == cid, m.Decision.action == "withdraw")
        ).scalar_one()
    assert "profile" in reason
    assert directs_to(sandbox, maria) == []  # she asked for nothing: no message either


async def test_an_opt_out_while_the_profile_is_fetched_stops_the_boost(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    """The consent check is the last thing before the platform call: an opt-out that lands
    while the author's profile is being fetched (a slow server) is still seen."""
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Proud day #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    sandbox.faults.add(r"/api/v1/accounts/\w+$", Fault("delay_after", seconds=1), method="GET")
    amplifying = asyncio.create_task(app.amplifier.run_due())
    assert await asyncio.to_thread(sandbox.wait_for_request, "GET", r"/api/v1/accounts/\w+$")
    # the profile was read, its answer is on the way: she opts out (by email, a curator records it)
    app.trust.consent.opt_out(Platform.MASTODON, str(maria["id"]), "cli", "ana", clock.now())

    assert await amplifying == []
    assert sandbox.reblogs_of(status) == []
    assert states(engine) == {cid: "withdrawn"}


async def test_the_sweep_takes_back_a_boost_that_finished_after_the_opt_out(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    """A worker's platform call in flight when the member opted out ends in a live boost; the
    next round's sweep finds it and takes it back."""
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Proud day #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    await app.amplifier.run_due()
    assert len(sandbox.reblogs_of(status)) == 1
    with engine.begin() as conn:  # the opt-out recorded in the same instant the boost finished
        conn.execute(update(m.Account).values(consent="out", consent_source="mastodon:optout"))
    report = await app.trust.run_once()
    assert report.enforced["undos"] == 1
    assert report.undone == 1
    assert sandbox.reblogs_of(status) == []
    again = await app.trust.run_once()
    assert again.enforced == {"linked": 0, "withdrawn": 0, "undos": 0}


async def test_undos_and_confirmations_survive_platform_faults(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Proud day #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    mention(sandbox, maria, "optout")
    sandbox.faults.add(r"/unreblog$", Fault("status", 503), method="POST")
    sandbox.faults.add(r"^/api/v1/statuses$", Fault("status", 500), method="POST")
    await app.run_once()
    assert len(sandbox.reblogs_of(status)) == 1
    assert directs_to(sandbox, maria) == []
    with engine.connect() as conn:
        undo = conn.execute(select(m.Undo.state, m.Undo.attempts, m.Undo.error)).one()
    assert undo.state == "pending"
    assert undo.attempts == 1
    assert "Unavailable" in undo.error
    clock.advance(minutes=5)  # past the backoff
    await app.trust.run_once()
    assert sandbox.reblogs_of(status) == []
    assert len(directs_to(sandbox, maria)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(m.MemberRequest.reply_state)).scalar_one() == "sent"


async def test_an_opt_out_sent_before_the_bot_first_started_still_counts(
    app_factory: Callable[..., Any], settings: Settings, sandbox: MastodonSandbox, engine: Engine
) -> None:
    maria = sandbox.add_account("maria")
    mention(sandbox, maria, "optout")
    rosa = sandbox.add_account("rosa")
    sandbox.post(rosa, "@someone this deserves a boost")  # older nominations are not read back
    app = await app_factory(settings)
    await app.run_once()
    assert _consent(engine, "maria@med.example") == "out"
    assert len(directs_to(sandbox, maria)) == 1


async def test_a_nobot_seen_on_a_new_post_takes_back_earlier_boosts(
    app: Coalesce, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    maria = sandbox.add_account("maria", note="Pediatrician")
    status = sandbox.post(maria, f"Proud day #{TAG}")
    await app.run_once()
    (cid,) = states(engine)
    app.queue.approve(cid, "ana", clock.now())
    await app.run_once()
    assert len(sandbox.reblogs_of(status)) == 1
    sandbox.set_note(maria, "Pediatrician #nobot")
    sandbox.post(maria, f"Another day #{TAG}")
    clock.advance(1)
    await app.run_once()
    assert _consent(engine, "maria@med.example") == "out"
    assert sandbox.reblogs_of(status) == []
    assert states(engine) == {cid: "withdrawn"}
