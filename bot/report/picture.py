"""The report's chart as PNG bytes, with matplotlib imported only when one is drawn: this module
is what the console hands to its drawing child process (``bot.web.drawing``), which then imports
the report's model and the drawing code, and nothing of the bot around them."""

from __future__ import annotations

from bot.report.model import Report


def png(report: Report) -> bytes:
    from bot.report import chart

    return chart.png(report)
