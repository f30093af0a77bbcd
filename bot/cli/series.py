"""``python -m bot opportunities|digest|interviews|schedule``: the weekly series from the shell.

Each command calls one operation of :mod:`bot.ops` and prints its result (``--json``: as JSON)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.cli.context import load_settings, open_context, platform_adapters, setup_logs
from bot.cli.main import Commands, add_mode_option, file_mode, parse_when
from bot.cli.present import add_json_option, show
from bot.config import Settings
from bot.domain import Platform
from bot.ops import digest as digest_ops
from bot.ops import interviews as interview_ops
from bot.ops import opportunities as opportunity_ops
from bot.ops import schedule as schedule_ops
from bot.ops import series_messages as say
from bot.ops.result import Result, usage
from bot.ops.series_common import not_a_curator, read_input, write_all, write_failed
from bot.progress import Progress
from bot.series.runner import SeriesRunner
from bot.series.templates import KINDS
from bot.store.store import Store


@dataclass
class _Ctx:
    """What the series commands work with: the one command context, and the series runner on it."""

    settings: Settings
    store: Store
    now: datetime
    runner: SeriesRunner


def _ctx(args: argparse.Namespace) -> _Ctx:
    ctx = open_context(args)
    return _Ctx(ctx.settings, ctx.store, ctx.now, ctx.series_runner())


def _show(result: Result[Any], args: argparse.Namespace) -> int:
    return show(result, args)


# -- opportunities -----------------------------------------------------------------------------


def cmd_opportunities_add(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    result = opportunity_ops.add(
        ctx.store,
        ctx.settings,
        ctx.now,
        args.curator,
        title=args.title,
        url=args.url,
        kind=args.kind,
        organisation=args.organisation,
        deadline=args.deadline,
        eligibility=args.eligibility,
        language=args.language,
    )
    return _show(result, args)


def cmd_opportunities_import(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    progress = Progress.for_terminal()
    return _show(
        opportunity_ops.import_file(ctx.store, ctx.settings, ctx.now, args.curator, args.file, progress), args
    )


def cmd_opportunities_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(opportunity_ops.listing(ctx.store, ctx.settings, ctx.now, include_closed=args.all), args)


def cmd_opportunities_edit(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    changes = {name: getattr(args, name) for name in opportunity_ops.EDITABLE}
    return _show(opportunity_ops.edit(ctx.store, ctx.settings, ctx.now, args.curator, args.id, changes), args)


def cmd_opportunities_remove(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(opportunity_ops.remove(ctx.store, ctx.settings, ctx.now, args.curator, args.id), args)


# -- digest --------------------------------------------------------------------------------------


def cmd_digest_preview(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    platform = Platform(args.platform) if args.platform else None
    at = parse_when(args.at, ctx.now) if args.at else None
    return _show(digest_ops.preview(ctx.runner, platform=platform, language=args.language, at=at), args)


# -- interviews ---------------------------------------------------------------------------------


def cmd_interviews_invite(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    result = interview_ops.invite(
        ctx.store,
        ctx.settings,
        ctx.now,
        args.curator,
        name=args.name,
        language=args.language,
        handle=args.handle or "",
        platform=args.platform,
        member_ref=args.member_ref,
    )
    if args.write and result.data is not None:
        try:
            write_all([(Path(args.write), result.data.answers_template)], file_mode(args, ctx.settings))
        except OSError as exc:
            return _show(write_failed(exc), args)
        result = Result(result.outcome, result.message + "\n" + _answers_file(args.write), result.data)
    return _show(result, args)


def _answers_file(path: str) -> str:
    return say.answers_file(path)


def cmd_interviews_import(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    progress = Progress.for_terminal()
    return _show(interview_ops.import_answers(ctx.runner, ctx.now, args.curator, args.file, progress), args)


def cmd_interviews_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(interview_ops.listing(ctx.runner, ctx.now, include_done=args.all), args)


def cmd_interviews_show(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(interview_ops.show(ctx.runner, args.id), args)


def cmd_interviews_edit(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    if args.file:
        read = read_input(args.file)
        if isinstance(read, Result):
            return _show(usage(f"--file: {read.message}"), args)
        text = read
    else:
        text = args.text or ""
    return _show(interview_ops.edit(ctx.runner, ctx.now, args.curator, args.id, text), args)


def cmd_interviews_approve(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(interview_ops.approve(ctx.runner, ctx.now, args.curator, args.id), args)


def cmd_interviews_confirm(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(interview_ops.confirm(ctx.runner, ctx.now, args.curator, args.id, args.via or ""), args)


def cmd_interviews_decline(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(interview_ops.decline(ctx.runner, ctx.now, args.curator, args.id, args.note), args)


def cmd_interviews_withdraw(args: argparse.Namespace) -> int:
    return asyncio.run(_withdraw(args))


async def _withdraw(args: argparse.Namespace) -> int:
    from bot.app import Coalesce

    settings = load_settings(args)
    setup_logs(args, list(settings.secrets))
    if (problem := not_a_curator(settings, args.curator)) is not None:
        return _show(problem, args)  # before connecting to any platform
    with platform_adapters(settings) as adapters:
        app = Coalesce(settings, worker="cli", adapters=adapters)
        await app.start()
        try:
            result = await interview_ops.withdraw(app.series, args.curator, args.id)
        finally:
            await app.stop()
    return _show(result, args)


# -- schedule ------------------------------------------------------------------------------------


def cmd_schedule(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    return _show(schedule_ops.upcoming(ctx.runner, ctx.now, args.count), args)


# -- registration ------------------------------------------------------------------------------

CURATOR_HELP = "your curator name, as in the config (recorded as who did it)"


def _as(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="curator", required=True, help=CURATOR_HELP)


def _id(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("id", type=int, help=f"the {what}'s number, as the list shows it")


def register(cli: Commands) -> None:
    add = cli.command
    platforms = [x.value for x in Platform]
    opp = cli.group("opportunities", "the opportunity list the weekly digest is made from")
    a = add("add", cmd_opportunities_add, "add an opportunity (the same link twice merges into one)", opp)
    a.add_argument("--title", required=True, help="what it is, as the digest shows it")
    a.add_argument("--url", required=True, help="the web link to it (tracking parameters are removed)")
    a.add_argument("--kind", default="other", choices=KINDS, help="what kind of opportunity (default: other)")
    a.add_argument("--organisation", "--org", dest="organisation", default="", help="who offers it")
    a.add_argument(
        "--deadline", help="last day to apply, YYYY-MM-DD; leave out for none (a past one is warned about)"
    )
    a.add_argument("--eligibility", help="who may apply, comma-separated: students,residents,faculty")
    a.add_argument("--language", help="the language the opportunity is in (en, es…)")
    _as(a)
    add_json_option(a)
    i = add(
        "import",
        cmd_opportunities_import,
        "add every opportunity in a YAML file, or none if any is wrong",
        opp,
    )
    i.add_argument("file", help="a YAML list of opportunities (title, url, kind, deadline…)")
    _as(i)
    add_json_option(i)
    ls = add("list", cmd_opportunities_list, "open opportunities, soonest deadline first", opp)
    ls.add_argument("--all", action="store_true", help="include closed and removed ones")
    add_json_option(ls)
    e = add("edit", cmd_opportunities_edit, "correct an opportunity (only the fields given change)", opp)
    _id(e, "opportunity")
    e.add_argument("--title", help="the new title")
    e.add_argument("--url", help="the new link")
    e.add_argument("--organisation", "--org", dest="organisation", help="who offers it")
    e.add_argument("--language", help="the language it is in (en, es…)")
    e.add_argument("--eligibility", help="who may apply, comma-separated (replaces the old list)")
    e.add_argument("--kind", choices=KINDS, help="what kind of opportunity")
    e.add_argument("--deadline", help="YYYY-MM-DD, or none to clear it")
    _as(e)
    add_json_option(e)
    r = add("remove", cmd_opportunities_remove, "take an opportunity off the list", opp)
    _id(r, "opportunity")
    _as(r)
    add_json_option(r)

    dig = cli.group("digest", "the weekly opportunity digest")
    p = add("preview", cmd_digest_preview, "print exactly what the next digest would post", dig)
    p.add_argument("--platform", choices=platforms, help="only this platform's edition")
    p.add_argument("--language", help="only this language's edition (en, es…)")
    p.add_argument("--at", help="as published at this time (2026-03-09T09:00, 3d…) instead of the next slot")
    add_json_option(p)

    iv = cli.group("interviews", "the mini-interviews: invite, collect, approve, confirm, queue")
    inv = add("invite", cmd_interviews_invite, "invite a member; prints the invitation to send", iv)
    inv.add_argument("--name", required=True, help="the member's name as it will appear")
    inv.add_argument("--handle", help="their handle, shown in the post (@maria@med.example)")
    inv.add_argument("--platform", choices=platforms, help="where they are reached")
    inv.add_argument("--member-ref", help="their id on that platform (a Telegram user id)")
    inv.add_argument("--language", help="the language they answer in (default: the community's first)")
    inv.add_argument("--write", metavar="FILE", help="also write an answers file for them to fill in")
    add_mode_option(inv)
    _as(inv)
    add_json_option(inv)
    imp = add("import", cmd_interviews_import, "import answers from a YAML file, or none if any is wrong", iv)
    imp.add_argument("file", help="an answers file (as invite --write makes), or a list of them")
    _as(imp)
    add_json_option(imp)
    il = add("list", cmd_interviews_list, "the queue, the next slots, and interviews in progress", iv)
    il.add_argument("--all", action="store_true", help="include published and withdrawn ones")
    add_json_option(il)
    sh = add("show", cmd_interviews_show, "one interview: answers, text, whether it fits", iv)
    _id(sh, "interview")
    add_json_option(sh)
    ed = add("edit", cmd_interviews_edit, "replace the text (the member confirms again)", iv)
    _id(ed, "interview")
    ed.add_argument("--text", help="the new text")
    ed.add_argument("--file", help="a file holding the new text")
    _as(ed)
    add_json_option(ed)
    ap = add("approve", cmd_interviews_approve, "approve the text; prints the message asking consent", iv)
    _id(ap, "interview")
    _as(ap)
    add_json_option(ap)
    co = add("confirm", cmd_interviews_confirm, "record that the member confirmed the text", iv)
    _id(co, "interview")
    co.add_argument("--via", help="how they confirmed (email, DM…), for the record")
    _as(co)
    add_json_option(co)
    de = add("decline", cmd_interviews_decline, "the member asked for changes", iv)
    _id(de, "interview")
    de.add_argument("--note", required=True, help="what they want changed")
    _as(de)
    add_json_option(de)
    wd = add("withdraw", cmd_interviews_withdraw, "withdraw; deletes its posts on every platform", iv)
    _id(wd, "interview")
    _as(wd)
    add_json_option(wd)

    sc = add(
        "schedule", cmd_schedule, "the next slots of every series, where each goes, and how the last one went"
    )
    sc.add_argument("--count", type=int, default=3, help="slots per series (default 3)")
    add_json_option(sc)
