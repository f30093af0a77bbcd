"""``python -m bot compose``: write an original post or thread for the central account, see it as
each platform will, approve, reject, schedule or cancel it, and list what is written. Each action
calls one operation of :mod:`bot.ops.originals` and prints its result (``--json``: as JSON)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapters.registry import REGISTRY
from bot.cli.context import Context, open_context
from bot.cli.main import Commands, parse_when
from bot.cli.present import add_json_option, show
from bot.errors import QueueError, UsageError
from bot.ops import original_messages as say
from bot.ops import originals as ops
from bot.ops.result import Result
from bot.ops.series_common import read_input
from bot.series.originals import STATES


def _deps(args: argparse.Namespace) -> tuple[Context, ops.Deps]:
    ctx = open_context(args)
    return ctx, ops.Deps(ctx.store, ctx.settings, REGISTRY)


def _text(args: argparse.Namespace) -> str:
    """The text given on the command line, or read from ``--file`` (``-``: standard input)."""
    if args.file is not None and args.text is not None:
        raise UsageError("give the text or --file, not both")
    if args.file == "-":
        return sys.stdin.read()
    if args.file is not None:
        read = read_input(args.file)
        if isinstance(read, Result):
            raise UsageError(read.message)
        return read
    if args.text is None:
        raise UsageError("give the text, or --file with it (- reads standard input)")
    return str(args.text)


def _when(args: argparse.Namespace, ctx: Context) -> Any:
    if getattr(args, "at", None) is None:
        return None
    try:
        return parse_when(args.at, ctx.now)
    except QueueError as exc:
        raise UsageError(str(exc)) from None


def _render_preview(fits: Any) -> None:
    for f in fits:
        print(say.fit_line(f))
        for i, part in enumerate(f.parts, 1):
            mark = "" if part.fits else "  ← too long"
            print(f"  ── {i}/{len(f.parts)} ({part.length}){mark}")
            for line in part.shown.splitlines() or [""]:
                print(f"  │ {line}")


def _show_original(result: Result[Any], args: argparse.Namespace) -> int:
    def render(r: Result[Any]) -> None:
        assert r.data is not None
        print(r.message.splitlines()[0])
        _render_preview(r.data.preview.platforms)

    return show(result, args, render if getattr(args, "parts", False) else None)


def cmd_new(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    result = ops.new(
        deps,
        ctx.now,
        ctx.curator(args.curator),
        _text(args),
        platforms=args.platform,
        at=_when(args, ctx),
        send_now=args.now,
        approve=args.approve,
    )
    return _show_original(result, args)


def cmd_edit(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    result = ops.edit(deps, ctx.now, ctx.curator(args.curator), args.id, _text(args), platforms=args.platform)
    return _show_original(result, args)


def cmd_preview(args: argparse.Namespace) -> int:
    _, deps = _deps(args)
    result = ops.preview(deps, _text(args), args.platform)

    def render(r: Result[Any]) -> None:
        assert r.data is not None
        _render_preview(r.data.platforms)
        for problem in r.data.problems:
            print(f"! {problem}")

    return show(result, args, render)


def cmd_show(args: argparse.Namespace) -> int:
    _, deps = _deps(args)
    args.parts = True
    return _show_original(ops.show(deps, args.id), args)


def cmd_approve(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    return show(ops.approve(deps, ctx.now, ctx.curator(args.curator), args.id, reason=args.reason), args)


def cmd_reject(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    return show(ops.reject(deps, ctx.now, ctx.curator(args.curator), args.id, reason=args.reason), args)


def cmd_cancel(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    return show(ops.cancel(deps, ctx.now, ctx.curator(args.curator), args.id, reason=args.reason), args)


def cmd_schedule(args: argparse.Namespace) -> int:
    ctx, deps = _deps(args)
    curator = ctx.curator(args.curator)
    return show(ops.schedule(deps, ctx.now, curator, args.id, at=_when(args, ctx), send_now=args.now), args)


def cmd_list(args: argparse.Namespace) -> int:
    _, deps = _deps(args)
    return show(ops.listing(deps, states=args.state or (), limit=args.limit), args)


def _text_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "text",
        nargs="?",
        help="the post; a line holding only --- starts the next post of a thread",
    )
    p.add_argument("--file", metavar="PATH", help="read the text from a UTF-8 file (- reads standard input)")
    p.add_argument(
        "--platform",
        action="append",
        metavar="NAME",
        help="publish on this platform only (repeat for several; default: every enabled platform)",
    )


def _when_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--at", metavar="WHEN", help="when it goes out: 2h, 3d, tomorrow, or 2026-12-01T09:00 (UTC)"
    )
    group.add_argument("--now", action="store_true", help="send it as soon as it is approved")


def register(cli: Commands) -> None:
    sub = cli.group("compose", "write original posts and threads for the central account")
    curator_help = "your curator name, as in the config"
    id_help = "the original post's number (#ID in compose list)"

    new = cli.command("new", cmd_new, "write a post or thread (it then needs the curators' approvals)", sub)
    _text_options(new)
    _when_options(new, required=False)
    new.add_argument("--approve", action="store_true", help="give your own approval with it")
    new.add_argument("--parts", action="store_true", help="print each part as each platform gets it")

    edit = cli.command("edit", cmd_edit, "change the text: approvals given before count no more", sub)
    edit.add_argument("id", type=int, help=id_help)
    _text_options(edit)
    edit.add_argument("--parts", action="store_true", help="print each part as each platform gets it")

    preview = cli.command(
        "preview", cmd_preview, "show a text as each platform would get it, and if it fits", sub
    )
    _text_options(preview)

    shown = cli.command("show", cmd_show, "one original post: where it stands, its parts per platform", sub)
    shown.add_argument("id", type=int, help=id_help)

    for name, fn, text in (
        ("approve", cmd_approve, "approve an original post"),
        ("reject", cmd_reject, "reject an original post"),
        ("cancel", cmd_cancel, "withdraw an original post before it is published"),
    ):
        p = cli.command(name, fn, text, sub)
        p.add_argument("id", type=int, help=id_help)
        p.add_argument("--reason", help="a note for the audit log")
        p.add_argument("--as", dest="curator", required=True, help=curator_help)
        add_json_option(p)

    schedule = cli.command("schedule", cmd_schedule, "choose when an original post goes out", sub)
    schedule.add_argument("id", type=int, help=id_help)
    _when_options(schedule, required=True)
    schedule.add_argument("--as", dest="curator", required=True, help=curator_help)

    listed = cli.command("list", cmd_list, "the original posts, newest first", sub)
    listed.add_argument(
        "--state", action="append", choices=STATES, help="only those in this state (repeatable)"
    )
    listed.add_argument("--limit", type=int, default=50, help="how many to list (default 50)")

    for p in (new, edit):
        p.add_argument("--as", dest="curator", required=True, help=curator_help)
    for p in (new, edit, preview, shown, schedule, listed):
        add_json_option(p)
