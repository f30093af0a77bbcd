"""``python -m bot report``, ``members`` and ``refresh``: the community in numbers, the member
directory, and one round of fetching the numbers from the platforms."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import files
from bot.cli import main as cli
from bot.cli.main import EXIT_OK, Commands
from bot.domain import Platform
from bot.progress import Progress

EXIT_USAGE = 2  # as argparse exits on a bad option


def _store(args: argparse.Namespace) -> tuple[Any, Any]:
    from bot.store.store import Store, engine_for

    settings = cli._settings(args)
    cli._setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    cli._ensure_schema(engine)
    store = Store.open(engine, settings.community.slug, settings.community.name, datetime.now(UTC))
    return settings, store


def when(text: str, *, end: bool = False) -> datetime:
    """``2026-03-01`` (midnight UTC; as an end, the whole day is included) or an ISO time."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a date: try 2026-03-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _until(text: str) -> datetime:
    return when(text, end=True)


# -- report ------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from bot.report import render
    from bot.report.compute import build_report

    settings, store = _store(args)
    until = args.until or datetime.now(UTC)
    if until <= args.since:
        print("cannot do that: --until must come after --since", file=sys.stderr)
        return EXIT_USAGE
    report = build_report(store, settings, args.since, until, progress=Progress.for_terminal())
    store.engine.dispose()
    print(render.terminal(report))
    written = []
    mode = cli.file_mode(args, settings)
    if args.csv:
        render.write_csv(report, Path(args.csv), mode)
        written.append(args.csv)
    chart_png = None
    if args.chart or args.html:
        from bot.report import chart

        chart_png = chart.png(report)
    if args.chart:
        files.write_bytes(Path(args.chart), chart_png or b"", mode)
        written.append(args.chart)
    if args.html:
        files.write_text(Path(args.html), render.html_page(report, chart_png), mode)
        written.append(args.html)
    if written:
        print("\nwrote " + ", ".join(written))
    return EXIT_OK


# -- members -----------------------------------------------------------------------------------


def cmd_members_list(args: argparse.Namespace) -> int:
    from bot.report import directory

    settings, store = _store(args)
    found = directory.members(store, settings, platform=args.platform, limit=args.limit)
    if args.json:
        print(json.dumps([m.row() for m in found.members], ensure_ascii=False, indent=2))
        return EXIT_OK
    if found.members:
        print(directory.table(found.members))
        print()
    print(directory.summary(found))
    return EXIT_OK


def cmd_members_export(args: argparse.Namespace) -> int:
    from bot.report import directory

    settings, store = _store(args)
    found = directory.members(store, settings, platform=args.platform)
    n = directory.export_csv(found, Path(args.csv), cli.file_mode(args, settings))
    print(f"wrote {n} members to {args.csv}; {directory.summary(found)}")
    return EXIT_OK


def _mark(args: argparse.Namespace, organisation: bool) -> int:
    from bot.report import directory

    settings, store = _store(args)
    member = directory.mark(
        store, settings, args.who, organisation=organisation, curator=args.curator, platform=args.platform
    )
    kind = "an organisation" if member.organisation else "an individual"
    print(f"{member.handle} ({member.platform}) now counts as {kind}.")
    return EXIT_OK


def cmd_members_mark(args: argparse.Namespace) -> int:
    return _mark(args, True)


def cmd_members_unmark(args: argparse.Namespace) -> int:
    return _mark(args, False)


# -- refresh -----------------------------------------------------------------------------------


def cmd_refresh(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    return asyncio.run(_refresh(settings, store))


async def _refresh(settings: Any, store: Any) -> int:
    from adapters.registry import create_adapter
    from bot.clock import SystemClock
    from bot.report.refresh import Refresher

    world = None
    if settings.sandbox.enabled:  # the demo's config: the platforms are its sandboxes
        from bot.cli.demo import world_for

        world = world_for(settings)
        adapters = world.adapters(settings)
    else:
        adapters = {p: create_adapter(p, settings) for p in settings.enabled_platforms()}
    try:
        for adapter in adapters.values():
            await adapter.start()
        refresher = Refresher(store, adapters, settings, SystemClock(), progress=Progress.for_terminal())
        results = await refresher.run_once()
    finally:
        for adapter in adapters.values():
            await adapter.close()
        store.engine.dispose()
        if world is not None:
            world.stop()
    for platform, r in results.items():
        said = [f"{r.engagement} posts' engagement", f"{r.follows_checked} accounts' follows"]
        if r.followers is not None:
            said.append(f"{r.followers:,} followers")
        if r.list_sync is not None:
            s = r.list_sync
            said.append(
                f"members list +{s.added} -{s.removed}"
                + (f" ({len(s.pending)} waiting)" if s.pending else "")
            )
        line = f"{platform.value}: " + ", ".join(said)
        if r.skipped:
            line += f"; not available here: {', '.join(r.skipped)}"
        if r.error:
            line += f"; stopped early: {r.error}"
        print(line)
    return EXIT_OK


# -- registration ------------------------------------------------------------------------------


def register(commands: Commands) -> None:
    add = commands.command
    rep = add(
        "report",
        cmd_report,
        "the community in numbers for a period: a table, and optionally CSV, a chart and an HTML page",
    )
    rep.add_argument("--since", type=when, required=True, help="first day, e.g. 2026-03-01 (UTC)")
    rep.add_argument("--until", type=_until, help="last day, included (default: now)")
    rep.add_argument("--csv", metavar="FILE", help="also write every figure as rows for a spreadsheet")
    rep.add_argument("--chart", metavar="FILE.png", help="also draw weekly posts, authors and followers")
    rep.add_argument("--html", metavar="FILE", help="also write one self-contained page to share")
    cli.add_mode_option(rep)

    platforms = [p.value for p in Platform]
    msub = commands.group("members", "the member directory: everyone who used the hashtag or was amplified")
    mlist = add("list", cmd_members_list, "list members, the most recently seen first", msub)
    mlist.add_argument(
        "--platform", type=Platform, choices=list(Platform), metavar="{" + ",".join(platforms) + "}"
    )
    mlist.add_argument("--limit", type=int, default=100)
    mlist.add_argument("--json", action="store_true", help="machine-readable output")
    mexport = add("export", cmd_members_export, "write the directory to a CSV file", msub)
    mexport.add_argument("--csv", required=True, metavar="FILE")
    cli.add_mode_option(mexport)
    mexport.add_argument(
        "--platform", type=Platform, choices=list(Platform), metavar="{" + ",".join(platforms) + "}"
    )
    for name, fn, text in (
        ("mark", cmd_members_mark, "count a member as an organisation"),
        ("unmark", cmd_members_unmark, "count a member as an individual, whatever their flags say"),
    ):
        p = add(name, fn, text, msub)
        p.add_argument("who", help="handle as `members list` shows it, or the platform's account id")
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
        p.add_argument(
            "--platform", type=Platform, choices=list(Platform), metavar="{" + ",".join(platforms) + "}"
        )

    add(
        "refresh",
        cmd_refresh,
        "fetch engagement, follower counts, follows and the members lists from the platforms, once",
    )
