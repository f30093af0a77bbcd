"""The digest composer: grouped by kind, soonest deadline first, within each platform's limit
as that platform counts it, numbered when it is a thread, never splitting an entry."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.registry import limits_for
from bot.domain import Platform, TextLimits
from bot.series.digest import Digest, DigestContext, compose_digest
from bot.series.markup import Markup
from bot.series.opportunities import Opportunity
from bot.series.templates import templates_for
from bot.text import graphemes, length

DAY = date(2026, 3, 9)
CTX = DigestContext("Latinas in Medicine", "#LatinasInMedicine", "#opportunity")
MASTODON = TextLimits(500, "chars", 23)
BLUESKY = TextLimits(300, "graphemes")
TELEGRAM = TextLimits(4096, "utf16")


def opp(i: int, **kw: Any) -> Opportunity:
    fields: dict[str, Any] = {
        "id": i,
        "kind": "scholarship",
        "title": f"Scholarship {i}",
        "organisation": "Fundación Médica",
        "url": f"https://grants.example.org/{i}",
        "deadline": DAY + timedelta(days=10 + i),
        "eligibility": (),
        "language": None,
        "submitted_by": "ana",
        "source": "cli",
        "created_at": datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=i),
    }
    fields.update(kw)
    return Opportunity(**fields)


def compose(
    items: list[Opportunity],
    limits: TextLimits = MASTODON,
    *,
    lang: str = "en",
    markup: str = "plain",
    ctx: DigestContext = CTX,
    day: date = DAY,
) -> Digest:
    return compose_digest(
        items,
        day=day,
        templates=templates_for(lang, {}, "t"),
        limits=limits,
        markup=Markup(markup),
        context=ctx,
    )


def test_grouped_by_kind_soonest_deadline_first_with_no_deadline_last() -> None:
    items = [
        opp(1, kind="job", title="Hospitalist job", deadline=DAY + timedelta(days=20)),
        opp(2, title="Late scholarship", deadline=DAY + timedelta(days=30)),
        opp(3, title="Rolling scholarship", deadline=None),
        opp(4, title="Soon scholarship", deadline=DAY + timedelta(days=2)),
        opp(5, kind="rotation", title="Away rotation", deadline=DAY + timedelta(days=1)),
    ]
    (text,) = compose(items, TELEGRAM).parts
    order = list(re.findall(r"• ([^—\n]+?) —", text))
    assert order == [
        "Soon scholarship",
        "Late scholarship",
        "Rolling scholarship",
        "Away rotation",
        "Hospitalist job",
    ]
    assert text.index("🎓 Scholarships") < text.index("🏥 Rotations") < text.index("💼 Jobs")
    assert "Soon scholarship — Fundación Médica · closes Mar 11 ⏳ closing soon" in text
    assert "Late scholarship — Fundación Médica · closes Apr 8\n" in text
    assert "Rolling scholarship — Fundación Médica\nhttps://grants.example.org/3" in text


def test_closed_entries_leave_the_digest_and_the_last_day_still_counts() -> None:
    items = [opp(1, deadline=DAY - timedelta(days=1)), opp(2, deadline=DAY), opp(3, deadline=None)]
    (text,) = compose(items).parts
    assert "Scholarship 1" not in text
    assert "Scholarship 2 — Fundación Médica · closes Mar 9 ⏳ closing soon" in text
    assert "Scholarship 3" in text


def test_closing_soon_is_within_the_configured_days() -> None:
    items = [opp(1, deadline=DAY + timedelta(days=7)), opp(2, deadline=DAY + timedelta(days=8))]
    (text,) = compose(items).parts
    assert "Scholarship 1 — Fundación Médica · closes Mar 16 ⏳ closing soon" in text
    assert "closes Mar 17\n" in text
    strict = DigestContext("LIM", "#LIM", "#opportunity", closing_soon_days=3)
    assert "closing soon" not in compose(items, ctx=strict).parts[0]


def entries_of(part: str) -> list[str]:
    return re.findall(r"• (Scholarship \d+|Job \d+)", part)


@pytest.mark.parametrize(
    ("limits", "markup"), [(MASTODON, "plain"), (BLUESKY, "plain"), (TELEGRAM, "html"), (TELEGRAM, "plain")]
)
def test_a_long_digest_is_a_numbered_thread_that_never_splits_an_entry(
    limits: TextLimits, markup: str
) -> None:
    items = [opp(i) for i in range(60)] + [opp(100 + i, kind="job", title=f"Job {i}") for i in range(60)]
    digest = compose(items, limits, markup=markup)
    mk = Markup(markup)
    n = len(digest.parts)
    assert n > 1
    seen: list[str] = []
    for i, part in enumerate(digest.parts, 1):
        assert length(mk.visible(part), limits) <= limits.max_length
        assert part.endswith(f"\n{i}/{n}")
        seen += entries_of(part)
        # every entry is whole: its title line is followed by its own link
        for title in entries_of(part):
            number = int(title.split()[1])
            i_d = number if title.startswith("Scholarship") else 100 + number
            assert f"grants.example.org/{i_d}" in part
    assert sorted(seen) == sorted(entries_of("\n".join(f"• {o.title}" for o in items)))
    assert len(seen) == len(set(seen)) == 120
    assert digest.parts[0].startswith("📢 Latinas in Medicine opportunities, week of Mar 9")


def test_a_group_running_into_the_next_part_repeats_its_heading() -> None:
    digest = compose([opp(i) for i in range(12)])
    assert len(digest.parts) > 2
    assert all("🎓 Scholarships" in p for p in digest.parts)


def test_mastodon_counts_every_link_as_23() -> None:
    long_link = (
        "https://www.fellowships.example.org/applications/2026/underrepresented-in-medicine/" + "x" * 150
    )
    items = [opp(i, url=f"{long_link}?id={i}") for i in range(2)]
    (text,) = compose(items, MASTODON).parts  # one post although it has well over 500 characters
    assert len(text) > 500
    assert length(text, MASTODON) <= 500
    assert length(text, limits_for(Platform.MASTODON)) == length(text, MASTODON)


def test_bluesky_counts_graphemes_so_emoji_and_accents_count_once() -> None:
    # ZWJ emoji with skin tone, flags, and accents written as combining marks
    title = "👩🏽‍⚕️" * 5 + " Beca para me\u0301dicas — sen\u0303ora Nu\u0301n\u0303ez 🇲🇽🇨🇴"
    assert len(graphemes(title)) < len(title)
    items = [opp(i, title=title, url=f"https://b.example/{i}") for i in range(20)]
    digest = compose(items, BLUESKY, lang="es")
    for part in digest.parts:
        assert len(graphemes(part)) <= 300
    # packed by graphemes, not code points: some part is longer than 300 code points
    assert max(len(p) for p in digest.parts) > 300
    assert sum(p.count(title) for p in digest.parts) == 20


def test_telegram_html_escapes_member_text_and_links_the_address() -> None:
    items = [opp(1, title="<b>Free</b> & fair <a href='x'>grant</a>", organisation="R&D <Lab>")]
    (text,) = compose(items, TELEGRAM, markup="html").parts
    assert "&lt;b&gt;Free&lt;/b&gt; &amp; fair &lt;a href='x'&gt;grant&lt;/a&gt;" in text
    assert "R&amp;D &lt;Lab&gt;" in text
    assert '<a href="https://grants.example.org/1">grants.example.org/1</a>' in text
    assert "<b>🎓 Scholarships</b>" in text
    visible = Markup("html").visible(text)
    assert "<b>Free</b> & fair <a href='x'>grant</a> — R&D <Lab>" in visible
    assert set(re.findall(r"</?(\w+)", text.replace(html.escape("<"), ""))) <= {"b", "a"}


def test_an_empty_week_posts_nothing_or_the_call_for_submissions() -> None:
    assert compose([]).parts == []
    assert compose([opp(1, deadline=DAY - timedelta(days=3))]).parts == []
    calling = DigestContext("LIM", "#LatinasInMedicine", "#opportunity", call_for_submissions=True)
    (call,) = compose([], ctx=calling, lang="es").parts
    assert call.startswith("📢 Esta semana no tenemos oportunidades")
    assert "#LatinasInMedicine #opportunity" in call


def test_an_entry_too_long_for_a_post_is_shortened_and_one_that_cannot_be_is_left_out() -> None:
    items = [opp(1, title="Very " * 100 + "long title"), opp(2, url="https://x.example/" + "y" * 400)]
    digest = compose(items, BLUESKY)
    assert digest.entries == 1
    assert [o.id for o in digest.left_out] == [2]
    assert all(len(graphemes(p)) <= 300 for p in digest.parts)
    assert "Very Very" in digest.parts[-1] or "Very Very" in digest.parts[0]
    assert "…" in "".join(digest.parts)


def test_the_spanish_digest_is_written_from_the_spanish_templates() -> None:
    (text,) = compose(
        [opp(1, deadline=DAY + timedelta(days=3), eligibility=("estudiantes",))], lang="es"
    ).parts
    assert text.startswith("📢 Oportunidades de Latinas in Medicine, semana del 9 mar")
    assert "🎓 Becas" in text
    assert "cierra el 12 mar ⏳ ¡cierra pronto! · para estudiantes" in text


def test_the_spanish_digest_says_kinds_and_eligibility_in_spanish() -> None:
    items = [
        opp(1, kind="fellowship", title="Beca Ruiz", eligibility=("students", "residents")),
        opp(2, kind="scholarship", title="Beca Soto", eligibility=("medical students", "Nurses", "doulas")),
    ]
    (text,) = compose(items, lang="es").parts
    assert "🔬 Becas de formación" in text
    assert "Fellowships" not in text
    assert "· para estudiantes, residentes" in text
    assert "· para estudiantes de medicina, enfermeras y enfermeros, doulas" in text  # unknown: as written
    assert "students" not in text
    assert "residents" not in text


def test_the_english_digest_translates_spanish_eligibility_words() -> None:
    (text,) = compose([opp(1, eligibility=("estudiantes", "residentes", "students"))]).parts
    assert "· for students, residents" in text  # one word once, even when both spellings were given
    assert "· for students, residents, students" not in text


def test_eligibility_words_of_a_language_without_a_table_stay_as_written() -> None:
    from bot.series.templates import Templates

    assert Templates("pt", {}).eligibility("students") == "students"


def test_limits_come_from_each_adapter_class() -> None:
    from adapters.registry import adapter_class

    assert limits_for(Platform.MASTODON) == TextLimits(500, "chars", 23)
    for platform in Platform:
        try:
            cls = adapter_class(platform)
        except Exception:  # that platform's adapter has not landed
            continue
        assert limits_for(platform) is cls.limits
