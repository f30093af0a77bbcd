"""The conference report as a picture and a web page, drawn and laid out by the reach report's
own helpers (bot.report.chart, bot.report.render): posts per day by platform with the day's
authors, then the figures and the top posts as tables."""

from __future__ import annotations

from bot.conference.report import ConferenceReport, figures
from bot.report import render


def _title(report: ConferenceReport) -> str:
    conf = report.conference
    return f"{conf.name} (#{conf.tag}) — {conf.starts_on:%d %b} to {conf.ends_on:%d %b %Y} ({conf.timezone})"


def png(report: ConferenceReport) -> bytes:
    """Each day of the window: its posts stacked by platform, and how many members posted."""
    from bot.report import chart  # matplotlib: only a process that draws loads it (the web page does not)

    fig = chart.figure(_title(report), size=(10, 5))
    ax = fig.subplots()
    days = list(range(len(report.by_day)))  # one slot per local day, labelled below
    platforms = sorted({p for _, counts, _ in report.by_day for p in counts})
    below = [0] * len(days)
    colours = (chart.POSTS, *chart.PLATFORM_COLOURS)
    for i, platform in enumerate(platforms):
        heights = [counts.get(platform, 0) for _, counts, _ in report.by_day]
        ax.bar(days, heights, bottom=below, width=0.7, color=colours[i % len(colours)], label=platform)
        below = [b + h for b, h in zip(below, heights, strict=True)]
    ax.plot(days, [n for _, _, n in report.by_day], color=chart.AUTHORS, marker="o", label="members posting")
    if not platforms:
        ax.text(0.5, 0.5, "no conference posts yet", transform=ax.transAxes, ha="center", color="gray")
    ax.set_ylabel("conference posts per day")
    ax.set_ylim(bottom=0)
    ax.set_xticks(days, [f"{day:%a %d %b}" for day, _, _ in report.by_day])
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, frameon=False, fontsize="small")
    chart.plain(ax)
    return chart.to_png(fig)


def sections(report: ConferenceReport) -> list[render.Section]:
    numbers = [[name.replace("_", " "), f"{value:,}"] for name, value in figures(report)]
    top = [
        [str(i), t.who, t.platform.capitalize(), f"{t.engagement:,}", t.url or ""]
        for i, t in enumerate(report.top, 1)
    ]
    days = [[f"{day:%a %d %b}", f"{sum(counts.values()):,}", f"{n:,}"] for day, counts, n in report.by_day]
    return [
        ("The conference in numbers", ["", ""], numbers),
        ("Top posts", ["rank", "who", "platform", "interactions", "link"], top),
        ("Day by day", ["day", "posts", "members posting"], days),
    ]


def html_page(report: ConferenceReport, chart_png: bytes | None = None) -> str:
    return render.page(
        _title(report),
        sections(report),
        made="Members who keep their posts to themselves are counted, never named.",
        chart_png=chart_png,
        chart_alt="conference posts per day by platform, and members posting",
    )
