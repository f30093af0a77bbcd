"""After the conference: what it brought — posts, authors, first-time authors, engagement, top
posts, day by day — for the terminal and as CSV (bot.conference.report_pages: PNG and HTML).
Opted-out members are counted, never named."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from bot.conference.daily import APPROVED
from bot.conference.model import ConferenceView
from bot.files import csv_rows
from bot.store import models as m
from bot.store.store import Store
from bot.trust.standing import may_credit

TOP = 5


@dataclass(frozen=True)
class TopPost:
    who: str  # the author's name or handle, or "a member" when she may not be named
    platform: str
    url: str | None
    engagement: int


@dataclass(frozen=True)
class ConferenceReport:
    conference: ConferenceView
    posts: int  # conference posts seen (tag in the window)
    queued: int  # of which reached the curators
    approved: int
    authors: int
    first_time_authors: int  # first seen by the community during the conference
    engagement: int  # likes, reposts, replies and quotes of the conference posts, as last counted
    by_platform: dict[str, int]
    top: tuple[TopPost, ...]
    # each local day of the window: (day, platform -> posts, distinct authors)
    by_day: tuple[tuple[date, dict[str, int], int], ...] = ()


def conference_report(
    store: Store, conference: ConferenceView, consent_mode: str = "opt-out"
) -> ConferenceReport:
    p, a, c = m.Post, m.Account, m.Candidate
    opens, closes = conference.opens, conference.closes
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                p.hashtags,
                p.platform,
                p.url,
                p.engagement,
                p.created_at,
                a.id,
                a.handle,
                a.display_name,
                a.consent,
                a.first_seen,
                c.state,
            )
            .join(a, a.id == p.account_id)
            .outerjoin(c, c.post_id == p.id)
            .where(
                p.community_id == store.community_id,
                p.created_at >= opens,
                p.created_at < closes,
                p.hashtags.contains(conference.tag),
                p.is_boost.is_(False),
            )
        ).all()
    rows = [r for r in rows if conference.tag in r.hashtags.split()]
    authors = {r.id for r in rows}
    first = {r.id for r in rows if opens <= r.first_seen < closes}
    by_platform: dict[str, int] = {}
    for r in rows:
        by_platform[r.platform] = by_platform.get(r.platform, 0) + 1
    days: dict[date, tuple[dict[str, int], set[int]]] = {
        conference.starts_on + timedelta(days=i): ({}, set())
        for i in range((conference.ends_on - conference.starts_on).days + 1)
    }
    for r in rows:
        counts, people = days[conference.local_day(r.created_at)]
        counts[r.platform] = counts.get(r.platform, 0) + 1
        people.add(r.id)
    ranked = sorted((r for r in rows if r.engagement), key=lambda r: (-r.engagement, r.url))[:TOP]
    top = tuple(
        TopPost(r.display_name.strip() or r.handle, r.platform, r.url, r.engagement)
        if may_credit(r.consent, consent_mode)
        else TopPost("a member", r.platform, None, r.engagement)
        for r in ranked
    )
    return ConferenceReport(
        conference=conference,
        posts=len(rows),
        queued=sum(1 for r in rows if r.state is not None),
        approved=sum(1 for r in rows if r.state in APPROVED),
        authors=len(authors),
        first_time_authors=len(first),
        engagement=sum(r.engagement or 0 for r in rows),
        by_platform=dict(sorted(by_platform.items())),
        top=top,
        by_day=tuple(
            (day, dict(sorted(counts.items())), len(people)) for day, (counts, people) in days.items()
        ),
    )


def figures(report: ConferenceReport) -> list[tuple[str, int]]:
    return [
        ("posts", report.posts),
        ("queued", report.queued),
        ("approved", report.approved),
        ("authors", report.authors),
        ("first_time_authors", report.first_time_authors),
        ("engagement", report.engagement),
        *((f"posts_{platform}", n) for platform, n in report.by_platform.items()),
    ]


def to_text(report: ConferenceReport) -> str:
    conf = report.conference
    lines = [f"{conf.name} (#{conf.tag}), {conf.starts_on} to {conf.ends_on} ({conf.timezone})", ""]
    lines += [f"  {name.replace('_', ' '):<22}{value:>8}" for name, value in figures(report)]
    lines += ["", "Top posts:" if report.top else "Top posts: none counted yet."]
    lines += [
        f"  {i}. {t.who} on {t.platform.capitalize()}: {t.engagement} interactions {t.url or ''}".rstrip()
        for i, t in enumerate(report.top, 1)
    ]
    return "\n".join(lines) + "\n"


def to_csv(report: ConferenceReport) -> str:
    """Two tables in one file, as spreadsheets open it: the figures, then the top posts; no
    cell runs as a formula (``bot.files.csv_rows``)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["conference", "figure", "value"])
    w.writerows(csv_rows([report.conference.tag, name, value] for name, value in figures(report)))
    w.writerow([])
    w.writerow(["rank", "who", "platform", "engagement", "url"])
    w.writerows(
        csv_rows([i, t.who, t.platform, t.engagement, t.url or ""] for i, t in enumerate(report.top, 1))
    )
    return out.getvalue()
