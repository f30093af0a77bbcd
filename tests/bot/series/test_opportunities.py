"""The opportunity list in the store (SQLite and PostgreSQL): one entry per url however it is
written, deadlines, intake from files and from members' posts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.errors import SeriesError
from bot.series.opportunities import (
    OpportunityDraft,
    OpportunityList,
    draft_from_post,
    normalize_url,
)
from bot.store.store import Store
from tests.factories import post


@pytest.fixture
def book(store: Store) -> OpportunityList:
    return OpportunityList(store)


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.aamc.org/scholarships/latinas/",
        "http://AAMC.org/scholarships/latinas",
        "https://aamc.org:443/scholarships/latinas?utm_source=twitter&utm_medium=social",
        "https://aamc.org/scholarships//latinas#apply",
        "https://aamc.org/scholarships/lat%69nas",
    ],
)
def test_the_same_address_written_differently_has_one_key(variant: str) -> None:
    assert normalize_url(variant) == "aamc.org/scholarships/latinas"


def test_different_queries_are_different_opportunities() -> None:
    assert normalize_url("https://x.org/apply?b=2&a=1") == "x.org/apply?a=1&b=2"
    assert normalize_url("https://x.org/apply?id=1") != normalize_url("https://x.org/apply?id=2")
    with pytest.raises(SeriesError, match="not a web link"):
        normalize_url("mailto:grants@x.org")


def test_the_same_url_twice_merges_into_one_entry_and_loses_nothing(
    book: OpportunityList, clock: FakeClock
) -> None:
    first = book.add(
        OpportunityDraft("Diversity scholarship", "https://www.aamc.org/s/1/", eligibility=("students",)),
        clock.now(),
    )
    again = book.add(
        OpportunityDraft(
            "AAMC Diversity Scholarship 2026",
            "http://aamc.org/s/1?utm_source=mastodon",
            kind="scholarship",
            organisation="AAMC",
            deadline=date(2026, 4, 1),
            eligibility=("Students", "residents"),
            submitted_by="rosa",
        ),
        clock.now(),
    )
    assert not first.merged
    assert again.merged
    assert again.opportunity.id == first.opportunity.id
    merged = book.get(first.opportunity.id)
    assert merged.title == "Diversity scholarship"  # what was there stays
    assert merged.url == "https://www.aamc.org/s/1/"
    assert (merged.kind, merged.organisation, merged.deadline) == ("scholarship", "AAMC", date(2026, 4, 1))
    assert merged.eligibility == ("students", "residents")
    assert len(book.all()) == 1


def test_an_opportunity_without_deadline_stays_open_and_lists_last(
    book: OpportunityList, clock: FakeClock
) -> None:
    today = clock.now().date()
    book.add(OpportunityDraft("Rolling fellowship", "https://f.org/rolling", kind="fellowship"), clock.now())
    book.add(OpportunityDraft("Soon", "https://f.org/soon", deadline=today + timedelta(days=3)), clock.now())
    book.add(OpportunityDraft("Gone", "https://f.org/gone", deadline=today - timedelta(days=1)), clock.now())
    book.add(OpportunityDraft("Today", "https://f.org/today", deadline=today), clock.now())
    open_now = book.open_on(today)
    assert [o.title for o in open_now] == ["Today", "Soon", "Rolling fellowship"]
    rolling = open_now[-1]
    assert rolling.deadline is None
    assert rolling.is_open(today + timedelta(days=3650))
    assert not rolling.closing_soon(today, 7)
    assert [o.title for o in book.open_on(today + timedelta(days=4))] == ["Rolling fellowship"]
    assert [o.title for o in book.closing_within(today, 7)] == ["Today", "Soon"]


def test_removed_opportunities_leave_the_digest_and_do_not_come_back(
    book: OpportunityList, clock: FakeClock
) -> None:
    added = book.add(OpportunityDraft("Spam", "https://spam.example/x"), clock.now()).opportunity
    book.remove(added.id, "ana", clock.now())
    assert book.open_on(clock.now().date()) == []
    again = book.add(OpportunityDraft("Spam", "https://spam.example/x/"), clock.now())
    assert again.merged
    assert again.opportunity.removed
    assert book.open_on(clock.now().date()) == []


def test_edit_corrects_fields_but_not_into_a_duplicate(book: OpportunityList, clock: FakeClock) -> None:
    a = book.add(OpportunityDraft("A", "https://a.org/1"), clock.now()).opportunity
    book.add(OpportunityDraft("B", "https://b.org/1"), clock.now())
    edited = book.edit(a.id, clock.now(), deadline=date(2026, 5, 1), organisation="Org A", kind="job")
    assert (edited.deadline, edited.organisation, edited.kind) == (date(2026, 5, 1), "Org A", "job")
    with pytest.raises(SeriesError, match="already has that url"):
        book.edit(a.id, clock.now(), url="https://www.b.org/1")
    with pytest.raises(SeriesError, match="kind"):
        book.edit(a.id, clock.now(), kind="party")


def test_import_adds_and_merges(book: OpportunityList, clock: FakeClock, tmp_path: Path) -> None:
    book.add(OpportunityDraft("Known", "https://known.org/x"), clock.now())
    path = tmp_path / "opps.yaml"
    path.write_text(
        """
