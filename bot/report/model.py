"""What a reach report says, as plain frozen data, and its spreadsheet form (long rows).

Pure: built by :mod:`bot.report.compute`, read by the renderers and the monthly composer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

ALL = "all"  # the key of a figure over every platform


def known_sum(values: Iterable[int | None]) -> int | None:
    """The sum of the values a platform could tell; None when none could (unknown, not 0)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (an empty period)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class PlatformNumbers:
    """Hashtag posts of the period on one platform, and how they were received. A count is None
    when the platform told none for the period's posts (Telegram's Bot API has no likes,
    reposts, replies or quotes): unknown, which a report shows as "–", never as 0."""

    platform: str
    posts: int = 0
    central_posts: int = 0
    authors: int = 0  # accounts other than the central one, blocked accounts aside
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None

    @property
    def engagement(self) -> int | None:
        return known_sum((self.likes, self.reposts, self.replies, self.quotes))


@dataclass(frozen=True)
class FollowerMonth:
    """The central account's followers over one calendar month (all platforms added up)."""

    month: str  # YYYY-MM
    start: int  # the last count before the month (or its first count)
    end: int  # the last count in the month (within the period)

    @property
    def growth(self) -> int:
        return self.end - self.start

    @property
    def rate(self) -> float | None:
        return ratio(self.growth, self.start)


@dataclass(frozen=True)
class Curation:
    """Candidates queued in the period, what became of them, and how fast curators decided."""

    seen: int = 0
    approved: int = 0  # approved, amplified or failed after approval
    rejected: int = 0
    open: int = 0  # pending or snoozed
    other: int = 0  # expired or withdrawn
    decided: int = 0
    decision_median_minutes: int | None = None
    decision_p90_minutes: int | None = None


@dataclass(frozen=True)
class Spotlight:
    """How the central account's amplifications of the period were spread over members."""

    amplifications: int = 0
    members: int = 0  # members amplified at least once
    most_for_one: int = 0
    top_tenth_share: float | None = None  # share of amplifications that went to the top 10%
    gini: float | None = None  # 0: perfectly even, towards 1: a few members get everything
    first_time_contributors: int = 0  # new authors of the period who were amplified in it


@dataclass(frozen=True)
class Week:
    """One week of the period from its first day; the last may be shorter (see ``partial``)."""

    start: datetime
    posts: int
    authors: int
    followers: int | None  # the last count at or before the week's end, all platforms
    end: datetime | None = field(default=None, compare=False)  # exclusive; None: a full week

    @property
    def partial(self) -> bool:
        """A week cut short by the period's end (fewer than seven days)."""
        return self.end is not None and self.end - self.start < timedelta(days=7)


