"""The report's numbers against hand-counted expectations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.report.compute import build_report, gini, percentile
from bot.report.directory import mark
from bot.report.model import FollowerMonth, PlatformNumbers, Week
from tests.bot.report.conftest import SINCE, UNTIL, Seeded, at


def test_the_seeded_month_in_numbers(seeded: Seeded) -> None:
    report = build_report(seeded.store, seeded.settings, SINCE, UNTIL)

    # Mastodon: m1 m2 m3 m4 m5 m6 m10 (not m7 without the tag, m8 a boost, m9 in April, m11
    # another tag); m3 is the central account's. Authors: Maria, Hospital, Quiet, Elena.
    assert report.platforms == (
        PlatformNumbers(
            "bluesky", posts=3, central_posts=1, authors=2, likes=9, reposts=1, replies=2, quotes=3
        ),
        PlatformNumbers(
            "mastodon", posts=7, central_posts=1, authors=4, likes=69, reposts=7, replies=1, quotes=0
        ),
        # Telegram tells no counts: unknown (None), not 0
        PlatformNumbers("telegram", posts=2, central_posts=0, authors=1),
    )
    assert report.platforms[2].likes is None
    assert report.total.likes == 78  # the platforms that tell
    assert report.total.posts == 12
    assert report.total.authors == 7
    assert report.central_share == pytest.approx(2 / 12)
    # Everyone but Elena (a hashtag post in February); Rosa's February post had no hashtag.
    assert report.new_authors == 6
    assert (report.individuals, report.organisations) == (5, 2)  # Hospital (group), Clinic (config)
    assert (report.follows_known, report.follows_central) == (4, 3)  # Maria, Rosa, Quiet; not Hospital
    assert report.follow_share == pytest.approx(0.75)


def test_followers_at_the_ends_and_by_month(seeded: Seeded) -> None:
    report = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    assert report.followers_start == {"mastodon": 100, "bluesky": 40}  # Bluesky: its first count
    assert report.followers_end == {"mastodon": 150, "bluesky": 50}
    (march,) = report.follower_months
    assert march == FollowerMonth("2026-03", start=140, end=200)
    assert march.growth == 60
    assert march.rate == pytest.approx(60 / 140)


def test_weeks_count_posts_authors_and_followers(seeded: Seeded) -> None:
    report = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    assert report.weeks == (
        Week(SINCE, posts=4, authors=3, followers=110),  # m1 m3 b1 t1; the central m3 is no author
        Week(SINCE + timedelta(days=7), posts=4, authors=3, followers=150),  # m2 m4 b2 b3
        Week(SINCE + timedelta(days=14), posts=2, authors=2, followers=170),  # m5 m6
        Week(SINCE + timedelta(days=21), posts=1, authors=1, followers=170),  # m10
        Week(SINCE + timedelta(days=28), posts=1, authors=1, followers=200),  # t2, a short week
    )


def test_curation_health(seeded: Seeded) -> None:
    c = build_report(seeded.store, seeded.settings, SINCE, UNTIL).curation
    # Queued in March: m1 m2 m4 m7 b1 t1 (e0 was queued in February).
    assert (c.seen, c.approved, c.rejected, c.open, c.other, c.decided) == (6, 4, 1, 1, 0, 5)
    # Minutes to decide: 10 30 60 90 240 -> nearest-rank median the 3rd, p90 the 5th.
    assert (c.decision_median_minutes, c.decision_p90_minutes) == (60, 240)


def test_spotlight_spread_and_first_time_contributors(seeded: Seeded) -> None:
    s = build_report(seeded.store, seeded.settings, SINCE, UNTIL).spotlight
    # Done in March: e0 (Elena), m1 and m2 (Maria), m7 (Nina); b1 failed.
    assert (s.amplifications, s.members, s.most_for_one) == (4, 3, 2)
    assert s.top_tenth_share == pytest.approx(2 / 4)
    assert s.gini == pytest.approx(1 / 6)  # counts 1, 1, 2
    assert s.first_time_contributors == 1  # Maria; Elena is not new, Nina never used the hashtag


def test_top_posts_leave_out_the_central_account_and_who_opted_out(seeded: Seeded) -> None:
    top = build_report(seeded.store, seeded.settings, SINCE, UNTIL).top_posts
    # m5 (50 likes) is Quiet's, m3 and b2 the central account's; m1 and b1 tie at 13 (the
    # later one first).
    ranked = [(p.url.rsplit("/", 1)[1], p.engagement) for p in top]
    assert ranked == [("b1", 13), ("m1", 13), ("m2", 3), ("m4", 1)]
    assert (top[1].handle, top[1].created_at) == ("maria@med.example", at(2))
    assert (top[0].likes, top[0].reposts, top[0].replies, top[0].quotes) == (7, 1, 2, 3)


def test_a_curators_mark_moves_a_member_between_kinds(seeded: Seeded) -> None:
    mark(seeded.store, seeded.settings, "@tgmember", organisation=True, curator="rosa")
    mark(seeded.store, seeded.settings, "hospital@med.example", organisation=False, curator="rosa")
    report = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    assert (report.individuals, report.organisations) == (5, 2)  # one each way
    mark(seeded.store, seeded.settings, "rosa.bsky.social", organisation=True, curator="ana")
    report = build_report(seeded.store, seeded.settings, SINCE, UNTIL)
    assert (report.individuals, report.organisations) == (4, 3)


def test_an_empty_period(seeded: Seeded) -> None:
    since = SINCE.replace(year=2025)
    report = build_report(seeded.store, seeded.settings, since, since + timedelta(days=14))
    assert report.platforms == ()
    assert report.total.posts == 0
    assert report.central_share is None
    assert report.follow_share is None
    assert (report.new_authors, report.individuals, report.organisations) == (0, 0, 0)
    assert report.followers_start == {}
    assert report.followers_end == {}
    assert report.follower_months == ()
    assert report.curation.seen == 0
    assert report.curation.decision_median_minutes is None
    assert report.spotlight.amplifications == 0
    assert report.spotlight.gini is None
    assert [w.posts for w in report.weeks] == [0, 0]
    assert report.top_posts == ()


def test_a_period_with_one_post(seeded: Seeded) -> None:
    since = at(30, 0)
    report = build_report(seeded.store, seeded.settings, since, since + timedelta(days=1))
    assert report.platforms == (PlatformNumbers("telegram", posts=1, authors=1),)
    assert report.new_authors == 0  # the same member posted t1 on 6 March
    assert report.individuals == 1
    assert report.weeks == (Week(since, posts=1, authors=1, followers=130 + 40),)
    assert report.top_posts == ()  # nobody reacted to it


def test_the_period_must_make_sense(seeded: Seeded) -> None:
    with pytest.raises(ValueError, match="end after"):
        build_report(seeded.store, seeded.settings, UNTIL, SINCE)


def test_percentiles_and_gini_by_hand() -> None:
    assert percentile([], 0.5) is None
    assert percentile([(7, 1)], 0.9) == 7
    assert percentile([(1, 9), (100, 1)], 0.9) == 1
    assert percentile([(1, 9), (100, 1)], 0.91) == 100
    assert gini([3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([]) is None
