"""The series operations called directly, as the command line and the console call them: the
store on SQLite and PostgreSQL, the clock injected, no adapter (nothing here reaches a platform)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adapters.registry import REGISTRY
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import Platform
from bot.ops import digest, interviews, opportunities, schedule
from bot.ops.result import Outcome
from bot.series.opportunities import OpportunityList
from bot.series.runner import SeriesRunner
from bot.store.store import Store
from tests.conftest import make_settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # the clock fixture's time: Monday 09:00 in Chicago
MASTODON = {"mastodon": {"api_base_url": "http://127.0.0.1:9", "access_token": "${MASTODON_TOKEN}"}}
SCHEDULE = [
    {"name": "digest", "kind": "digest", "cron": "0 9 * * mon", "timezone": "America/Chicago"},
    {"name": "interview", "kind": "interview", "cron": "0 12 * * thu", "timezone": "America/Chicago"},
]


def series_settings(**extra: Any) -> Settings:
    return make_settings(platforms=MASTODON, series={"schedule": SCHEDULE}, **extra)


def runner_for(store: Store, settings: Settings, clock: FakeClock) -> SeriesRunner:
    return SeriesRunner(store, {}, settings, clock, worker="test", catalog=REGISTRY)


def test_add_merge_and_a_past_deadline(store: Store, settings: Settings) -> None:
    added = opportunities.add(
        store,
        settings,
        NOW,
        "ana",
        title="Summer rotation",
        url="https://rot.example/s",
        deadline="2026-04-01",
    )
    assert added.outcome is Outcome.DONE
    assert added.exit_code == 0
    assert added.data is not None
    first = added.data.opportunity
    assert (first.kind, first.submitted_by, first.deadline) == ("rotation", "ana", date(2026, 4, 1))
    assert added.message == f"#{first.id} added: Summer rotation"
    assert added.data.warnings == ()

    merged = opportunities.add(store, settings, NOW, "rosa", title="Again", url="http://www.rot.example/s/")
    assert merged.data is not None
    assert merged.data.merged
    assert merged.data.opportunity.id == first.id

    late = opportunities.add(
        store,
        settings,
        NOW,
        "ana",
        title="Old award",
        url="https://award.example/1",
        deadline=date(2026, 2, 1),
    )
    assert late.outcome is Outcome.DONE
    assert late.data is not None
    (warning,) = late.data.warnings
    assert "deadline 2026-02-01 has passed (today is 2026-03-02)" in warning
    assert warning in late.message
    shown = late.as_json()
    json.dumps(shown)
    assert shown["data"]["opportunity"]["id"] == late.data.opportunity.id  # a number, not text
    assert shown["data"]["opportunity"]["deadline"] == "2026-02-01"


def test_who_acts_and_bad_input(store: Store, settings: Settings) -> None:
    stranger = opportunities.add(store, settings, NOW, "bob", title="X", url="https://x.example")
    assert (stranger.outcome, stranger.exit_code) == (Outcome.USAGE, 2)
    assert "no curator named 'bob' (known: ana, rosa, lucia)" in stranger.message
    bad = opportunities.add(store, settings, NOW, "ana", title="X", url="ftp://x")
    assert (bad.outcome, bad.exit_code) == (Outcome.REFUSED, 1)
    assert "not a web link" in bad.message
    assert OpportunityList(store).all() == []


def test_edit_remove_and_list(store: Store, settings: Settings) -> None:
    added = opportunities.add(store, settings, NOW, "ana", title="Job", url="https://job.example", kind="job")
    assert added.data is not None
    oid = added.data.opportunity.id
    nothing = opportunities.edit(store, settings, NOW, "ana", oid, {"title": None, "deadline": None})
    assert nothing.outcome is Outcome.USAGE
    assert "nothing to change" in nothing.message
    edited = opportunities.edit(
        store, settings, NOW, "ana", oid, {"deadline": "2026-01-01", "eligibility": "students"}
    )
    assert edited.data is not None
    assert edited.data.opportunity.eligibility == ("students",)
    assert "has passed" in edited.message
    assert opportunities.listing(store, settings, NOW).message == "No open opportunities."
    cleared = opportunities.edit(store, settings, NOW, "ana", oid, {"deadline": "none"})
    assert cleared.data is not None
    assert cleared.data.opportunity.deadline is None
    listed = opportunities.listing(store, settings, NOW)
    assert listed.data is not None
    assert [o.id for o in listed.data.opportunities] == [oid]
    assert "no deadline" in listed.message

    gone = opportunities.remove(store, settings, NOW, "rosa", oid)
    assert gone.outcome is Outcome.DONE
    assert gone.data is not None
    assert gone.data.removed
    again = opportunities.remove(store, settings, NOW, "rosa", oid)
    assert (again.outcome, again.message) == (Outcome.REFUSED, f"#{oid} was removed already")
    missing = opportunities.remove(store, settings, NOW, "rosa", 999)
    assert missing.outcome is Outcome.REFUSED
    assert "no opportunity #999" in missing.message
    everything = opportunities.listing(store, settings, NOW, include_closed=True)
    assert everything.data is not None
    assert len(everything.data.opportunities) == 1


def test_an_import_records_who_and_numbers_every_problem(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- {title: Fine, url: 'https://fine.example'}\n"
        "- {title: No link}\n"
        "- {title: Bad, url: 'https://b.example', kind: party}\n",
        encoding="utf-8",
    )
    refused = opportunities.import_file(store, settings, NOW, "ana", bad)
    assert refused.outcome is Outcome.REFUSED
    assert "nothing imported" in refused.message
    assert "  1. entry 2.url: required" in refused.message
    assert "  2. entry 3.kind: 'party' is not one of" in refused.message
    assert OpportunityList(store).all() == []

    good = tmp_path / "good.yaml"
    good.write_text(
        "- {title: Fine, url: 'https://fine.example'}\n"
        "- {title: Old, url: 'https://old.example', deadline: 2025-12-01}\n",
        encoding="utf-8",
    )
    done = opportunities.import_file(store, settings, NOW, "rosa", good)
    assert done.outcome is Outcome.DONE
    assert done.data is not None
    assert done.data.imported_by == "rosa"
    assert {o.submitted_by for o in done.data.added} == {"rosa"}
    assert "2 added, 0 merged into entries with the same link (imported by rosa)" in done.message
    assert len(done.data.warnings) == 1
    assert opportunities.import_file(store, settings, NOW, "mallory", good).exit_code == 2


LONG = "Bailar salsa con mi familia todos los domingos y cocinar para mis amigas del hospital " * 3


def test_an_interview_from_invitation_to_the_queue(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    settings = series_settings()
    runner = runner_for(store, settings, clock)
    invited = interviews.invite(
        store, settings, NOW, "ana", name="Dra. María Pérez", handle="@maria@med.example", language="es"
    )
    assert invited.outcome is Outcome.DONE
    assert invited.data is not None
    iid = invited.data.interview.id
    assert invited.data.start_payload is None
    assert "¿Cuál es tu rol y tu especialidad?" in invited.message
    assert f"interview: {iid}" in invited.data.answers_template

    answers = tmp_path / "answers.yaml"
    answers.write_text(
        f"interview: {iid}\nanswers:\n  role: Residente\n  goals: Cardiología\n"
        f"  outside: {LONG}\n  advice: Pide ayuda\n",
        encoding="utf-8",
    )
    imported = interviews.import_answers(runner, NOW, "rosa", answers)
    assert imported.outcome is Outcome.DONE
    assert imported.data is not None
    (fit,) = imported.data
    assert fit.platforms == ["mastodon"]
    assert fit.overflows
    assert fit.overflows[0].startswith("mastodon: ")
    assert "Too long" in imported.message

    too_long = interviews.approve(runner, NOW, "rosa", iid)
    assert too_long.outcome is Outcome.REFUSED
    assert "too long; edit it first" in too_long.message
    assert interviews.edit(runner, NOW, "rosa", iid, "   ").outcome is Outcome.USAGE
    edited = interviews.edit(
        runner, NOW, "rosa", iid, "🎙️ Mini-entrevista: Dra. María Pérez\n#LatinasInMedicine"
    )
    assert edited.data is not None
    assert edited.data.overflows == []
    assert "Fits every platform (mastodon)" in edited.message

    approved = interviews.approve(runner, NOW, "rosa", iid)
    assert approved.data is not None
    assert not approved.data.sent_in_chat  # she never wrote to the bot on Telegram
    assert "interviews confirm" in approved.message
    assert interviews.approve(runner, NOW, "rosa", iid).outcome is Outcome.REFUSED  # already approved
    confirmed = interviews.confirm(runner, NOW, "rosa", iid, "email")
    assert confirmed.data is not None
    assert confirmed.data.confirmed_via == "cli:rosa (email)"

    listed = interviews.listing(runner, NOW)
    assert listed.data is not None
    assert [i.id for i in listed.data.queue] == [iid]
    first_slot = listed.data.next_slots[0]
    assert (first_slot.series, first_slot.interview_id) == ("interview", iid)
    assert first_slot.at == datetime(2026, 3, 5, 18, 0, tzinfo=UTC)  # Thursday noon in Chicago
    assert f"→ #{iid} Dra. María Pérez" in listed.message
    json.dumps(listed.as_json())

    declined = interviews.decline(runner, NOW, "ana", iid, "change the emoji")
    assert declined.data is not None
    assert declined.data.state == "answered"
    shown = interviews.show(runner, iid)
    assert "note: change the emoji" in shown.message
    assert interviews.show(runner, 999).outcome is Outcome.REFUSED


def test_an_invitation_by_chat_link_and_a_bad_answers_file(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    runner = runner_for(store, series_settings(), clock)
    by_chat = interviews.invite(store, runner.settings, NOW, "ana", name="Ana Ruiz", chat=Platform.TELEGRAM)
    assert by_chat.data is not None
    assert by_chat.data.start_payload
    assert "Forward them the link" in by_chat.message
    assert interviews.invite(store, runner.settings, NOW, "ana", name="  ").outcome is Outcome.REFUSED
    assert interviews.invite(store, runner.settings, NOW, "zoe", name="X").outcome is Outcome.USAGE

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- {name: One, answers: {favourite_colour: blue}}\n"
        "- {answers: {role: x}}\n"
        "- {name: Fine, answers: {role: x}}\n",
        encoding="utf-8",
    )
    refused = interviews.import_answers(runner, NOW, "ana", bad)
    assert refused.outcome is Outcome.REFUSED
    assert "  1. entry 1.answers.favourite_colour: not one of the questions" in refused.message
    assert "  2. entry 2: give interview: ID, or name:" in refused.message
    assert [i.name for i in runner.interviews.in_states()] == ["Ana Ruiz"]  # nothing of the file


def test_without_platforms_the_fit_is_not_claimed(
    store: Store, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    runner = runner_for(store, settings, clock)
    answers = tmp_path / "a.yaml"
    answers.write_text(
        f"name: Eva\nlanguage: en\nanswers: {{role: x, goals: y, outside: '{LONG}', advice: z}}\n"
    )
    imported = interviews.import_answers(runner, NOW, "ana", answers)
    assert imported.data is not None
    assert imported.data[0].platforms == []
    assert "Fits every platform" not in imported.message
    assert "no platform is configured" in imported.message


def test_schedule_per_platform(store: Store, clock: FakeClock) -> None:
    runner = runner_for(store, series_settings(), clock)
    upcoming = schedule.upcoming(runner, NOW, 2)
    assert upcoming.outcome is Outcome.DONE
    assert upcoming.data is not None
    by_name = {s.name: s for s in upcoming.data.series}
    assert by_name["digest"].platforms == ["mastodon"]
    assert by_name["digest"].languages == ["en"]
    assert by_name["digest"].upcoming == [
        datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 16, 14, 0, tzinfo=UTC),
    ]  # both CDT
    assert by_name["interview"].languages == []
    assert "digest (digest) — 0 9 * * mon in America/Chicago; on mastodon; languages: en" in upcoming.message
    data = upcoming.as_json()["data"]
    assert data["series"][0]["upcoming"][0] == "2026-03-09T14:00:00+00:00"
    assert schedule.upcoming(runner, NOW, 0).outcome is Outcome.USAGE

    bare = runner_for(store, make_settings(series={"schedule": SCHEDULE}), clock)
    nowhere = schedule.upcoming(bare, NOW, 1)
    assert nowhere.outcome is Outcome.USAGE
    assert nowhere.message.startswith("configuration: no platform is configured")


def test_digest_preview(store: Store, clock: FakeClock) -> None:
    settings = series_settings()
    opportunities.add(
        store, settings, NOW, "ana", title="Scholarship", url="https://s.example", kind="scholarship"
    )
    runner = runner_for(store, settings, clock)
    shown = digest.preview(runner)
    assert shown.outcome is Outcome.DONE
    assert shown.data is not None
    (edition,) = shown.data
    assert (edition.language, edition.platform, edition.entries) == ("en", "mastodon", 1)
    assert edition.slot == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert edition.parts[0] in shown.message
    assert "=== digest · en · mastodon · Mon 2026-03-09 09:00 CDT · 1 part ===" in shown.message
    other = digest.preview(runner, language="fr")
    assert other.outcome is Outcome.USAGE
    assert "no digest matches language fr (digest languages: en)" in other.message
    bare = digest.preview(runner_for(store, make_settings(), clock))
    assert bare.outcome is Outcome.USAGE
    assert bare.message.startswith("configuration: no platform is configured")
