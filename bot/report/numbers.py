"""The monthly "community in numbers" post: a pure composer the series scheduler can call.

Give it the report of the month that just ended (``last_month`` gives the period) and publish
what it returns, split per platform with ``bot.text.split_thread``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.report.model import Report


def last_month(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month before the one ``now`` falls in: (first day, first day of the next)."""
    until = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = (until - timedelta(days=1)).replace(day=1)
    return since, until


def compose_numbers(report: Report) -> str:
    """A short, warm summary of the period for members; numbers only, no member named."""
    tags = " ".join("#" + t for t in report.hashtags)
    when = report.since.strftime("%B %Y")
    total = report.total
    lines = [f"{report.community} in numbers, {when}:"]
    if total.posts == 0:
        lines.append(f"A quiet month: no posts with {tags}. Tell us what you are working on!")
        return "\n".join(lines)
    authors = f"{total.authors:,} member{'s' if total.authors != 1 else ''}"
    new = f", {report.new_authors:,} of them for the first time" if report.new_authors else ""
    lines.append(f"• {total.posts:,} posts with {tags} by {authors}{new}")
    if total.engagement:  # counts only from the platforms that tell them
        told = [
            f"{n:,} {word}"
            for n, word in ((total.likes, "likes"), (total.reposts, "reposts"), (total.replies, "replies"))
            if n is not None
        ]
        if total.quotes:
            told.append(f"{total.quotes:,} quotes")
        lines.append("• " + ", ".join(told))
    s = report.spotlight
    if s.amplifications:
        first = (
            f" ({s.first_time_contributors:,} first-time contributors)" if s.first_time_contributors else ""
        )
        lines.append(f"• {s.amplifications:,} posts amplified from {s.members:,} members{first}")
    month = report.follower_months[-1] if report.follower_months else None
    if month is not None and month.growth:
        lines.append(f"• {month.growth:+,} followers, {month.end:,} in all")
    lines.append(f"Thank you for lifting each other up. Keep posting with {tags}!")
    return "\n".join(lines)
