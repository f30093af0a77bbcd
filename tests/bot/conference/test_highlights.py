"""The daily highlights: the pure composer (consent, limits, one post or a numbered thread,
HTML escaping) and its publication through the real Mastodon.py on the sandbox, once, with two
workers racing for it; a curator's hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, update

from adapters.mastodon.normalize import html_to_text
from bot.clock import FakeClock
from bot.conference.daily import DailyHighlights, slot_of
from bot.conference.highlights import Highlight, compose_highlights, excerpt
from bot.conference.model import conferences
from bot.config import Settings
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform, TextLimits
from bot.ops import conferences as ops
from bot.ops.conferences import ConferenceFields
from bot.series.markup import Markup
from bot.series.publisher import Publisher
from bot.store import models as m
from bot.store.store import Store
from bot.text import length
from sandbox.mastodon import MastodonSandbox
from tests.bot.series.conftest import TOKEN, central_statuses, mastodon_adapter
from tests.factories import author, post

AT = datetime(2027, 10, 14, 18, 0, tzinfo=UTC)
BLUESKY = TextLimits(300, counting="graphemes")


def _h(i: int, consent: str | None = None, text: str = "Our panel on mentorship was packed") -> Highlight:
    return Highlight(
        handle=f"m{i}@med.example",
        name=f"Dra. Miembro {i}",
        url=f"https://med.example/@m{i}/{1000 + i}",
        text=f"{text} #ACSCC27",
        consent=consent,
        approved_at=AT + timedelta(minutes=i),
    )


def _compose(items: list[Highlight], limits: TextLimits = BLUESKY, **kw: object) -> list[str]:
    return compose_highlights(
        conference="ACS Clinical Congress", tag="ACSCC27", day=date(2027, 10, 14), day_number=1,
        items=items, limits=limits, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_one_post_when_it_fits_credited_and_without_the_opted_out() -> None:
    (only,) = _compose([_h(1), _h(2, consent="out")])
    assert only.startswith("ACS Clinical Congress, day 1 (October 14): highlights from our members #ACSCC27")
    assert "— Dra. Miembro 1 https://med.example/@m1/1001" in only
    assert "Miembro 2" not in only
    assert "m2" not in only


def test_opt_in_communities_show_only_members_who_opted_in() -> None:
    parts = _compose([_h(1), _h(2, consent="in")], consent_mode="opt-in")
    assert "Miembro 2" in parts[0]
    assert "Miembro 1" not in parts[0]
    assert _compose([_h(1, consent="out")]) == []


def test_a_long_day_is_a_numbered_thread_within_the_limits() -> None:
    items = [
        _h(i, text="A long and careful summary of a talk about rural surgery access " * 3) for i in range(30)
    ]
    parts = _compose(items)
    assert len(parts) > 3
    assert all(length(p, BLUESKY) <= 300 for p in parts)
    assert [p.rsplit(" ", 1)[1] for p in parts] == [f"{i}/{len(parts)}" for i in range(1, len(parts) + 1)]
    body = "\n\n".join(parts)
    assert "25. " in body
    assert "26. " not in body
    assert "…and 5 more: follow #ACSCC27 for them all." in body


def test_html_markup_escapes_member_text() -> None:
    (only,) = _compose([_h(1, text="<script>x</script> & more")], markup=Markup("html"))
    assert "&lt;script&gt;" in only
    assert "<script>" not in only
    assert only.startswith("<b>ACS Clinical Congress")


def test_excerpt_cuts_between_words() -> None:
    assert excerpt("one two   three", 90) == "one two three"
    assert excerpt("word " * 40, 20) == "word word word word…"


async def test_the_day_is_published_once_with_two_workers_racing(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox, engine: Engine
) -> None:
    clock.advance((AT - clock.now()).total_seconds())
    fields = ConferenceFields(
        name="ACS Clinical Congress", tag="ACSCC27", starts_on="2027-10-14", ends_on="2027-10-16",
        timezone="America/Chicago",
    )  # fmt: skip
    ops.add_conference(store, settings, fields, by="ana", now=clock.now())
    tags = ("LatinasInMedicine", "ACSCC27")
    maria, elena = author("maria@med.example", account_id="1"), author("elena@med.example", account_id="2")
    batch = Batch(
        source="hashtag",
        posts=[
            post("Great plenary on equity #ACSCC27", by=maria, tags=tags, now=clock.now()),
            post("Our poster is up! #ACSCC27", by=elena, tags=tags, now=clock.now()),
        ],
        cursor=None,
    )
    ids = Pipeline(settings, store).ingest(Platform.MASTODON, batch, clock.now()).candidates
    for cid in ids:
        Queue(store, settings).approve(cid, "rosa", clock.now())
    with store.engine.begin() as conn:  # elena opted out after her post was approved
        conn.execute(update(m.Account).where(m.Account.handle == "elena@med.example").values(consent="out"))
    with store.engine.connect() as conn:
        (conference,) = conferences(conn, store.community_id)
    slot = slot_of(conference, date(2027, 10, 14))
    assert slot == datetime(2027, 10, 15, 1, 0, tzinfo=UTC)  # 20:00 in Chicago (CDT)

    def worker(name: str) -> DailyHighlights:
        adapter = mastodon_adapter(sandbox.base_url, clock)
        return DailyHighlights(
            store, Publisher(store, {Platform.MASTODON: adapter}, clock, worker=name), settings
        )

    w1, w2 = worker("w1"), worker("w2")
    preview = w1.preview(conference, date(2027, 10, 14))[Platform.MASTODON]
    clock.advance((slot - clock.now()).total_seconds() - 1)
    assert await w1.run_due(clock.now()) == []  # a second early
    clock.advance(seconds=1)
    first, second = await asyncio.gather(w1.run_due(clock.now()), w2.run_due(clock.now()))
    states = [o.state for o in [*first, *second]]
    assert states.count("done") == 1
    assert set(states) - {"done"} <= {"already", "busy"}
    assert len(states) == 2
    posted = central_statuses(sandbox)
    assert [html_to_text(s["content"]) for s in posted] == preview
    assert "Great plenary on equity" in preview[0]
    assert "elena" not in preview[0]
    assert "Our poster" not in preview[0]
    clock.advance(hours=1)
    assert [o.state for o in await w2.run_due(clock.now())] == ["already"]
    assert len(central_statuses(sandbox)) == 1


async def test_a_curator_holds_a_day(
    store: Store, settings: Settings, clock: FakeClock, sandbox: MastodonSandbox
) -> None:
    fields = ConferenceFields(
        name="ACS Clinical Congress", tag="ACSCC27", starts_on="2027-10-14", ends_on="2027-10-14",
        timezone="America/Chicago", highlights_at="18:30",
    )  # fmt: skip
    ops.add_conference(store, settings, fields, by="ana", now=clock.now())
    with store.engine.connect() as conn:
        (conference,) = conferences(conn, store.community_id)
    adapter = mastodon_adapter(sandbox.base_url, clock)
    daily = DailyHighlights(
        store, Publisher(store, {Platform.MASTODON: adapter}, clock, worker="w1"), settings
    )
    assert daily.hold(conference, date(2027, 10, 14), "ana") == [Platform.MASTODON]
    assert daily.hold(conference, date(2027, 10, 14), "ana") == []
    slot = slot_of(conference, date(2027, 10, 14))
    clock.advance((slot - clock.now()).total_seconds())
    assert [o.state for o in await daily.run_due(clock.now())] == ["already"]
    assert central_statuses(sandbox) == []
    assert TOKEN  # the sandbox's token is what the adapter used


def test_every_platform_gets_parts_within_its_own_limits() -> None:
    from adapters.registry import limits_for, markup_for

    items = [_h(i, text="Résumé of a talk 🎤 on rural surgery access and mentorship " * 2) for i in range(40)]
    for platform in Platform:
        limits, mk = limits_for(platform), Markup(markup_for(platform))
        parts = _compose(items, limits, markup=mk)
        assert parts, platform
        assert all(length(mk.visible(p), limits) <= limits.max_length for p in parts), platform
