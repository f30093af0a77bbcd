"""``python -m bot conferences meetup add|list|remove``: meet-ups at a conference, announced
through the same publishing path as the highlights. Each command only presents a bot.ops result."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.ops import meetups as ops
from bot.ops.result import Result


def _show(result: Result[Any], args: argparse.Namespace, lines: list[str] | None = None) -> int:
    def render(done: Result[Any]) -> None:
        print("\n".join([done.message, *(lines or [])]))

    if getattr(args, "json", False):
        data: Any = result.data
        shown: Any = [x.as_json() for x in data] if isinstance(data, list) else data and data.as_json()
        result = Result(result.outcome, result.message, shown)
    return show(result, args, render)


def cmd_meetup_add(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    fields = ops.MeetupFields(
        tag=args.tag, at=args.at, place=args.place, ribbon=args.ribbon, announce=args.announce
    )
    return _show(ops.add_meetup(ctx.store, ctx.settings, fields, by=args.curator, now=ctx.now), args)


def cmd_meetup_list(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    result = ops.list_meetups(ctx.store, tag=args.tag)
    lines = [
        f"  #{x.id:<3} #{x.tag}  {x.local(x.at):%a %Y-%m-%d %H:%M} ({x.timezone})  {x.place}\n"
        f"        ribbon: {x.ribbon}\n"
        f"        announced {x.local(x.announce_at):%a %Y-%m-%d %H:%M} as slot {x.series}"
        for x in result.data or []
    ]
    return _show(result, args, lines)


def cmd_meetup_remove(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    return _show(ops.remove_meetup(ctx.store, ctx.settings, args.id, by=args.curator, now=ctx.now), args)


def register_under(cli: Commands, conferences: Any) -> None:
    """The ``meetup`` actions under the ``conferences`` group."""
    text = "meet-ups at a conference: an announcement with the place, the time and the ribbon"
    group = conferences.add_parser("meetup", help=text, description=text)
    meetup = group.add_subparsers(dest="meetup_command", required=True, metavar="ACTION")
    a = cli.command("add", cmd_meetup_add, "schedule a meet-up and its announcement", meetup)
    a.add_argument("--tag", required=True, help="the conference's tag, like ACSCC27")
    a.add_argument("--at", required=True, metavar="'YYYY-MM-DD HH:MM'", help="local time of the meet-up")
    a.add_argument("--place", required=True, help="where, as members will look for it")
    a.add_argument("--ribbon", required=True, help="how to find the ribbon (who wears it, where)")
    a.add_argument(
        "--announce",
        metavar="'YYYY-MM-DD HH:MM'",
        help="local time of the announcement (default: three hours before)",
    )
    a.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
    add_json_option(a)
    ls = cli.command("list", cmd_meetup_list, "the meet-ups on the schedule", meetup)
    ls.add_argument("--tag", help="only this conference's")
    add_json_option(ls)
    rm = cli.command("remove", cmd_meetup_remove, "call a meet-up off (its announcement is not made)", meetup)
    rm.add_argument("id", type=int, help="the meet-up's number, as meetup list shows it")
    rm.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
    add_json_option(rm)
