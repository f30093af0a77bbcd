"""``python -m bot report``, ``members`` and ``refresh``: the community in numbers, the member
directory, and one round of fetching the numbers from the platforms."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main as cli
from bot.cli.context import open_context, platform_adapters
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.config import Settings
from bot.domain import Platform
from bot.ops import members as members_ops
from bot.ops import report as report_ops
from bot.progress import Progress
from bot.store.store import Store


def _store(args: argparse.Namespace) -> tuple[Settings, Store]:
    ctx = open_context(args)
    return ctx.settings, ctx.store


def when(text: str) -> str:
    """A date word as typed, once it is known to read (the period is worked out when it runs)."""
    try:
        return report_ops.check_days(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


# -- report ------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    try:
        result = report_ops.report(
            store,
            settings,
            datetime.now(UTC),
            since=args.since,
            until=args.until,
            csv=_path(args.csv),
            chart=_path(args.chart),
            html=_path(args.html),
            mode=cli.file_mode(args, settings),
            progress=Progress.for_terminal(),
        )
    finally:
        store.engine.dispose()
    return show(result, args)


# -- members -----------------------------------------------------------------------------------


def cmd_members_list(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    return show(report_ops.members(store, settings, platform=args.platform, limit=args.limit), args)


def cmd_members_search(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    return show(members_ops.search(store, settings, args.text, limit=args.limit), args)


def cmd_members_export(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    mode = cli.file_mode(args, settings)
    return show(
        report_ops.export_members(store, settings, Path(args.csv), platform=args.platform, mode=mode), args
    )


def _mark(args: argparse.Namespace, organisation: bool) -> int:
    settings, store = _store(args)
    result = report_ops.mark(
        store, settings, args.curator, args.who, organisation=organisation, platform=args.platform
    )
    return show(result, args)


def cmd_members_mark(args: argparse.Namespace) -> int:
    return _mark(args, True)


def cmd_members_unmark(args: argparse.Namespace) -> int:
    return _mark(args, False)


# -- refresh -----------------------------------------------------------------------------------


def cmd_refresh(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    return asyncio.run(_refresh(settings, store, args))


async def _refresh(settings: Settings, store: Store, args: argparse.Namespace) -> int:
    from bot.clock import SystemClock

    with platform_adapters(settings) as adapters:
        try:
            for adapter in adapters.values():
                await adapter.start()
            result = await report_ops.refresh(
                store, adapters, settings, SystemClock(), Progress.for_terminal()
            )
        finally:
            for adapter in adapters.values():
                await adapter.close()
            store.engine.dispose()
    return show(result, args)


# -- registration ------------------------------------------------------------------------------


def register(commands: Commands) -> None:
    add = commands.command
    rep = add(
        "report",
        cmd_report,
        "the community in numbers for a period: a table, and optionally CSV, a chart and an HTML page",
    )
    words = "2026-03-01, 2026-03, yesterday, 30d, last-week, last-month… (UTC days)"
    rep.add_argument(
        "--since",
        type=when,
        help=f"first day of the period: {words}; leave --since and --until out for the last full month",
    )
    rep.add_argument(
        "--until",
        type=when,
        help="last day of the period, included (default: the end of a month or week named by "
        "--since, otherwise now)",
    )
    rep.add_argument("--csv", metavar="FILE", help="also write every figure as rows for a spreadsheet")
    rep.add_argument("--chart", metavar="FILE.png", help="also draw weekly posts, authors and followers")
    rep.add_argument("--html", metavar="FILE", help="also write one self-contained page to share")
    cli.add_mode_option(rep)
    add_json_option(rep)

    platforms = [p.value for p in Platform]
    choices = "{" + ",".join(platforms) + "}"
    msub = commands.group("members", "the member directory: everyone who used the hashtag or was amplified")
    mlist = add("list", cmd_members_list, "list members, the most recently seen first", msub)
    mlist.add_argument(
        "--platform",
        type=Platform,
        choices=list(Platform),
        metavar=choices,
        help="only members on this platform",
    )
    mlist.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    add_json_option(mlist)
    msearch = add(
        "search",
        cmd_members_search,
        "find members by handle or name on every platform: consent, linked accounts, marks",
        msub,
    )
    msearch.add_argument("text", help="part of a handle, a name or an account id")
    msearch.add_argument("--limit", type=int, default=50, help="at most this many people (default 50)")
    add_json_option(msearch)
    mexport = add("export", cmd_members_export, "write the directory to a CSV file", msub)
    mexport.add_argument("--csv", required=True, metavar="FILE", help="the CSV file to write")
    cli.add_mode_option(mexport)
    mexport.add_argument(
        "--platform",
        type=Platform,
        choices=list(Platform),
        metavar=choices,
        help="only members on this platform",
    )
    add_json_option(mexport)
    for name, fn, text in (
        ("mark", cmd_members_mark, "count a member as an organisation"),
        ("unmark", cmd_members_unmark, "count a member as an individual, whatever their flags say"),
    ):
        p = add(name, fn, text, msub)
        p.add_argument("who", help="handle as `members list` shows it, or the platform's account id")
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
        p.add_argument(
            "--platform",
            type=Platform,
            choices=list(Platform),
            metavar=choices,
            help="the member's platform, when the handle is on several",
        )
        add_json_option(p)

    ref = add(
        "refresh",
        cmd_refresh,
        "fetch engagement, follower counts, follows and the members lists from the platforms, once",
    )
    add_json_option(ref)