@dataclass(frozen=True)
class TopPost:
    platform: str
    handle: str
    url: str
    created_at: datetime
    likes: int
    reposts: int
    replies: int
    quotes: int

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True)
class Report:
    community: str
    hashtags: tuple[str, ...]
    since: datetime
    until: datetime  # exclusive: the day before it (``last_day``) is the last one counted
    platforms: tuple[PlatformNumbers, ...] = ()
    new_authors: int = 0
    individuals: int = 0
    organisations: int = 0
    blocked_authors: int = 0  # blocked accounts that used the hashtag: counted apart, not above
    follows_known: int = 0  # authors of the period whose following we know
    follows_central: int = 0  # …of whom this many follow the central account
    followers_start: dict[str, int] = field(default_factory=dict)  # platform -> count
    followers_end: dict[str, int] = field(default_factory=dict)
    follower_months: tuple[FollowerMonth, ...] = ()
    curation: Curation = field(default_factory=Curation)
    spotlight: Spotlight = field(default_factory=Spotlight)
    weeks: tuple[Week, ...] = ()
    top_posts: tuple[TopPost, ...] = ()
    # Each platform's follower counts, oldest first: the last before the period, then those in it.
    follower_series: dict[str, tuple[tuple[datetime, int], ...]] = field(default_factory=dict)
    made_at: datetime | None = None  # when the report was computed

    @property
    def last_day(self) -> date:
        """The last day the period counts, as a person says it ("until 31 March", inclusive)."""
        return (self.until - timedelta(microseconds=1)).date()

    @property
    def total(self) -> PlatformNumbers:
        p = self.platforms
        return PlatformNumbers(
            ALL,
            posts=sum(x.posts for x in p),
            central_posts=sum(x.central_posts for x in p),
            authors=sum(x.authors for x in p),  # an account lives on one platform: no overlap
            likes=known_sum(x.likes for x in p),
            reposts=known_sum(x.reposts for x in p),
            replies=known_sum(x.replies for x in p),
            quotes=known_sum(x.quotes for x in p),
        )

    @property
    def central_share(self) -> float | None:
        t = self.total
        return ratio(t.central_posts, t.posts)

    @property
    def follow_share(self) -> float | None:
        return ratio(self.follows_central, self.follows_known)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The report as (section, metric, key, value) rows: one tidy table a spreadsheet can
        pivot. Values are text; ratios keep full precision, empty means "not defined"."""
        out: list[tuple[str, str, str, str]] = []

        def add(section: str, metric: str, key: str, value: object) -> None:
            out.append((section, metric, key, _cell(value)))

        add("period", "since", ALL, self.since)
        add("period", "until", ALL, self.until)
        add("period", "last_day", ALL, self.last_day.isoformat())
        add("period", "made_at", ALL, self.made_at)
        add("period", "hashtags", ALL, " ".join("#" + t for t in self.hashtags))
        for numbers in (*self.platforms, self.total):
            key = numbers.platform
            add("posts", "hashtag_posts", key, numbers.posts)
            add("posts", "central_posts", key, numbers.central_posts)
            add("posts", "unique_authors", key, numbers.authors)
            add("engagement", "likes", key, numbers.likes)
            add("engagement", "reposts", key, numbers.reposts)
            add("engagement", "replies", key, numbers.replies)
            add("engagement", "quotes", key, numbers.quotes)
        add("posts", "central_share", ALL, self.central_share)
        add("authors", "new_authors", ALL, self.new_authors)
        add("authors", "individuals", ALL, self.individuals)
        add("authors", "organisations", ALL, self.organisations)
        add("authors", "blocked_left_out", ALL, self.blocked_authors)
        add("authors", "follow_status_known", ALL, self.follows_known)
        add("authors", "following_central", ALL, self.follows_central)
        add("authors", "follow_share", ALL, self.follow_share)
        for platform in sorted(set(self.followers_start) | set(self.followers_end)):
            add("followers", "start", platform, self.followers_start.get(platform))
            add("followers", "end", platform, self.followers_end.get(platform))
        for month in self.follower_months:
            add("follower_growth", "start", month.month, month.start)
            add("follower_growth", "end", month.month, month.end)
            add("follower_growth", "growth", month.month, month.growth)
            add("follower_growth", "rate", month.month, month.rate)
        c = self.curation
        for name in ("seen", "approved", "rejected", "open", "other", "decided"):
            add("curation", name, ALL, getattr(c, name))
        add("curation", "decision_median_minutes", ALL, c.decision_median_minutes)
        add("curation", "decision_p90_minutes", ALL, c.decision_p90_minutes)
        s = self.spotlight
        add("spotlight", "amplifications", ALL, s.amplifications)
        add("spotlight", "members_amplified", ALL, s.members)
        add("spotlight", "most_for_one_member", ALL, s.most_for_one)
        add("spotlight", "top_tenth_share", ALL, s.top_tenth_share)
        add("spotlight", "gini", ALL, s.gini)
        add("spotlight", "first_time_contributors_amplified", ALL, s.first_time_contributors)
        for week in self.weeks:
            key = week.start.date().isoformat()
            add("weekly", "posts", key, week.posts)
            add("weekly", "authors", key, week.authors)
            add("weekly", "followers", key, week.followers)
        for rank, post in enumerate(self.top_posts, 1):
            key = str(rank)
            add("top_posts", "platform", key, post.platform)
            add("top_posts", "handle", key, post.handle)
            add("top_posts", "url", key, post.url)
            add("top_posts", "posted_at", key, post.created_at)
            add("top_posts", "likes", key, post.likes)
            add("top_posts", "reposts", key, post.reposts)
            add("top_posts", "replies", key, post.replies)
            add("top_posts", "quotes", key, post.quotes)
        return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)