opportunities:
  - title: Summer research fellowship
    url: https://research.example.edu/summer
    kind: fellowship
    organisation: Example University
    deadline: 2026-04-15
    eligibility: [students]
    language: en
  - title: Beca de liderazgo
    url: https://becas.example.mx/liderazgo
    kind: scholarship
    eligibility: estudiantes, residentes
    language: es
  - title: Known again
    url: http://www.known.org/x/
    deadline: "2026-06-01"
""",
        encoding="utf-8",
    )
    report = book.import_file(path, submitted_by="ana", now=clock.now())
    assert [o.title for o in report.added] == ["Summer research fellowship", "Beca de liderazgo"]
    assert [o.title for o in report.merged] == ["Known"]
    assert book.get(report.merged[0].id).deadline == date(2026, 6, 1)
    beca = report.added[1]
    assert (beca.eligibility, beca.language, beca.source) == (("estudiantes", "residentes"), "es", "import")


def test_a_bad_import_file_names_every_problem_and_imports_nothing(
    book: OpportunityList, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
- title: Fine
  url: https://fine.org
- title: No link
- title: Bad date
  url: https://date.org
  deadline: next Friday
- title: Bad kind
  url: https://kind.org
  kind: party
- title: Typo
  url: https://typo.org
  deadlin: 2026-01-01
""",
        encoding="utf-8",
    )
    with pytest.raises(SeriesError) as err:
        book.import_file(path, submitted_by="ana", now=clock.now())
    message = str(err.value)
    assert "nothing imported" in message
    assert "1. entry 2.url: required" in message
    assert "2. entry 3.deadline: expected a date like 2026-04-01" in message
    assert "3. entry 4.kind: 'party' is not one of" in message
    assert "4. entry 5.deadlin: unknown field" in message
    assert book.all() == []
    (tmp_path / "broken.yaml").write_text("- title: [unclosed\n", encoding="utf-8")
    with pytest.raises(SeriesError, match="not valid YAML at line"):
        book.import_file(tmp_path / "broken.yaml", submitted_by="ana", now=clock.now())


def test_a_members_post_becomes_a_draft() -> None:
    p = post(
        "Rotación de verano para estudiantes de medicina 🇲🇽 — fecha límite 15 de abril\n"
        "https://rotaciones.example.mx/verano?utm_source=masto #LatinasInMedicine #opportunity",
        tags=("LatinasInMedicine", "opportunity"),
        language="es",
    )
    draft = draft_from_post(p, candidate_id=7)
    assert draft.title == "Rotación de verano para estudiantes de medicina 🇲🇽 — fecha límite 15 de abril"
    assert draft.url == "https://rotaciones.example.mx/verano"  # its utm_… tracking is not kept
    assert (draft.kind, draft.deadline, draft.eligibility) == ("rotation", date(2026, 4, 15), ("students",))
    assert (draft.language, draft.source, draft.candidate_id) == ("es", "post:mastodon", 7)
    assert draft.submitted_by == p.author.handle


def test_a_post_without_a_link_points_at_itself_and_a_past_date_means_next_year() -> None:
    p = post("Hiring a hospitalist, apply by Jan 10! #LatinasInMedicine #opportunity")
    draft = draft_from_post(p)
    assert draft.url == p.url
    assert draft.kind == "job"
    assert draft.deadline == date(2027, 1, 10)
    assert draft.title == "Hiring a hospitalist, apply by Jan 10!"
