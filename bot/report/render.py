"""A reach report as a terminal table, a CSV file, or one self-contained HTML page."""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

from bot import files
from bot.report.model import Report
from bot.text import without_hidden

CSV_HEADER = ("section", "metric", "key", "value")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def duration(minutes: int | None) -> str:
    if minutes is None:
        return "–"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


def period(report: Report) -> str:
    """The period as a person typed it: both days counted ("until" is inclusive)."""
    return f"{report.since.date()} to {report.last_day} (both days included)"


def _title(report: Report) -> str:
    tags = " ".join("#" + t for t in report.hashtags)
    return f"{report.community} — reach report {period(report)}, {tags}"


def _made(report: Report) -> str | None:
    if report.made_at is None:
        return None
    return f"Made on {report.made_at.astimezone(UTC):%Y-%m-%d at %H:%M} UTC"


UNKNOWN = "–"  # a figure the platform cannot tell, or one not defined (nothing to divide)

GLOSSARY = (
    (
        "Unique authors",
        "accounts that posted with the hashtag in the period, the central account "
        "and blocked accounts aside; an account counts once on its platform.",
    ),
    (
        "Organisations",
        "authors that are institutions rather than people: a group account on "
        "its platform, or one the curators listed as an organisation.",
    ),
    (
        "Median time to decision",
        "half the candidates the curators decided were decided faster "
        "than this, from the moment they were queued; the 90th percentile: nine in ten.",
    ),
    (
        "Gini",
        "how evenly amplifications were spread over members: 0 when every member was "
        "amplified as often, towards 1 when a few members got nearly all of them.",
    ),
    (
        UNKNOWN,
        "the platform cannot tell this figure (Telegram counts no likes, reposts or quotes), "
        "or there was nothing to divide.",
    ),
)


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, column heads, rows) of every table in the report, in reading order."""
    total = report.total
    columns = [*report.platforms, total] if report.platforms else [total]
    heads = ["", *(c.platform for c in columns)]

    def line(label: str, values: Iterable[object]) -> list[str]:
        return [label, *(_num(v) if isinstance(v, int) or v is None else str(v) for v in values)]

    posts = [
        line("hashtag posts", (c.posts for c in columns)),
        line("by the central account", (c.central_posts for c in columns)),
        line("unique authors", (c.authors for c in columns)),
        line("likes", (c.likes for c in columns)),
        line("reposts / boosts", (c.reposts for c in columns)),
        line("replies", (c.replies for c in columns)),
        line("quotes", (c.quotes for c in columns)),
    ]
    authors = [
        ["share posted by the central account", percent(report.central_share)],
        ["new authors this period", f"{report.new_authors:,}"],
        ["individuals", f"{report.individuals:,}"],
        ["organisations", f"{report.organisations:,}"],
        ["blocked accounts (left out above)", f"{report.blocked_authors:,}"],
        [
            "follow the central account",
            f"{report.follows_central:,} of {report.follows_known:,} known ({percent(report.follow_share)})",
        ],
    ]
    platforms = sorted(set(report.followers_start) | set(report.followers_end))
    followers = [
        [p, _num(report.followers_start.get(p)), _num(report.followers_end.get(p))] for p in platforms
    ]
    growth = [
        [x.month, f"{x.start:,}", f"{x.end:,}", f"{x.growth:+,}", percent(x.rate)]
        for x in report.follower_months
    ]
    c = report.curation
    curation = [
        ["candidates seen", f"{c.seen:,}"],
        ["approved", f"{c.approved:,}"],
        ["rejected", f"{c.rejected:,}"],
        ["still open", f"{c.open:,}"],
        ["expired or withdrawn", f"{c.other:,}"],
        ["time to decision, median", duration(c.decision_median_minutes)],
        ["time to decision, 90th percentile", duration(c.decision_p90_minutes)],
    ]
    s = report.spotlight
    spotlight = [
        ["amplifications", f"{s.amplifications:,}"],
        ["members amplified", f"{s.members:,}"],
        ["most for one member", f"{s.most_for_one:,}"],
        ["share that went to the top 10% of members", percent(s.top_tenth_share)],
        ["Gini (0 = evenly spread)", "–" if s.gini is None else f"{s.gini:.2f}"],
        ["first-time contributors amplified", f"{s.first_time_contributors:,}"],
    ]
    top = [
        [
            str(i),
            p.platform,
            p.handle,
            f"{p.engagement:,}",
            "/".join(_num(n) for n in (p.likes, p.reposts, p.replies, p.quotes)),
            p.url,
        ]
        for i, p in enumerate(report.top_posts, 1)
    ]
    weeks = [
        [w.start.date().isoformat(), f"{w.posts:,}", f"{w.authors:,}", _num(w.followers)]
        for w in report.weeks
    ]
    return [
        ("Hashtag posts and engagement", heads, posts),
        ("Authors", ["", ""], authors),
        ("Followers of the central account", ["platform", "at the start", "at the end"], followers),
        ("Follower growth by month", ["month", "start", "end", "growth", "rate"], growth),
        ("Curation", ["", ""], curation),
        ("Spotlight", ["", ""], spotlight),
        ("Top posts", ["#", "platform", "author", "engagement", "likes/reposts/replies/quotes", "link"], top),
        ("Week by week", ["week of", "posts", "authors", "followers"], weeks),
    ]


def _num(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def terminal(report: Report) -> str:
    out = [_title(report)]
    made = _made(report)
    if made:
        out.append(made)
    for title, heads, rows in sections(report):
        out.append("")
        out.append(title.upper())
        if not rows:
            out.append("  (nothing in this period)")
            continue
        table = [heads, *rows] if any(heads) else rows
        widths = [max(len(r[i]) for r in table if i < len(r)) for i in range(max(len(r) for r in table))]
        for r in table:
            cells = [(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])) for i, cell in enumerate(r)]
            out.append("  " + "  ".join(cells).rstrip())
    out += ["", f"{UNKNOWN} : {GLOSSARY[-1][1]}"]
    return "\n".join(out)


def write_csv(report: Report, path: Path, mode: int = files.OWNER_ONLY) -> None:
    """Every figure as a row, owner-only unless ``mode`` says otherwise, no cell a formula."""
    files.write_csv(path, CSV_HEADER, report.rows(), mode)


def read_csv(path: Path) -> list[tuple[str, str, str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        head = next(reader, None)
        if tuple(head or ()) != CSV_HEADER:
            raise ValueError(f"{path} is not a reach report CSV (its first row is {head!r})")
        return [(a, b, c, d) for a, b, c, d in ([files.csv_value(x) for x in r] for r in reader)]


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
dt { font-weight: 600; margin-top: .5rem; } dd { margin-left: 1.5rem; }
"""


