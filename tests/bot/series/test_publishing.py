"""Publishing the series through the real Mastodon.py against the sandbox: each slot once, a
half-published thread finished, missed slots inside and outside the grace window, both
daylight-saving changes, withdrawn interviews deleted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.normalize import html_to_text
from bot.clock import FakeClock
from bot.curation.amplifier import Amplifier
from bot.curation.pipeline import Pipeline
from bot.domain import Batch, Platform, Receipt, TextLimits
from bot.series.interviews import PUBLISHED, WITHDRAWN
from bot.series.opportunities import OpportunityDraft, OpportunityList
from bot.series.runner import SeriesRunner
from bot.store import models as m
from bot.store.store import Store
from sandbox._server import Fault
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import CHICAGO, SLOT, add_opportunities, central_statuses, series_config
from tests.conftest import make_settings
from tests.factories import author, post

Runner = Callable[..., SeriesRunner]


def texts(statuses: list[dict[str, Any]]) -> list[str]:
    return [html_to_text(s["content"]) for s in statuses]


def four_part_digest(store: Store, runner: SeriesRunner, clock: FakeClock) -> list[str]:
    """Opportunities enough for a digest of exactly four Mastodon posts."""
    for n in range(1, 100):
        add_opportunities(store, 1, clock.now(), first_deadline=SLOT.date() + timedelta(days=n), first=n)
        parts = runner.digest("en", Platform.MASTODON, SLOT.date()).parts
        if len(parts) == 4:
            return parts
        assert len(parts) < 4
    raise AssertionError("no four-part digest")


def publications(engine: Engine) -> list[tuple[str, datetime, str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                m.Publication.series,
                m.Publication.slot,
                m.Publication.platform,
                m.Publication.state,
                m.Publication.parts_total,
            ).order_by(m.Publication.slot, m.Publication.series)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_the_digest_is_published_at_its_slot_as_a_numbered_thread_once(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    runner = make_runner()
    add_opportunities(store, 12, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() - 1)
    assert await runner.run_due() == []  # one second early
    (preview,) = runner.preview(platform=Platform.MASTODON)
    assert preview.slot == SLOT
    clock.advance(seconds=1)
    (outcome,) = await runner.run_due()
    assert (outcome.series, outcome.slot, outcome.state) == ("digest", SLOT, "done")
    posted = central_statuses(sandbox)
    n = len(posted)
    assert n == len(preview.digest.parts) > 1
    assert texts(posted) == preview.digest.parts  # exactly what the preview printed
    assert [s["in_reply_to_id"] for s in posted] == [None] + [s["id"] for s in posted[:-1]]
    assert outcome.url == posted[0]["url"]
    clock.advance(minutes=30)
    assert await runner.run_due() == []
    assert await make_runner("w2").run_due() == []
    assert len(central_statuses(sandbox)) == n
    assert publications(engine) == [("digest", SLOT, "mastodon", "done", n)]


class _Crash(BaseException):
    """The process dies: nothing after this line of ours runs."""


def crashing_after(parts: int) -> type[MastodonAdapter]:
    class Crashing(MastodonAdapter):
        calls = 0

        async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
            type(self).calls += 1
            if type(self).calls > parts:
                raise _Crash
            return await super().publish_part(text, reply_to)

    return Crashing


@pytest.mark.parametrize("restart_as", ["w1", "w2"])
async def test_a_crash_after_part_2_of_4_resumes_at_part_3(
    store: Store,
    make_runner: Runner,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    restart_as: str,
) -> None:
    parts = four_part_digest(store, make_runner(), clock)
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    with pytest.raises(_Crash):
        await make_runner("w1", adapter_cls=crashing_after(2)).run_due()
    assert texts(central_statuses(sandbox)) == parts[:2]
    # The opportunities change before the restart: the thread still finishes the text it began.
    add_opportunities(store, 1, clock.now(), first_deadline=SLOT.date(), first=1000)
    restarted = make_runner(restart_as)
    if restart_as != "w1":
        # Another worker waits until the dead worker's lease has run out.
        assert [o.state for o in await restarted.run_due()] == ["busy"]
        assert len(central_statuses(sandbox)) == 2
        clock.advance(minutes=6)
    (outcome,) = await restarted.run_due()
    assert (outcome.state, outcome.published, outcome.total) == ("done", 4, 4)
    posted = central_statuses(sandbox)
    assert texts(posted) == parts
    assert [s["in_reply_to_id"] for s in posted] == [None] + [s["id"] for s in posted[:-1]]
    assert publications(engine) == [("digest", SLOT, "mastodon", "done", 4)]


async def test_a_part_whose_answer_was_lost_is_not_posted_twice(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    parts = four_part_digest(store, make_runner(), clock)
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())

    class LosingThird(MastodonAdapter):
        calls = 0

        async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
            LosingThird.calls += 1
            if LosingThird.calls == 3:  # the server posts it, the answer never arrives
                sandbox.lose_next_response(r"^/api/v1/statuses$", method="POST")
            return await super().publish_part(text, reply_to)

    (first,) = await make_runner(adapter_cls=LosingThird).run_due()
    assert (first.state, first.published) == ("retry", 2)
    assert len(central_statuses(sandbox)) == 3  # part 3 is there; we just do not know it
    (again,) = await make_runner().run_due()
    assert again.state == "done"
    assert texts(central_statuses(sandbox)) == parts


async def test_a_slot_missed_inside_the_grace_window_runs_once_at_start_up(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    add_opportunities(store, 2, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() - 3600)
    assert await make_runner().run_due() == []  # the bot ran an hour before the slot, then went down
    clock.advance(hours=6, minutes=59)  # back 5 h 59 min after the slot
    (outcome,) = await make_runner().run_due()
    assert (outcome.slot, outcome.state) == (SLOT, "done")
    assert len(central_statuses(sandbox)) == 1
    clock.advance(minutes=5)
    assert await make_runner().run_due() == []
    assert len(central_statuses(sandbox)) == 1


async def test_a_slot_missed_past_the_grace_window_is_skipped_and_logged_once(
    store: Store,
    make_runner: Runner,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_opportunities(store, 2, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() - 3600)
    await make_runner().run_due()
    clock.advance(hours=7, minutes=1)  # back 6 h 1 min after the slot
    with caplog.at_level(logging.WARNING, logger="bot.series.runner"):
        assert await make_runner().run_due() == []
        await make_runner().run_due()
    assert central_statuses(sandbox) == []
    skipped = [r for r in caplog.records if r.getMessage() == "missed slot skipped"]
    assert len(skipped) == 1
    assert skipped[0].__dict__["series"] == "digest"
    assert skipped[0].__dict__["slot"] == SLOT.isoformat()
    assert publications(engine) == [("digest", SLOT, "mastodon", "skipped", 0)]
    clock.advance(seconds=(SLOT + timedelta(days=7) - clock.now()).total_seconds())
    (outcome,) = await make_runner().run_due()  # the next Monday publishes as usual
    assert (outcome.slot, outcome.state) == (SLOT + timedelta(days=7), "done")


async def test_an_empty_week_posts_nothing_unless_a_call_for_submissions_is_configured(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    (quiet,) = await make_runner().run_due()
    assert quiet.state == "empty"
    assert central_statuses(sandbox) == []
    calling = make_settings(**series_config(sandbox, opportunities={"call_for_submissions": True}))
    clock.advance(days=7)
    (called,) = await make_runner(settings=calling).run_due()
    assert called.state == "done"
    (status,) = central_statuses(sandbox)
    assert "Post it with #LatinasInMedicine #opportunity" in html_to_text(status["content"])


@pytest.mark.parametrize(
    ("start", "cron", "expected"),
    [
        # spring forward: 02:30 does not exist on 8 March; the slot is 03:30 CDT, once
        (
            datetime(2026, 3, 7, 6, tzinfo=UTC),
            "30 2 * * *",
            [
                datetime(2026, 3, 7, 8, 30, tzinfo=UTC),
                datetime(2026, 3, 8, 8, 30, tzinfo=UTC),
                datetime(2026, 3, 9, 7, 30, tzinfo=UTC),
            ],
        ),
        # fall back: 01:30 happens twice on 1 November; published at the first, once
        (
            datetime(2026, 10, 31, 5, tzinfo=UTC),
            "30 1 * * *",
            [
                datetime(2026, 10, 31, 6, 30, tzinfo=UTC),
                datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
                datetime(2026, 11, 2, 7, 30, tzinfo=UTC),
            ],
        ),
    ],
)
async def test_daylight_saving_changes_neither_skip_nor_double_a_slot(
    store: Store,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    make_runner: Runner,
    start: datetime,
    cron: str,
    expected: list[datetime],
) -> None:
    daily = make_settings(
        **series_config(
            sandbox,
            schedule=[{"name": "daily", "kind": "digest", "cron": cron, "timezone": "America/Chicago"}],
            opportunities={"call_for_submissions": True},
        )
    )
    clock.advance(seconds=(start - clock.now()).total_seconds())
    published = []
    for _ in range(3 * 24 * 4):  # three days, a cycle every 15 minutes
        for outcome in await make_runner(settings=daily).run_due():
            published.append((outcome.slot, outcome.state, clock.now() - outcome.slot))
        clock.advance(minutes=15)
    assert [(slot, state) for slot, state, _ in published] == [(s, "done") for s in expected]
    assert all(late < timedelta(minutes=15) for _, _, late in published)
    assert len(central_statuses(sandbox)) == 3


async def confirmed_interview(runner: SeriesRunner, clock: FakeClock, name: str = "Dra. María Pérez") -> int:
    book = runner.interviews
    interview = book.invite(
        name, language="en", invited_by="ana", now=clock.now(), handle="@maria@med.example"
    )
    for qid, answer in {
        "role": "Internal medicine resident",
        "goals": "Cardiology fellowship",
        "outside": "Salsa",
        "advice": "Find your people",
    }.items():
        book.record_answer(interview.id, qid, answer, clock.now())
    book.approve(interview.id, by="rosa", now=clock.now(), limits={"mastodon": TextLimits(280, "chars", 23)})
    book.confirm(interview.id, clock.now(), via="cli")
    return interview.id


INTERVIEW_SLOT = datetime(2026, 3, 5, 18, tzinfo=UTC)  # Thursday 12:00 CST


async def test_an_interview_slot_publishes_the_oldest_confirmed_interview(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock
) -> None:
    runner = make_runner()
    first = await confirmed_interview(runner, clock, "First")
    clock.advance(minutes=1)
    await confirmed_interview(runner, clock, "Second")
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
    (outcome,) = await runner.run_due()
    assert (outcome.series, outcome.state) == ("interview", "done")
    (status,) = central_statuses(sandbox)
    # The member is credited by her handle, shown as written but inert: the account mentions no one.
    shown = html_to_text(status["content"]).replace("\u2060", "")
    assert shown.startswith("🎙️ Mini-interview: meet First @maria@med.example")
    assert status["mentions"] == []
    assert runner.interviews.get(first).state == PUBLISHED
    assert [i.name for i in runner.interviews.queue()] == ["Second"]


async def test_a_withdrawn_interview_is_deleted_from_every_platform(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine
) -> None:
    runner = make_runner()
    interview_id = await confirmed_interview(runner, clock)
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
    await runner.run_due()
    (status,) = central_statuses(sandbox)
    sandbox.faults.add(r"^/api/v1/statuses/\d+$", Fault("status", status=503), method="DELETE")
    interview, outcomes = await runner.withdraw_interview(interview_id, by="member")
    assert interview.state == WITHDRAWN
    assert [o.state for o in outcomes] == ["retry"]  # Mastodon was down: the deletion waits
    assert sandbox.status(status["id"]) is not None
    clock.advance(minutes=1)
    outcomes = await make_runner().run_due()
    assert [(o.platform, o.state) for o in outcomes] == [(Platform.MASTODON, "withdrawn")]
    assert sandbox.status(status["id"]) is None
    assert central_statuses(sandbox) == []
    assert [r[3] for r in publications(engine)] == ["withdrawn"]
    assert await make_runner().run_due() == []  # nothing is deleted twice


async def test_a_freeze_holds_the_series_until_the_curators_lift_it(
    store: Store,
    make_runner: Runner,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    amplifier = Amplifier(store, {}, make_settings(), clock, worker="cli")
    add_opportunities(store, 2, clock.now())
    clock.advance(seconds=(SLOT - clock.now()).total_seconds() - 60)
    runner = make_runner()
    assert await runner.run_due() == []
    assert amplifier.freeze("rosa", clock.now())
    clock.advance(minutes=1)  # the slot comes while the account is frozen
    with caplog.at_level(logging.WARNING, logger="bot.series.runner"):
        assert await runner.run_due() == []
        clock.advance(hours=1)
        assert await make_runner("w2").run_due() == []  # every worker holds it
    assert central_statuses(sandbox) == []
    assert publications(engine) == []
    assert len([r for r in caplog.records if r.getMessage().startswith("series paused")]) == 2

    assert amplifier.freeze("rosa", clock.now(), frozen=False)  # lifted inside the grace window
    (outcome,) = await runner.run_due()
    assert (outcome.slot, outcome.state) == (SLOT, "done")
    assert len(central_statuses(sandbox)) == 1

    # Next week, a freeze that outlasts the grace window: the slot is skipped, and says why.
    next_slot = SLOT + timedelta(days=7)
    clock.advance(seconds=(next_slot - clock.now()).total_seconds() - 60)
    assert await runner.run_due() == []
    amplifier.freeze("rosa", clock.now())
    clock.advance(hours=7)
    assert await runner.run_due() == []
    amplifier.freeze("rosa", clock.now(), frozen=False)
    assert await runner.run_due() == []
    assert len(central_statuses(sandbox)) == 1
    with engine.connect() as conn:
        state, why = conn.execute(
            select(m.Publication.state, m.Publication.error).where(m.Publication.slot == next_slot)
        ).one()
    assert state == "skipped"
    assert "frozen" in why


async def test_nothing_published_names_a_curator(
    store: Store,
    make_runner: Runner,
    sandbox: MastodonSandbox,
    clock: FakeClock,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = make_runner()
    add_opportunities(store, 2, clock.now())
    OpportunityList(store).add(
        OpportunityDraft(
            "Mentoring circle with Rosa", "https://grants.example.org/rosa", deadline=SLOT.date()
        ),
        clock.now(),
    )
    clock.advance(seconds=(SLOT - clock.now()).total_seconds())
    with caplog.at_level(logging.WARNING, logger="bot.series.runner"):
        (outcome,) = await runner.run_due()
    assert outcome.state == "done"
    digest = central_statuses(sandbox)
    published = " ".join(texts(digest))
    assert "number 0" in published
    assert "number 1" in published
    assert "Mentoring circle" not in published  # the one entry stays out; the digest goes on
    assert [r.__dict__["error"] for r in caplog.records if r.getMessage().startswith("opportunity left")] == [
        "the text names the curator rosa; the account speaks as the curators"
    ]

    # An interview whose confirmed text names a curator (by her Mastodon account) is refused whole.
    book = runner.interviews
    interview = book.invite("Dra. Inés", language="en", invited_by="ana", now=clock.now())
    for qid, answer in {
        "role": "Surgery resident",
        "goals": "Trauma surgery",
        "outside": "Running",
        "advice": "Write to @ana@med.example, she helped me",
    }.items():
        book.record_answer(interview.id, qid, answer, clock.now())
    book.approve(interview.id, by="rosa", now=clock.now(), limits={"mastodon": TextLimits(500, "chars", 23)})
    book.confirm(interview.id, clock.now(), via="cli")
    clock.advance(seconds=(INTERVIEW_SLOT - clock.now()).total_seconds())
    (refused,) = await runner.run_due()
    assert (refused.series, refused.state) == ("interview", "failed")
    assert refused.detail == "the text names the curator ana; the account speaks as the curators"
    assert central_statuses(sandbox) == digest  # nothing more went out
    with engine.connect() as conn:
        assert conn.execute(
            select(m.Publication.state, m.Publication.error).where(m.Publication.series == "interview")
        ).one() == ("failed", refused.detail)


@pytest.mark.parametrize("how", ["series rule", "report.monthly_post"])
async def test_the_monthly_numbers_post_counts_the_month_before_its_slot(
    store: Store, make_runner: Runner, sandbox: MastodonSandbox, clock: FakeClock, engine: Engine, how: str
) -> None:
    if how == "series rule":
        rule = {"name": "numbers", "kind": "numbers", "cron": "0 10 1 * *", "timezone": CHICAGO}
        monthly = make_settings(**series_config(sandbox, schedule=[rule]))
    else:  # the switch alone: 10:00 on the 1st in the series' time zone
        monthly = make_settings(
            **series_config(sandbox, schedule=[], timezone=CHICAGO), report={"monthly_post": True}
        )
    pipeline = Pipeline(monthly, store)
    maria, ines = author("maria@med.example"), author("ines@salud.example")
    march = datetime(2026, 3, 10, 15, tzinfo=UTC)
    clock.advance(seconds=(march - clock.now()).total_seconds())
    for who, day in ((maria, 0), (ines, 3), (maria, 7)):
        clock.advance(days=day)
        batch = Batch(source="tag", cursor=None, posts=[post(by=who, now=clock.now(), age=timedelta(0))])
        assert pipeline.ingest(Platform.MASTODON, batch, clock.now()).stored == 1
    slot = datetime(2026, 4, 1, 15, tzinfo=UTC)  # 10:00 in Chicago, summer time
    clock.advance(seconds=(slot - clock.now()).total_seconds() - 1)
    runner = make_runner(settings=monthly)
    assert await runner.run_due() == []
    clock.advance(seconds=1)

    (outcome,) = await runner.run_due()

    assert (outcome.series, outcome.slot, outcome.state) == ("numbers", slot, "done")
    (status,) = central_statuses(sandbox)
    text = html_to_text(status["content"])
    assert text.startswith("Latinas in Medicine in numbers, March 2026:")
    assert "3 posts with #LatinasInMedicine #LatinasEnMedicina by 2 members" in text
    assert "maria" not in text  # numbers only: no member named
    assert await make_runner("w2", settings=monthly).run_due() == []  # once
