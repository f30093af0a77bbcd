"""``python -m bot calendar``: everything the central account will post in a week or a month, in
the community's time zone (:mod:`bot.ops.calendar`); ``--json`` gives every part per platform."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from adapters.registry import REGISTRY
from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.errors import UsageError
from bot.ops import calendar as cal_ops
from bot.ops.result import Result


def cmd_calendar(args: argparse.Namespace) -> int:
    day: date | None = None
    if args.start is not None:
        try:
            day = date.fromisoformat(args.start)
        except ValueError:
            raise UsageError(f"--from {args.start!r}: write a date as 2026-12-07") from None
    ctx = open_context(args)
    view: cal_ops.View = "month" if args.month else "week"
    result = cal_ops.calendar(ctx.series_runner(), REGISTRY, ctx.now, view=view, day=day)

    def render(r: Result[Any]) -> None:
        print(r.message)
        if args.parts:
            assert r.data is not None
            for entry in r.data.entries:
                print(f"\n{entry.local:%a %d %b %H:%M} {entry.title}")
                for v in entry.versions:
                    lang = f" ({v.language})" if v.language else ""
                    print(
                        f"  {v.platform.value}{lang}: {v.state}{'' if v.fits else ', does NOT fit'} {v.note}"
                    )
                    for part in v.parts:
                        print("    │ " + part.replace("\n", "\n    │ "))

    return show(result, args, render)


def register(cli: Commands) -> None:
    p = cli.command("calendar", cmd_calendar, "everything the central account will post in a week or a month")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--week", action="store_true", help="the week, Monday to Sunday (the default)")
    group.add_argument("--month", action="store_true", help="the calendar month")
    p.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="a day in the week or month to show, as 2026-12-07 (default: today, community time zone)",
    )
    p.add_argument("--parts", action="store_true", help="print every part as each platform gets it")
    add_json_option(p)
