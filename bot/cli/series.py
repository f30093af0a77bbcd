"""``python -m bot opportunities|digest|interviews|schedule``: the weekly series from the shell."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from adapters.registry import REGISTRY, settings_class
from bot import config as config_mod
from bot import files, logs
from bot.cli.main import EXIT_ERROR, EXIT_OK, Commands, add_mode_option, file_mode, parse_when
from bot.clock import SystemClock
from bot.domain import Platform
from bot.errors import SeriesError
from bot.series.interview_chat import InterviewChat
from bot.series.interviews import (
    ANSWERED,
    AWAITING_CONSENT,
    INVITED,
    QUEUED,
    SCHEDULED,
    Interview,
    answers_template,
    check_fit,
)
from bot.series.opportunities import Opportunity, draft_from_mapping
from bot.series.runner import SeriesRunner
from bot.series.schedule import zone
from bot.series.templates import KINDS


@dataclass
class _Ctx:
    settings: config_mod.Settings
    runner: SeriesRunner
    now: datetime


def _ctx(args: argparse.Namespace) -> _Ctx:
    from bot.store.migrate import upgrade
    from bot.store.store import Store, engine_for

    settings = config_mod.load(config_mod.config_path(args.config), schemas=settings_class)
    logs.setup(args.log_format, args.log_level, list(settings.secrets))
    engine = engine_for(settings)
    upgrade(engine)
    clock = SystemClock()
    now = clock.now()
    store = Store.open(engine, settings.community.slug, settings.community.name, now)
    runner = SeriesRunner(store, {}, settings, clock, worker="cli", catalog=REGISTRY)
    return _Ctx(settings, runner, now)


def _curator(ctx: _Ctx, name: str) -> str:
    ctx.settings.curator(name)  # refuses names not in the config, listing the known ones
    return name


def _local(ctx: _Ctx, when: datetime, tz: str | None = None) -> str:
    at = when.astimezone(zone(tz or ctx.settings.series.timezone))
    return at.strftime("%a %Y-%m-%d %H:%M %Z")


# -- opportunities -----------------------------------------------------------------------------


def _opportunity_line(o: Opportunity, today: date, soon_days: int) -> str:
    if o.removed:
        note = "removed"
    elif o.deadline is None:
        note = "no deadline"
    elif o.deadline < today:
        note = f"closed {o.deadline}"
    else:
        note = f"closes {o.deadline}" + (" (closing soon)" if o.closing_soon(today, soon_days) else "")
    org = f" — {o.organisation}" if o.organisation else ""
    return f"{o.id:>5}  {o.kind:11} {note:30} {o.title}{org}\n{'':>7}{o.url}"


def cmd_opportunities_add(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    who = _curator(ctx, args.curator)
    draft = draft_from_mapping(
        {
            "title": args.title,
            "url": args.url,
            "kind": args.kind,
            "organisation": args.organisation,
            "deadline": args.deadline,
            "eligibility": args.eligibility,
            "language": args.language,
        },
        "opportunity",
        submitted_by=who,
        source="cli",
    )
    added = ctx.runner.opportunities.add(draft, ctx.now)
    o = added.opportunity
    if added.merged:
        print(f"#{o.id} already had that link; merged what was new: {o.title}")
    else:
        print(f"#{o.id} added: {o.title}")
    return EXIT_OK


def cmd_opportunities_import(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    who = _curator(ctx, args.curator) if args.curator else "import"
    report = ctx.runner.opportunities.import_file(args.file, submitted_by=who, now=ctx.now)
    print(f"{len(report.added)} added, {len(report.merged)} merged into entries with the same link")
    for o in report.merged:
        print(f"  merged into #{o.id}: {o.title}")
    return EXIT_OK


def cmd_opportunities_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    today = ctx.now.astimezone(zone(ctx.settings.series.timezone)).date()
    items = ctx.runner.opportunities.all(include_removed=args.all)
    if not args.all:
        items = [o for o in items if o.is_open(today)]
    if args.json:
        print(json.dumps([o.as_json() for o in items], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not items:
        print("No open opportunities." if not args.all else "No opportunities yet.")
        return EXIT_OK
    soon = ctx.settings.series.opportunities.closing_soon_days
    print(f"{'ID':>5}  {'KIND':11} {'DEADLINE':30} TITLE")
    for o in items:
        print(_opportunity_line(o, today, soon))
    return EXIT_OK


def cmd_opportunities_edit(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    _curator(ctx, args.curator)
    changes: dict[str, Any] = {}
    for name in ("title", "url", "kind", "organisation", "language"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.deadline is not None:
        changes["deadline"] = None if args.deadline in ("", "none") else _date(args.deadline)
    if args.eligibility is not None:
        changes["eligibility"] = [t.strip() for t in args.eligibility.split(",") if t.strip()]
    if not changes:
        raise SeriesError("nothing to change: give --title, --url, --deadline …")
    o = ctx.runner.opportunities.edit(args.id, ctx.now, **changes)
    print(f"#{o.id} updated: {o.title}")
    return EXIT_OK


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SeriesError(f"deadline: expected a date like 2026-04-01, got {text!r}") from None


def cmd_opportunities_remove(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    o = ctx.runner.opportunities.remove(args.id, _curator(ctx, args.curator), ctx.now)
    print(f"#{o.id} removed: it will not appear in future digests.")
    return EXIT_OK


# -- digest --------------------------------------------------------------------------------------


def cmd_digest_preview(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    platform = Platform(args.platform) if args.platform else None
    at = parse_when(args.at, ctx.now) if args.at else None
    previews = ctx.runner.preview(platform=platform, language=args.language, at=at)
    if not previews:
        print("Nothing to preview: no digest language or platform matches.")
        return EXIT_OK
    for i, p in enumerate(previews):
        if i:
            print()
        parts = p.digest.parts
        what = f"{len(parts)} part{'s' if len(parts) != 1 else ''}" if parts else "nothing is posted"
        rule = ctx.runner.rules.get(p.series)
        when = _local(ctx, p.slot, ctx.settings.series.zone_of(rule) if rule else None)
        print(f"=== {p.series} · {p.language} · {p.platform.value} · {when} · {what} ===")
        for j, part in enumerate(parts, 1):
            if len(parts) > 1:
                print(f"--- part {j} of {len(parts)} ---")
            print(part)
        for o in p.digest.left_out:
            print(f"(left out #{o.id}: too long for one {p.platform.value} post even shortened)")
    return EXIT_OK


# -- interviews ---------------------------------------------------------------------------------


def _interview_line(i: Interview, position: int | None = None) -> str:
    where = f" ({i.handle})" if i.handle else ""
    queue = f"#{position} in the queue" if position else i.state
    return f"{i.id:>5}  {queue:18} {i.language:3} {i.name}{where}"


def cmd_interviews_invite(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    who = _curator(ctx, args.curator)
    book = ctx.runner.interviews
    interview = book.invite(
        args.name,
        language=args.language or ctx.settings.community.languages[0],
        invited_by=who,
        now=ctx.now,
        handle=args.handle or "",
        platform=args.platform,
        member_ref=args.member_ref,
    )
    print(f"Interview #{interview.id} for {interview.name}. Send them this:\n")
    print(book.message(interview.id, "interview_invite"))
    template = answers_template(book, interview)
    if args.write:
        files.write_text(Path(args.write), template, file_mode(args, ctx.settings))
        print(f"\nAnswers file for them to fill in: {args.write}")
        print(f"Import it with: python -m bot interviews import {args.write}")
    return EXIT_OK


def cmd_interviews_import(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    who = _curator(ctx, args.curator) if args.curator else "import"
    for interview in ctx.runner.interviews.import_answers(args.file, invited_by=who, now=ctx.now):
        _print_state(ctx, interview)
    return EXIT_OK


def _print_state(ctx: _Ctx, interview: Interview) -> None:
    book = ctx.runner.interviews
    if interview.state == INVITED:
        missing = [q.id for q in ctx.settings.series.interviews.questions if not interview.answers.get(q.id)]
        print(f"#{interview.id} {interview.name}: still to answer: {', '.join(missing)}")
        return
    print(f"#{interview.id} {interview.name}: {interview.state}")
    if interview.text is not None and interview.state == ANSWERED:
        limits = ctx.runner.interview_limits(_interview_platforms(ctx))
        overflows = check_fit(interview.text, limits, book.sections(interview))
        print()
        print(interview.text)
        print()
        if overflows:
            print("Too long — edit it (interviews edit) before approving:")
            for o in overflows:
                print(f"  {o.describe()}")
        else:
            print(f"Fits every platform. Approve: python -m bot interviews approve {interview.id} --as NAME")


def _interview_platforms(ctx: _Ctx) -> list[Platform]:
    rules = [r for r in ctx.runner.rules.values() if r.kind == "interview"]
    platforms = {p for r in rules for p in ctx.runner.platforms(r)} if rules else None
    return sorted(platforms or ctx.settings.enabled_platforms(), key=lambda p: p.value)


def cmd_interviews_list(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    book = ctx.runner.interviews
    items = (
        book.in_states()
        if args.all
        else book.in_states([INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED])
    )
    if args.json:
        print(json.dumps([i.as_json() for i in items], ensure_ascii=False, indent=2))
        return EXIT_OK
    queued = [i for i in items if i.state == QUEUED]
    print("Queue (published oldest first, one per interview slot):")
    for n, i in enumerate(queued, 1):
        print(_interview_line(i, n))
    if not queued:
        print("  (empty: nothing confirmed yet)")
    for rule in (r for r in ctx.runner.rules.values() if r.kind == "interview"):
        slots = ctx.runner.schedule.rules[rule.name].next_after(ctx.now, 3)
        tz = ctx.settings.series.zone_of(rule)
        eligible = [i for i in queued if not rule.languages or i.language in rule.languages]
        shown = [
            f"{_local(ctx, at, tz)} → "
            + (f"#{eligible[k].id} {eligible[k].name}" if k < len(eligible) else "—")
            for k, at in enumerate(slots)
        ]
        print(f"Next {rule.name} slots: " + "; ".join(shown))
    others = [i for i in items if i.state != QUEUED]
    if others:
        print("\nIn progress:")
        for i in others:
            print(_interview_line(i))
    return EXIT_OK


def cmd_interviews_show(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    interview = ctx.runner.interviews.get(args.id)
    if args.json:
        print(json.dumps(interview.as_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(_interview_line(interview))
    for q, asked in ctx.runner.interviews.questions(interview):
        print(f"  {asked}\n    {interview.answers.get(q.id, '(no answer yet)')}")
    if interview.note:
        print(f"note: {interview.note}")
    _print_state(ctx, interview)
    if interview.state in (AWAITING_CONSENT, QUEUED) and interview.consent_text:
        print("\nText the member confirms:\n")
        print(interview.consent_text)
    return EXIT_OK


def cmd_interviews_edit(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    text = Path(args.file).read_text(encoding="utf-8") if args.file else args.text
    if not text:
        raise SeriesError("give the new text with --text or --file")
    interview = ctx.runner.interviews.edit(args.id, text, ctx.now, by=_curator(ctx, args.curator))
    _print_state(ctx, interview)
    return EXIT_OK


def cmd_interviews_approve(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    limits = ctx.runner.interview_limits(_interview_platforms(ctx))
    message = ctx.runner.interviews.approve(
        args.id, by=_curator(ctx, args.curator), now=ctx.now, limits=limits
    )
    chat = InterviewChat(ctx.runner.interviews, Platform.TELEGRAM)
    if chat.send_consent_request(args.id, message, ctx.now):
        print(f"#{args.id} approved. The member gets this in their private chat on Telegram:\n")
        print(message)
        print("\nTheir reply (yes, /confirm, or what to change) is recorded by the bot.")
        return EXIT_OK
    print(f"#{args.id} approved. Ask the member to confirm it; send them this:\n")
    print(message)
    print(f"\nWhen they confirm: python -m bot interviews confirm {args.id} --as NAME")
    return EXIT_OK


def cmd_interviews_confirm(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    who = _curator(ctx, args.curator)
    interview = ctx.runner.interviews.confirm(
        args.id, ctx.now, via=f"cli:{who}" + (f" ({args.via})" if args.via else "")
    )
    print(f"#{interview.id} confirmed by the member: it is in the queue.")
    return EXIT_OK


def cmd_interviews_decline(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    _curator(ctx, args.curator)
    interview = ctx.runner.interviews.decline(args.id, args.note, ctx.now)
    print(f"#{interview.id} is back with the curators: {args.note}")
    return EXIT_OK


def cmd_interviews_withdraw(args: argparse.Namespace) -> int:
    who = args.curator
    return asyncio.run(_withdraw(args, who))


async def _withdraw(args: argparse.Namespace, who: str) -> int:
    from bot.app import Coalesce

    settings = config_mod.load(config_mod.config_path(args.config), schemas=settings_class)
    logs.setup(args.log_format, args.log_level, list(settings.secrets))
    settings.curator(who)
    world = None
    if settings.sandbox.enabled:  # the demo's config: the platforms are its sandboxes
        from bot.cli.demo import world_for

        world = world_for(settings)
    app = Coalesce(settings, worker="cli", adapters=world.adapters(settings) if world else None)
    await app.start()
    try:
        interview, outcomes = await app.series.withdraw_interview(args.id, by=who)
    finally:
        await app.stop()
        if world is not None:
            world.stop()
    print(f"#{interview.id} withdrawn.")
    for o in outcomes:
        print(f"  {o.platform.value}: {o.state} {o.detail}".rstrip())
    pending = [o for o in outcomes if o.state != "withdrawn"]
    if pending:
        print("Some posts could not be deleted yet; every run of the bot tries again.")
        return EXIT_ERROR
    return EXIT_OK


# -- schedule ------------------------------------------------------------------------------------


def cmd_schedule(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    runner = ctx.runner
    if not runner.rules:
        print("No series on the schedule (series.schedule in the config).")
        return EXIT_OK
    upcoming = runner.schedule.upcoming(ctx.now, args.count)
    for name, rule in runner.rules.items():
        tz = ctx.settings.series.zone_of(rule)
        where = ", ".join(p.value for p in runner.platforms(rule)) or "no platform"
        langs = ", ".join(runner.languages(rule)) if rule.kind == "digest" else "each interview's own"
        print(f"{name} ({rule.kind}) — {rule.cron} in {tz}; on {where}; languages: {langs}")
        for at in upcoming[name]:
            print(f"  {_local(ctx, at, tz)}   ({at:%Y-%m-%d %H:%M} UTC)")
        last = runner.publisher.rows(series=name) + [
            r for e in runner.editions(rule) if e.key != name for r in runner.publisher.rows(series=e.key)
        ]
        if last:
            latest = max(r.slot for r in last)
            states = ", ".join(f"{r.platform.value}: {r.state}" for r in last if r.slot == latest)
            print(f"  last slot {_local(ctx, latest, tz)}: {states}")
    return EXIT_OK


# -- registration ------------------------------------------------------------------------------


def register(cli: Commands) -> None:
    add = cli.command
    opp = cli.group("opportunities", "the opportunity list the weekly digest is made from")
    a = add("add", cmd_opportunities_add, "add an opportunity (the same link twice merges into one)", opp)
    a.add_argument("--title", required=True)
    a.add_argument("--url", required=True)
    a.add_argument("--kind", default="other", choices=KINDS)
    a.add_argument("--organisation", "--org", dest="organisation", default="")
    a.add_argument("--deadline", help="YYYY-MM-DD; leave out for none")
    a.add_argument("--eligibility", help="comma-separated: students,residents,faculty")
    a.add_argument("--language", help="the language the opportunity is in (en, es…)")
    a.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
    i = add("import", cmd_opportunities_import, "add every opportunity in a YAML file", opp)
    i.add_argument("file")
    i.add_argument("--as", dest="curator")
    ls = add("list", cmd_opportunities_list, "open opportunities, soonest deadline first", opp)
    ls.add_argument("--all", action="store_true", help="include closed and removed ones")
    ls.add_argument("--json", action="store_true")
    e = add("edit", cmd_opportunities_edit, "correct an opportunity", opp)
    e.add_argument("id", type=int)
    for name in ("title", "url", "organisation", "language", "eligibility"):
        e.add_argument(f"--{name}")
    e.add_argument("--kind", choices=KINDS)
    e.add_argument("--deadline", help="YYYY-MM-DD, or none")
    e.add_argument("--as", dest="curator", required=True)
    r = add("remove", cmd_opportunities_remove, "take an opportunity off the list", opp)
    r.add_argument("id", type=int)
    r.add_argument("--as", dest="curator", required=True)

    dig = cli.group("digest", "the weekly opportunity digest")
    p = add("preview", cmd_digest_preview, "print exactly what the next digest would post", dig)
    p.add_argument("--platform", choices=[x.value for x in Platform])
    p.add_argument("--language")
    p.add_argument("--at", help="as published at this time (2026-03-09T09:00, 3d…) instead of the next slot")

    iv = cli.group("interviews", "the mini-interviews: invite, collect, approve, confirm, queue")
    inv = add("invite", cmd_interviews_invite, "invite a member; prints the invitation to send", iv)
    inv.add_argument("--name", required=True, help="the member's name as it will appear")
    inv.add_argument("--handle", help="their handle, shown in the post (@maria@med.example)")
    inv.add_argument("--platform", choices=[x.value for x in Platform], help="where they are reached")
    inv.add_argument("--member-ref", help="their id on that platform (a Telegram user id)")
    inv.add_argument("--language", help="the language they answer in (default: the community's first)")
    inv.add_argument("--write", help="also write an answers file for them to fill in")
    add_mode_option(inv)
    inv.add_argument("--as", dest="curator", required=True)
    imp = add("import", cmd_interviews_import, "import answers from a YAML file", iv)
    imp.add_argument("file")
    imp.add_argument("--as", dest="curator")
    il = add("list", cmd_interviews_list, "the queue, the next slots, and interviews in progress", iv)
    il.add_argument("--all", action="store_true", help="include published and withdrawn ones")
    il.add_argument("--json", action="store_true")
    sh = add("show", cmd_interviews_show, "one interview: answers, text, whether it fits", iv)
    sh.add_argument("id", type=int)
    sh.add_argument("--json", action="store_true")
    ed = add("edit", cmd_interviews_edit, "replace the text (the member confirms again)", iv)
    ed.add_argument("id", type=int)
    ed.add_argument("--text")
    ed.add_argument("--file")
    ed.add_argument("--as", dest="curator", required=True)
    ap = add("approve", cmd_interviews_approve, "approve the text; prints the message asking consent", iv)
    ap.add_argument("id", type=int)
    ap.add_argument("--as", dest="curator", required=True)
    co = add("confirm", cmd_interviews_confirm, "record that the member confirmed the text", iv)
    co.add_argument("id", type=int)
    co.add_argument("--via", help="how they confirmed (email, DM…), for the record")
    co.add_argument("--as", dest="curator", required=True)
    de = add("decline", cmd_interviews_decline, "the member asked for changes", iv)
    de.add_argument("id", type=int)
    de.add_argument("--note", required=True)
    de.add_argument("--as", dest="curator", required=True)
    wd = add("withdraw", cmd_interviews_withdraw, "withdraw; deletes its posts on every platform", iv)
    wd.add_argument("id", type=int)
    wd.add_argument("--as", dest="curator", required=True)

    sc = add("schedule", cmd_schedule, "the next slots of every series, and how the last one went")
    sc.add_argument("--count", type=int, default=3, help="slots per series (default 3)")
