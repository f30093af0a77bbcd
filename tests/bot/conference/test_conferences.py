"""Conferences and champions through the application layer, the conference badge on queued
posts, and the champion's scoped role in the queue, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Settings
from bot.curation.flags import view_flags
from bot.curation.pipeline import Pipeline
from bot.curation.queue import Queue
from bot.domain import Batch, Platform
from bot.errors import QueueError
from bot.ops import conferences as ops
from bot.ops.conferences import ConferenceFields
from bot.ops.result import Outcome
from bot.store import models as m
from bot.store.store import Item, Store
from tests.factories import author, post

# Thursday 14 October 2027, 15:00 UTC = 10:00 in Chicago (CDT): the conference's first day.
DAY1 = datetime(2027, 10, 14, 15, 0, tzinfo=UTC)
ACS = ConferenceFields(
    name="ACS Clinical Congress",
    tag="#ACSCC27",
    starts_on="2027-10-14",
    ends_on="2027-10-16",
    timezone="America/Chicago",
)
MARIA = author("maria@med.example", account_id="501")
ELENA = author("elena@med.example", account_id="502")


@pytest.fixture
def at_conference(clock: FakeClock) -> FakeClock:
    clock.advance((DAY1 - clock.now()).total_seconds())
    return clock


def _add(store: Store, settings: Settings, now: datetime, fields: ConferenceFields = ACS, **kw: str) -> None:
    result = ops.add_conference(store, settings, fields, by="ana", now=now)
    assert result.outcome is Outcome.DONE, result.message


def _ingest(store: Store, settings: Settings, now: datetime, *posts: object) -> list[int]:
    batch = Batch(source="hashtag", posts=list(posts), cursor=None)  # type: ignore[arg-type]
    return Pipeline(settings, store).ingest(Platform.MASTODON, batch, now).candidates


def _champion(store: Store, settings: Settings, now: datetime, handle: str = "maria@med.example") -> None:
    store.ingest(Platform.MASTODON, [Item(post(by=MARIA, now=now))], now)  # she has posted once
    result = ops.add_champion(store, settings, "ACSCC27", "mastodon", handle, by="ana", now=now)
    assert result.outcome is Outcome.DONE, result.message


def test_add_list_edit_remove(store: Store, settings: Settings, clock: FakeClock) -> None:
    _add(store, settings, clock.now())
    listed = ops.list_conferences(store)
    assert [(c.name, c.tag, str(c.starts_on), c.match) for c in listed.data or []] == [
        ("ACS Clinical Congress", "acscc27", "2027-10-14", "community_tag")
    ]
    again = ops.add_conference(store, settings, ACS, by="ana", now=clock.now())
    assert again.outcome is Outcome.REFUSED
    assert "already a conference" in again.message
    edited = ops.edit_conference(
        store,
        settings,
        "acscc27",
        ConferenceFields(ends_on="2027-10-20", match="known_members"),
        by="rosa",
        now=clock.now(),
    )
    assert edited.outcome is Outcome.DONE
    assert edited.data is not None
    assert (str(edited.data.ends_on), edited.data.match, edited.data.name) == (
        "2027-10-20",
        "known_members",
        "ACS Clinical Congress",
    )
    assert ops.remove_conference(store, settings, "ACSCC27", by="ana", now=clock.now()).exit_code == 0
    assert ops.list_conferences(store).data == []
    assert ops.remove_conference(store, settings, "ACSCC27", by="ana", now=clock.now()).exit_code == 1
    # the tag may be used again, with the new fields
    _add(store, settings, clock.now())
    assert [str(c.ends_on) for c in ops.list_conferences(store).data or []] == ["2027-10-16"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"starts_on": "16/10/2027"}, "must be a date"),
        ({"ends_on": "2027-10-01"}, "ends (2027-10-01) before it starts"),
        ({"timezone": "Mars/Olympus"}, "is not a time zone"),
        ({"tag": "#no spaces"}, "is not a hashtag"),
        ({"match": "everyone"}, "--match must be one of"),
        ({"highlights_at": "8pm"}, "--highlights-at must be"),
    ],
)
def test_bad_fields_are_usage_errors_and_store_nothing(
    store: Store, settings: Settings, clock: FakeClock, change: dict[str, str], says: str
) -> None:
    result = ops.add_conference(
        store, settings, ConferenceFields(**{**ACS.__dict__, **change}), by="ana", now=clock.now()
    )
    assert (result.outcome, result.exit_code) == (Outcome.USAGE, 2)
    assert says in result.message
    assert ops.list_conferences(store).data == []
    assert result.as_json()["outcome"] == "usage"


def test_only_curators_manage_conferences(store: Store, settings: Settings, clock: FakeClock) -> None:
    result = ops.add_conference(store, settings, ACS, by="mallory", now=clock.now())
    assert result.outcome is Outcome.USAGE
    assert "no curator named 'mallory'" in result.message


def test_conference_posts_are_queued_with_a_badge(
    store: Store, settings: Settings, at_conference: FakeClock
) -> None:
    now = at_conference.now()
    _add(store, settings, now)
    tagged = post("Great panel! #LatinasInMedicine #ACSCC27", tags=("LatinasInMedicine", "ACSCC27"), now=now)
    plain = post(now=now)
    ids = _ingest(store, settings, now, tagged, plain)
    queue = Queue(store, settings)
    views = {v.id: v for v in queue.list()}
    assert views[ids[0]].conference == "ACS Clinical Congress (#acscc27)"
    assert views[ids[1]].conference is None
    flags = view_flags(settings.trust.flags, queue.show(ids[0]), now)
    assert [f.code for f in flags][:1] == ["conference"]


def test_conference_tag_alone_by_known_members_when_set(
    store: Store, settings: Settings, at_conference: FakeClock
) -> None:
    now = at_conference.now()
    _add(store, settings, now)
    store.ingest(
        Platform.MASTODON, [Item(post(by=MARIA, now=now - timedelta(days=30), age=timedelta(0)))], now
    )
    only_conf = {"tags": ("ACSCC27",), "now": now}
    by_member = post("Slides up #ACSCC27", by=MARIA, **only_conf)  # type: ignore[arg-type]
    by_stranger = post("Slides up #ACSCC27", by=ELENA, **only_conf)  # type: ignore[arg-type]
    assert _ingest(store, settings, now, by_member) == []  # default: the community tag is needed too
    ops.edit_conference(
        store, settings, "ACSCC27", ConferenceFields(match="known_members"), by="ana", now=now
    )
    by_member2 = post("More slides #ACSCC27", by=MARIA, **only_conf)  # type: ignore[arg-type]
    queued = _ingest(store, settings, now, by_member2, by_stranger)
    assert len(queued) == 1
    assert Queue(store, settings).show(queued[0]).conference == "ACS Clinical Congress (#acscc27)"
    # after the window, the conference tag alone is no longer enough
    later = now + timedelta(days=5)
    assert (
        _ingest(store, settings, later, post("Home again #ACSCC27", by=MARIA, tags=("ACSCC27",), now=later))
        == []
    )


def test_a_champion_decides_her_conference_posts_only_in_its_window(
    store: Store, settings: Settings, at_conference: FakeClock
) -> None:
    now = at_conference.now()
    _add(store, settings, now)
    _champion(store, settings, now)
    conf_tags = ("LatinasInMedicine", "ACSCC27")
    conf_posts = [post(f"Talk {i} #ACSCC27", by=ELENA, tags=conf_tags, now=now) for i in range(3)]
    conf_ids = _ingest(store, settings, now, *conf_posts)
    other = _ingest(store, settings, now, post(by=ELENA, now=now))[0]
    queue = Queue(store, settings)

    approved = queue.approve(conf_ids[0], "maria@med.example", now, "great talk")
    assert approved.state == "approved"
    assert [(d.curator, d.action, d.reason) for d in approved.decisions] == [
        ("champion:maria@med.example", "approve", "conference #acscc27: great talk")
    ]
    assert queue.reject(conf_ids[1], "@maria@med.example", now).state == "rejected"
    with pytest.raises(QueueError, match="not a conference post of yours"):
        queue.approve(other, "maria@med.example", now)
    assert queue.show(other).state == "pending"
    with pytest.raises(Exception, match=r"no curator named 'maria@med\.example'"):
        queue.snooze(conf_ids[2], "maria@med.example", now + timedelta(hours=1), now)

    after = now + timedelta(days=3)  # Sunday 17 October: the window closed at midnight in Chicago
    with pytest.raises(QueueError, match=r"ended on 2027-10-16.*role ended"):
        queue.approve(conf_ids[2], "maria@med.example", after)
    assert queue.show(conf_ids[2]).state == "pending"
    assert queue.approve(conf_ids[2], "rosa", after).state == "approved"  # curators still can


def test_a_champion_cannot_approve_her_own_post_nor_after_removal(
    store: Store, settings: Settings, at_conference: FakeClock
) -> None:
    now = at_conference.now()
    _add(store, settings, now)
    _champion(store, settings, now)
    conf_tags = ("LatinasInMedicine", "ACSCC27")
    mine, theirs = _ingest(
        store,
        settings,
        now,
        post("My talk #ACSCC27", by=MARIA, tags=conf_tags, now=now),
        post("Her talk #ACSCC27", by=ELENA, tags=conf_tags, now=now),
    )
    queue = Queue(store, settings)
    with pytest.raises(QueueError, match="your own post"):
        queue.approve(mine, "maria@med.example", now)
    removed = ops.remove_champion(
        store, settings, "ACSCC27", "mastodon", "maria@med.example", by="rosa", now=now
    )
    assert removed.outcome is Outcome.DONE
    with pytest.raises(Exception, match="no curator named"):
        queue.approve(theirs, "maria@med.example", now)
    with store.engine.connect() as conn:
        row = conn.execute(select(m.ConferenceChampion.named_by, m.ConferenceChampion.removed_by)).one()
    assert tuple(row) == ("ana", "rosa")


def test_naming_a_champion_needs_a_seen_member(store: Store, settings: Settings, clock: FakeClock) -> None:
    _add(store, settings, clock.now())
    result = ops.add_champion(
        store, settings, "ACSCC27", "mastodon", "nobody@x.example", by="ana", now=clock.now()
    )
    assert result.outcome is Outcome.REFUSED
    assert "no member nobody@x.example" in result.message
    bad = ops.add_champion(store, settings, "ACSCC27", "myspace", "x", by="ana", now=clock.now())
    assert bad.outcome is Outcome.USAGE
    _champion(store, settings, clock.now())
    again = ops.add_champion(
        store, settings, "ACSCC27", "mastodon", "maria@med.example", by="ana", now=clock.now()
    )
    assert again.outcome is Outcome.REFUSED
    assert ops.list_conferences(store).data[0].champions == ("maria@med.example (mastodon)",)  # type: ignore[index]


def test_a_window_across_the_end_of_daylight_saving() -> None:
    from datetime import date, time

    from bot.conference.daily import days_of, slot_of
    from bot.conference.model import ConferenceView

    # Daylight saving ends in Chicago at 02:00 on Sunday 7 November 2027.
    conf = ConferenceView(1, "Fall", "fall27", date(2027, 11, 6), date(2027, 11, 8), "America/Chicago")
    start, end = conf.day_bounds(date(2027, 11, 7))
    assert end - start == timedelta(hours=25)
    assert (conf.opens, conf.closes) == (
        datetime(2027, 11, 6, 5, 0, tzinfo=UTC),
        datetime(2027, 11, 9, 6, 0, tzinfo=UTC),
    )
    slots = [slot_of(conf, d) for d in days_of(conf)]
    assert [s.astimezone(conf.zone).time() for s in slots] == [time(20, 0)] * 3
    assert [s.hour for s in slots] == [1, 2, 2]  # 20:00 CDT, then 20:00 CST
    assert not conf.is_open(conf.closes)
    assert conf.is_open(conf.closes - timedelta(microseconds=1))
