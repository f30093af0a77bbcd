"""Every way the central account speaks passes the same last look (bot/trust/veto.py): after a member
opts out (or adds #nobot to her profile), is frozen, is blocked — or the curators freeze the
whole account — the boost, her opportunity in the digest, her interview, her place on the
members list and the numbers post are tried, and the Mastodon sandbox records no such call.

The real Mastodon.py against the loopback sandbox; the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from adapters.mastodon.normalize import html_to_text
from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.queue import Queue
from bot.domain import Platform, TextLimits
from bot.report.refresh import Refresher
from bot.series.opportunities import OpportunityDraft, OpportunityList
from bot.trust.safety import Blocklist, Freezer
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import SLOT, TOKEN, mastodon_adapter, series_config
from tests.conftest import make_settings

TAG = "LatinasInMedicine"
INTERVIEW_SLOT = datetime(2026, 3, 5, 18, tzinfo=UTC)  # Thursday 12:00 in Chicago
HER_LINK = "https://becas.example.mx/inv"
CURATORS_LINK = "https://grants.example.org/curated"
LIST_TITLE = "Latinas in Medicine members"

# How a member (or the whole account) comes to be vetoed, each through the real way in.
STANDING = ("opted_out", "frozen", "blocked")
EVERY = (*STANDING, "global_freeze")


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(domain="med.example", token=TOKEN, clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def world(
    engine: Engine, sandbox: MastodonSandbox, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Coalesce] = []

    async def build(settings: Settings) -> Coalesce:
        adapter = mastodon_adapter(sandbox.base_url, clock)
        app = Coalesce(
            settings, engine=engine, adapters={Platform.MASTODON: adapter}, clock=clock, worker="w1"
        )
        await app.start()
        started.append(app)
        return app

    yield build
    for app in started:
        await app.stop()


def veto(condition: str, app: Coalesce, sandbox: MastodonSandbox, maria: Any, clock: FakeClock) -> None:
    """Apply ``condition`` to Maria (or to the account) the way it happens for real."""
    now = clock.now()
    settings = app.settings
    if condition == "opted_out":  # a curator records the opt-out she sent by email
        app.trust.consent.opt_out(Platform.MASTODON, str(maria["id"]), "cli", "ana", now)
    elif condition == "nobot":  # she adds #nobot to her profile: nothing in the database knows yet
        sandbox.set_note(maria, "Cardiology resident. #nobot")
    elif condition == "frozen":
        Freezer(app.store, settings, app.trust.consent).freeze("maria@med.example", "ana", now)
    elif condition == "blocked":
        Blocklist(app.store, settings, app.trust.consent).add("account", "maria@med.example", "ana", now)
    elif condition == "global_freeze":
        app.amplifier.freeze("ana", now)
    else:  # pragma: no cover - a typo in a test
        raise AssertionError(condition)


def central_texts(sandbox: MastodonSandbox) -> list[str]:
    return [html_to_text(str(s["content"])) for s in sandbox.statuses_by(sandbox.central["id"])]


async def approve_all(app: Coalesce, clock: FakeClock) -> list[int]:
    await app.run_once()
    queue = Queue(app.store, app.settings)
    ids = [c.id for c in queue.list("pending")]
    for cid in ids:
        queue.approve(cid, "ana", clock.now())
    return ids


# -- boosts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", [*EVERY, "nobot"])
async def test_no_boost(
    condition: str, world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await world(make_settings())
    maria = sandbox.add_account("maria")
    status = sandbox.post(maria, f"Matched into cardiology! #{TAG}")
    (cid,) = await approve_all(app, clock)
    veto(condition, app, sandbox, maria, clock)

    await app.amplifier.run_due()
    await app.run_once()

    assert sandbox.reblogs_of(status) == []
    assert Queue(app.store, app.settings).show(cid).state != "amplified"
    if condition == "global_freeze":  # the control: the same boost goes out once unfrozen
        app.amplifier.freeze("ana", clock.now(), frozen=False)
        await app.amplifier.run_due()
        assert len(sandbox.reblogs_of(status)) == 1


# -- her opportunity in the digest ------------------------------------------------------------------


@pytest.mark.parametrize("condition", [*EVERY, "nobot"])
async def test_no_member_opportunity_in_the_digest(
    condition: str, world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    """Her #opportunity post was approved (and listed) before she said no: later digests leave it out."""
    app = await world(make_settings(**series_config(sandbox)))
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Beca de investigación, cierra el 30 de abril {HER_LINK} #{TAG} #opportunity")
    await approve_all(app, clock)
    await app.run_once()
    listed = OpportunityList(app.store)
    assert [o.url for o in listed.all()] == [HER_LINK]
    listed.add(
        OpportunityDraft("Curated fellowship for residents", CURATORS_LINK, kind="fellowship"), clock.now()
    )
    veto(condition, app, sandbox, maria, clock)
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() + 60)

    await app.series.run_due()

    texts = central_texts(sandbox)
    assert not any("becas.example.mx" in t for t in texts)
    if condition == "global_freeze":
        assert texts == []
    else:  # the digest itself went out, with the curators' entry
        (digest,) = texts
        assert "grants.example.org/curated" in digest