def html_page(report: Report, chart_png: bytes | None = None) -> str:
    """One page with every table and the chart inside it (no files next to it to lose)."""
    return page(
        _title(report),
        sections(report),
        made=_made(report),
        chart_png=chart_png,
        chart_alt="weekly posts, authors and followers",
        glossary=GLOSSARY,
    )


Section = tuple[str, list[str], list[list[str]]]  # title, column heads, rows of cells


def page(
    title: str,
    tables: list[Section],
    *,
    made: str | None = None,
    chart_png: bytes | None = None,
    chart_alt: str = "",
    glossary: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
) -> str:
    """A self-contained HTML page of titled tables, with its chart embedded; every cell escaped,
    and a cell that is a web address a link. Shared by the reports (reach, conference)."""

    def esc(text: str) -> str:
        return html.escape(without_hidden(text))

    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if made:
        parts.append(f"<p>{esc(made)}</p>")
    if chart_png:
        data = base64.b64encode(chart_png).decode("ascii")
        parts.append(f'<img alt="{esc(chart_alt)}" src="data:image/png;base64,{data}">')
    for heading, heads, rows in tables:
        parts.append(f"<h2>{esc(heading)}</h2>")
        if not rows:
            parts.append("<p>Nothing in this period.</p>")
            continue
        parts.append("<table>")
        if any(heads):
            parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>")
        for r in rows:
            cells = []
            for cell in r:
                if cell.startswith(("https://", "http://")):
                    cells.append(f'<td><a href="{esc(cell)}">{esc(cell)}</a></td>')
                else:
                    cells.append(f"<td>{esc(cell)}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    if glossary:
        parts.append("<h2>What the figures mean</h2>")
        parts.append("<dl>")
        for term, meaning in glossary:
            parts.append(f"<dt>{esc(term)}</dt><dd>{esc(meaning)}</dd>")
        parts.append("</dl>")
    parts.append("</body></html>")
    return "\n".join(parts)
