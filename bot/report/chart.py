"""The report's picture: weekly hashtag posts and authors above, followers below, one PNG.

Drawn on matplotlib's Agg canvas without pyplot, so nothing global changes and no display
is needed.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot import files
from bot.report.model import Report

POSTS = "#3b6ea5"
AUTHORS = "#d9822b"
PLATFORM_COLOURS = ("#2e8b57", "#7b4fa0", "#c0392b", "#5d6d7e")  # followers, one line each
MAX_TICKS = 12


def draw(report: Report) -> Figure:
    """The chart as a Figure whose x axis spans exactly the report's period: weekly posts and
    authors above, each platform's followers below, a short last week hatched and said so."""
    tags = " ".join("#" + t for t in report.hashtags)
    period = f"{report.since:%d %b %Y} to {report.last_day:%d %b %Y} (both days included)"
    fig = figure(f"{report.community} — {tags}\n{period}")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    starts = [w.start for w in report.weeks]
    ends = [min(w.start + timedelta(days=7), report.until) for w in report.weeks]
    widths = [(end - start) * 0.85 for start, end in zip(starts, ends, strict=True)]
    bars = top.bar(
        starts,
        [w.posts for w in report.weeks],
        width=widths,
        align="edge",
        color=POSTS,
        label="hashtag posts",
    )
    for bar, start, end in zip(bars, starts, ends, strict=True):
        if end - start < timedelta(days=7):
            bar.set_hatch("//")
            bar.set_alpha(0.6)
            # shaded on both plots, so a short week shows even when nothing was posted in it
            for ax in (top, bottom):
                ax.fill_between(
                    [start, end], 0, 1, transform=ax.get_xaxis_transform(), color="0.93", zorder=0
                )
            bar.set_label(f"a short week ({(end - start).days or 1} days, the period ends)")
    middles = [w.start + width / 2 for w, width in zip(report.weeks, widths, strict=True)]
    top.plot(middles, [w.authors for w in report.weeks], color=AUTHORS, marker="o", label="unique authors")
    top.set_ylabel("posts and authors per week")
    top.set_ylim(bottom=0)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.margins(y=0.1)
    # Above the plot, outside it: a legend inside would cover the tallest bars.
    top.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False, fontsize="small")
    drawn = 0
    for platform, series in sorted(report.follower_series.items()):
        if not series:
            continue
        days = [max(day, report.since) for day, _ in series]
        colour = PLATFORM_COLOURS[drawn % len(PLATFORM_COLOURS)]
        bottom.step(days, [n for _, n in series], where="post", color=colour, marker=".", label=platform)
        # the last count holds until the period's end
        bottom.hlines(series[-1][1], days[-1], report.until, color=colour, linestyles="dotted")
        drawn += 1
    if drawn:
        bottom.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, frameon=False, fontsize="small")
    else:
        bottom.text(0.5, 0.5, "no follower counts yet", transform=bottom.transAxes, ha="center", color="gray")
    bottom.set_ylabel("followers of the\ncentral account")
    bottom.set_xlabel("week starting (UTC)")
    for ax in (top, bottom):
        plain(ax)
    _week_ticks(bottom, report)
    bottom.set_xlim(report.since, report.until)
    return fig


def _week_ticks(ax: Axes, report: Report) -> None:
    """A tick at week starts (thinned on long periods), the year on the first and wherever it
    changes, so a period across New Year reads right."""
    starts = [w.start for w in report.weeks] or [report.since]
    step = max(1, -(-len(starts) // MAX_TICKS))
    ticks = starts[::step]
    labels = []
    year = None
    for day in ticks:
        labels.append(f"{day:%d %b}" if day.year == year else f"{day:%d %b}\n{day.year}")
        year = day.year
    ax.set_xticks([date2num(t) for t in ticks], labels)  # type: ignore[no-untyped-call]


def figure(title: str, size: tuple[float, float] = (10, 6.5)) -> Figure:
    """A figure on the Agg canvas with the reports' title style (shared by every report chart)."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(title, x=0.01, ha="left", fontsize="large")
    return fig


def plain(ax: Axes) -> None:
    """The reports' axes: no box on the top and right, a light grid across."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def png(report: Report) -> bytes:
    return to_png(draw(report))


def save(report: Report, path: Path, mode: int = files.OWNER_ONLY) -> None:
    files.write_bytes(path, png(report), mode)
