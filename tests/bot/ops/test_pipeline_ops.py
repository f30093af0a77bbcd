"""The series as the web console lays them out, on SQLite and PostgreSQL: interviews by stage with
their fit on each platform, and the digest editions each opportunity went in, read back from
what the editions really published."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.clock import FakeClock
from bot.domain import Platform
from bot.ops import interviews, opportunities
from bot.store import models as m
from bot.store.store import Store
from tests.bot.ops.test_series_ops import LONG, MASTODON, NOW, SCHEDULE, runner_for
from tests.conftest import make_settings

# make_settings sets one secret variable; the telegram token reads it too
TELEGRAM = {
    "telegram": {"bot_token": "${MASTODON_TOKEN}", "channel_id": -1001, "base_url": "http://127.0.0.1:9"}
}


def _answers(tmp_path: Path, iid: int, outside: str) -> Path:
    path = tmp_path / f"answers-{iid}.yaml"
    path.write_text(
        f"interview: {iid}\nanswers:\n  role: Residente\n  goals: Cardiología\n"
        f"  outside: {json.dumps(outside)}\n  advice: Pide ayuda\n",
        encoding="utf-8",
    )
    return path


def test_interviews_by_stage_with_their_fit_per_platform(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    settings = make_settings(platforms=MASTODON, series={"schedule": SCHEDULE})
    runner = runner_for(store, settings, clock)

    def invite(name: str) -> int:
        invited = interviews.invite(store, settings, NOW, "ana", name=name, handle="@x@med.example")
        assert invited.data is not None
        return invited.data.interview.id

    waiting = invite("Waiting")
    long_one = invite('<script>alert("long")</script>')
    short = invite("Short")
    confirmed = invite("Confirmed")
    assert interviews.import_answers(runner, NOW, "rosa", _answers(tmp_path, long_one, LONG)).ok
    for iid in (short, confirmed):
        assert interviews.import_answers(runner, NOW, "rosa", _answers(tmp_path, iid, "Salsa")).ok
        assert interviews.approve(runner, NOW, "rosa", iid).ok
    assert interviews.confirm(runner, NOW, "rosa", confirmed, "email").ok

    result = interviews.pipeline(runner)
    assert result.ok
    assert result.data is not None
    columns = {c.stage: c for c in result.data.columns}
    stages = ["invited", "answered", "approved", "confirmed", "scheduled", "published", "withdrawn"]
    assert list(columns) == stages
    assert result.data.platforms == ["mastodon"]

    def ids(stage: str) -> list[int]:
        return [f.interview.id for f in columns[stage].cards]

    assert (ids("invited"), ids("answered"), ids("approved"), ids("confirmed")) == (
        [waiting],
        [long_one],
        [short],
        [confirmed],
    )
    (unanswered,) = columns["invited"].cards
    assert [(p.platform, p.fits) for p in unanswered.by_platform] == [("mastodon", None)]
    assert unanswered.missing
    (too_long,) = columns["answered"].cards
    (mastodon,) = too_long.by_platform
    assert mastodon.fits is False
    assert mastodon.problem is not None
    assert mastodon.problem.startswith("mastodon: ")
    (fits,) = columns["approved"].cards
    assert [(p.platform, p.fits, p.problem) for p in fits.by_platform] == [("mastodon", True, None)]
    json.dumps(result.as_json())
    assert "answered      1" in result.message


def test_the_digests_each_opportunity_went_in(store: Store, clock: FakeClock) -> None:
    settings = make_settings(platforms={**MASTODON, **TELEGRAM}, series={"schedule": SCHEDULE})
    runner = runner_for(store, settings, clock)

    def add(title: str, url: str) -> int:
        added = opportunities.add(
            store, settings, NOW, "ana", title=title, url=url, deadline="2026-06-01", kind="job"
        )
        assert added.data is not None
        return added.data.opportunity.id

    grant = add("Research grant", "https://grants.example/apply?a=1&b=2")
    slot = NOW + timedelta(days=7)
    # What that week's digest published, as the runner composes it for each platform: the plan
    # each edition keeps. Telegram writes HTML, where the link's & is &amp;.
    previews = runner.preview(at=slot)
    assert {p.platform for p in previews} == {Platform.MASTODON, Platform.TELEGRAM}
    telegram = next(p for p in previews if p.platform is Platform.TELEGRAM)
    assert "&amp;b=2" in "".join(telegram.digest.parts)  # the case being tested is real
    with store.engine.begin() as conn:
        for preview in previews:
            conn.execute(
                insert(m.Publication).values(
                    community_id=store.community_id,
                    series="digest",
                    slot=slot,
                    platform=preview.platform.value,
                    state="done",
                    parts_total=len(preview.digest.parts),
                    started_at=slot,
                    completed_at=slot,
                    plan=json.dumps(preview.digest.parts, ensure_ascii=False),
                )
            )
    later = add("Later fellowship", "https://fellows.example/2027")  # after that digest

    listed = opportunities.listing(store, settings, NOW)
    assert listed.data is not None
    uses = listed.data.digests
    assert sorted((u.series, u.platform, u.state) for u in uses[grant]) == [
        ("digest", "mastodon", "done"),
        ("digest", "telegram", "done"),
    ]
    assert [u.slot for u in uses[grant]] == [slot, slot]
    assert "(in 2 digest editions)" in listed.message
    assert later not in uses
    json.dumps(listed.as_json())