async def test_an_unreadable_profile_keeps_her_opportunity_out_of_the_digest(
    world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    """Fail closed: her profile cannot be read right before the digest, so her entry waits."""
    from sandbox._server import Fault

    app = await world(make_settings(**series_config(sandbox)))
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Beca de investigación {HER_LINK} #{TAG} #opportunity")
    await approve_all(app, clock)
    await app.run_once()
    OpportunityList(app.store).add(OpportunityDraft("Curated fellowship", CURATORS_LINK), clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() + 60)
    sandbox.faults.add(
        rf"/api/v1/accounts/{maria['id']}$", Fault("status", status=503), times=20, method="GET"
    )

    await app.series.run_due()

    (digest,) = central_texts(sandbox)
    assert "becas.example.mx" not in digest
    assert "grants.example.org/curated" in digest


# -- her interview ------------------------------------------------------------------------------------


def queued_interview(app: Coalesce, clock: FakeClock) -> int:
    book = app.series.interviews
    interview = book.invite(
        "Dra. María Pérez",
        language="en",
        invited_by="ana",
        now=clock.now(),
        handle="@maria@med.example",
        platform="mastodon",
    )
    answers = {"role": "Resident", "goals": "Cardiology", "outside": "Salsa", "advice": "Find your people"}
    for qid, answer in answers.items():
        book.record_answer(interview.id, qid, answer, clock.now())
    book.approve(interview.id, by="rosa", now=clock.now(), limits={"mastodon": TextLimits(500, "chars", 23)})
    book.confirm(interview.id, clock.now(), via="cli")
    return interview.id


@pytest.mark.parametrize("condition", EVERY)
async def test_no_interview(
    condition: str, world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    app = await world(make_settings(**series_config(sandbox)))
    maria = sandbox.add_account("maria")
    sandbox.post(maria, f"Hello #{TAG}")
    await app.run_once()  # her account is known
    interview = queued_interview(app, clock)
    veto(condition, app, sandbox, maria, clock)
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds() + 60)

    await app.series.run_due()

    assert not any("María Pérez" in t for t in central_texts(sandbox))
    state = app.series.interviews.get(interview).state
    if condition in ("opted_out", "blocked"):
        assert state == "withdrawn"
    else:  # held, not lost: it goes out at a later slot once the freeze ends
        assert state in ("queued", "scheduled")


# -- her place on the members list ------------------------------------------------------------------


@pytest.mark.parametrize("condition", EVERY)
async def test_no_place_on_the_members_list(
    condition: str, world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    settings = make_settings(directory__list_sync=True)
    app = await world(settings)
    maria, bea = sandbox.add_account("maria"), sandbox.add_account("bea")
    sandbox.post(maria, f"Hello #{TAG}")
    sandbox.post(bea, f"Hi #{TAG}")
    await app.run_once()
    for who in (maria, bea):
        app.store.set_account_flags(Platform.MASTODON, str(who["id"]), consent="in", source="command")
    veto(condition, app, sandbox, maria, clock)

    await Refresher(app.store, app.adapters, settings, clock, last_look=app.trust.last_look).run_once()

    members = sandbox.list_members(LIST_TITLE)
    if condition == "global_freeze":
        assert members is None  # no list call at all while frozen
    else:
        assert members == ["bea"]


# -- the numbers post ---------------------------------------------------------------------------------


async def test_no_numbers_post_while_frozen(
    world: Callable[..., Any], sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    settings = make_settings(**series_config(sandbox, schedule=[]), report__monthly_post=True)
    app = await world(settings)
    app.amplifier.freeze("ana", clock.now())
    clock.advance(seconds=(datetime(2026, 4, 1, 10, 30, tzinfo=UTC) - clock.now()).total_seconds())

    await app.series.run_due()
    assert central_texts(sandbox) == []

    app.amplifier.freeze("ana", clock.now(), frozen=False)
    await app.series.run_due()
    (numbers,) = central_texts(sandbox)
    assert "March" in numbers or "numbers" in numbers.lower()
