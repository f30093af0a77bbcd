"""The report's picture: weekly hashtag posts and authors above, followers below, one PNG.

Drawn on matplotlib's Agg canvas without pyplot, so nothing global changes and no display
is needed.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bot import files
from bot.report.model import Report

POSTS = "#3b6ea5"
AUTHORS = "#d9822b"
FOLLOWERS = "#2e8b57"


def draw(report: Report) -> Figure:
    """The chart as a Figure whose x axis spans exactly the report's period."""
    fig = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    starts = [w.start for w in report.weeks]
    widths = [(min(w.start + timedelta(days=7), report.until) - w.start) * 0.85 for w in report.weeks]
    top.bar(
        starts,
        [w.posts for w in report.weeks],
        width=widths,
        align="edge",
        color=POSTS,
        label="hashtag posts",
    )
    middles = [w.start + width / 2 for w, width in zip(report.weeks, widths, strict=True)]
    top.plot(middles, [w.authors for w in report.weeks], color=AUTHORS, marker="o", label="unique authors")
    top.set_ylabel("per week")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", frameon=False)
    top.set_title(f"{report.community}: {' '.join('#' + t for t in report.hashtags)}", loc="left")
    known = [(w.start + timedelta(days=7), w.followers) for w in report.weeks if w.followers is not None]
    if known:
        ends = [min(day, report.until) for day, _ in known]
        bottom.plot(ends, [n for _, n in known], color=FOLLOWERS, marker=".", label="followers")
        bottom.legend(loc="upper left", frameon=False)
    else:
        bottom.text(0.5, 0.5, "no follower counts yet", transform=bottom.transAxes, ha="center", color="gray")
    bottom.set_ylabel("followers of the\ncentral account")
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    bottom.set_xlim(report.since, report.until)
    return fig


def png(report: Report) -> bytes:
    buffer = io.BytesIO()
    draw(report).savefig(buffer, format="png")
    return buffer.getvalue()


def save(report: Report, path: Path, mode: int = files.OWNER_ONLY) -> None:
    files.write_bytes(path, png(report), mode)
