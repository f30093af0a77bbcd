"""Issue 16 on the loopback sandbox (whose post views carry a basic author, without the bio, as
the AppView's do): every path reads the author's profile before the pipeline decides; a quote
carries its quoted author; two cron runs in jetstream mode around a post on a quiet stream
queue it exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.app import Coalesce
from bot.clock import FakeClock
from bot.config import Settings
from bot.console.cards import compose_card
from bot.domain import Platform
from bot.store import models as m
from sandbox.bluesky import BlueskySandbox, cid_of
from tests.adapters.bluesky.conftest import TAG, build_adapter, sandbox_settings
from tests.conftest import StartApp

NOBOT = "Neurologist. #NoBot please"


@pytest.fixture
def make_app(
    start_app: StartApp, engine: Engine, sandbox: BlueskySandbox, clock: FakeClock, settings: Settings
) -> Callable[..., Any]:
    async def build(**overrides: Any) -> Coalesce:
        adapter = build_adapter(sandbox_settings(sandbox, **overrides), clock, engine, spellings=[TAG])
        return await start_app(settings, {Platform.BLUESKY: adapter})

    return build


def outcome(engine: Engine, uri: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(m.Post.skip_reason, m.Candidate.state)
            .outerjoin(m.Candidate, m.Candidate.post_id == m.Post.id)
            .where(m.Post.platform_post_id == uri)
        ).one_or_none()
    return (row.skip_reason, row.state) if row is not None else (None, None)


@pytest.mark.parametrize("watch", ["search", "jetstream"])
async def test_a_nobot_author_is_kept_out_by_search_backfill_and_nomination(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine, watch: str
) -> None:
    ines = sandbox.add_account("ines.test", description=NOBOT)
    bea = sandbox.add_account("bea.test")
    tagged = sandbox.post(ines, f"New paper out #{TAG}")
    paper = sandbox.post(ines, "Our rural stroke paper")
    sandbox.post(bea, "@coalesce.test this deserves a boost", reply_to=paper)
    clock.advance(1)
    app = await make_app(watch=watch)  # jetstream: a first start, so backfill by search

    report = await app.run_once()

    assert report.errors == {}
    assert outcome(engine, tagged) == ("opted_out", None)
    assert outcome(engine, paper) == ("opted_out", None)


async def test_a_link_sent_privately_resolves_with_the_authors_profile(
    make_app: Callable[..., Any], sandbox: BlueskySandbox
) -> None:
    ines = sandbox.add_account("ines.test", description=NOBOT, labels=["!no-unauthenticated"])
    uri = sandbox.post(ines, "Our rural stroke paper")
    app = await make_app()
    post = await app.adapters[Platform.BLUESKY].resolve(uri)
    assert "#NoBot" in post.author.bio
    assert post.author.withheld == {"no_unauthenticated"}


async def test_a_quote_of_a_nobot_members_post_never_reaches_the_desk(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    ines = sandbox.add_account("ines.test", description=NOBOT)
    ana = sandbox.add_account("ana.test")
    lena = sandbox.add_account("lena.test")
    hers = sandbox.post(ines, "Case report")
    lenas = sandbox.post(lena, "Clinic news")
    app = await make_app()
    await app.run_once()  # first start
    clock.advance(1)
    quoting_ines = sandbox.post(ana, f"Read this #{TAG}", embed=_quote(sandbox, hers))
    quoting_lena = sandbox.post(ana, f"And this #{TAG}", embed=_quote(sandbox, lenas))
    clock.advance(1)

    await app.run_once()

    assert outcome(engine, quoting_ines) == ("quoted_opted_out", None)
    assert outcome(engine, quoting_lena) == (None, "pending")
    with engine.connect() as conn:
        cid = conn.execute(select(m.Candidate.id)).scalar_one()
    view = app.queue.show(cid)
    assert view.quoted_handle == "lena.test"
    card = compose_card(view, clock.now())
    assert "Quotes a post by lena.test" in card.doc.plain()  # the curators see whose post it carries


def _quote(sandbox: BlueskySandbox, uri: str) -> dict[str, Any]:
    return {"$type": "app.bsky.embed.record", "record": {"uri": uri, "cid": cid_of(uri)}}


async def test_two_cron_runs_in_jetstream_mode_around_a_post_queue_it_once(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    rosa = sandbox.add_account("rosa.test")
    first = await make_app()
    await first.run_once()  # quiet: nothing posted yet
    stored = first.store.cursors(Platform.BLUESKY)["jetstream"]
    assert stored

    clock.advance(1)
    uri = sandbox.post(rosa, "Residency match #LatinasInMedicine")
    clock.advance(1)
    for _ in range(2):
        again = await make_app()
        await again.run_once()

    with engine.connect() as conn:
        queued = conn.execute(select(m.Candidate.id)).all()
    assert len(queued) == 1
    assert outcome(engine, uri) == (None, "pending")


async def test_a_quoted_member_who_opts_out_takes_the_quotes_with_her(
    make_app: Callable[..., Any], sandbox: BlueskySandbox, clock: FakeClock, engine: Engine
) -> None:
    ana = sandbox.add_account("ana.test")
    lena = sandbox.add_account("lena.test")
    first, second = sandbox.post(lena, "Clinic news"), sandbox.post(lena, "More clinic news")
    app = await make_app()
    await app.run_once()
    clock.advance(1)
    boosted = sandbox.post(ana, f"Read this #{TAG}", embed=_quote(sandbox, first))
    waiting = sandbox.post(ana, f"And this #{TAG}", embed=_quote(sandbox, second))
    clock.advance(1)
    await app.run_once()
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Post.platform_post_id, m.Candidate.id).join(
                m.Candidate, m.Candidate.post_id == m.Post.id
            )
        ).all()
    ids = {str(uri): int(cid) for uri, cid in rows}
    app.queue.approve(ids[boosted], "ana", clock.now())
    await app.amplifier.run_due()
    assert len(sandbox.reposts_of(boosted)) == 1

    sandbox.post(lena, "@coalesce.test optout")
    clock.advance(1)
    await app.run_once()

    assert outcome(engine, waiting) == (None, "withdrawn")
    assert sandbox.reposts_of(boosted) == []  # the repost of her quoted post is taken back
