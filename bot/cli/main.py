"""``python -m bot``: run the bot, work the queue, check the config, migrate, or try the demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import re
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot import config as config_mod
from bot import logs
from bot.cli.context import Context, load_settings, open_context, setup_logs
from bot.cli.present import add_json_option, show
from bot.domain import CandidateState, is_number_handle, shown_name
from bot.errors import CoalesceError, ConfigError, QueueError, UsageError
from bot.memory import limit_arenas, release_freed
from bot.ops import messages
from bot.ops import queue as q_ops
from bot.ops.result import Outcome, Result, done, usage

if TYPE_CHECKING:
    from bot.app import CycleReport
    from bot.curation.queue import CandidateView, Queue

log = logging.getLogger("bot")

Command = Callable[[argparse.Namespace], int]

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2  # done, refused, usage or config error
RELEASE_SECONDS = 300.0  # how often a long run hands freed memory back (bot.memory)


def file_mode(args: argparse.Namespace, settings: config_mod.Settings) -> int:
    """The mode of the files a command writes: ``--mode`` if given, else ``files.mode`` (600)."""
    from bot.files import parse_mode

    given = getattr(args, "mode", None)
    return parse_mode(given, "--mode") if given else settings.files.file_mode


def add_mode_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        metavar="OCTAL",
        help="who may read the files written (default: files.mode in the config, 600: you only)",
    )


# -- run ---------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    setup_logs(args, list(settings.secrets))
    for warning in settings.warnings():
        log.warning("config: %s", warning)
    limit_arenas()  # before the first worker thread starts
    return asyncio.run(_run(settings, args))


async def _release_freed_every(seconds: float) -> None:
    """Hand what the allocator holds free back to the system now and then: a long run's bursts
    (a page tour, a day's posts) would otherwise stay resident until the process ends."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(release_freed)


def _cycle_result(report: CycleReport) -> Result[dict[str, Any]]:
    """What one cycle of ``run --once`` did, in words and as data (numbers as numbers); refused
    when no platform could be watched at all."""
    lines: list[str] = []
    for platform, result in report.ingested.items():
        lines.append(
            f"{platform.value}: {result.stored} new posts, {len(result.candidates)} queued for curators"
        )
    for platform, error in report.errors.items():
        lines.append(f"{platform.value}: could not watch ({error})")
    for o in report.outcomes:
        lines.append(
            f"#{o.candidate_id} {o.platform.value} {o.action.value}: {o.detail} {o.url or ''}".rstrip()
        )
    for p in [*report.published, *report.gatherings]:
        slot = f"{p.series} {p.slot:%Y-%m-%d %H:%M} UTC {p.platform.value}"
        lines.append(f"{slot}: {p.state} {p.url or p.detail}".rstrip())
    data: dict[str, Any] = {
        "ingested": {
            p.value: {"stored": r.stored, "queued": len(r.candidates)} for p, r in report.ingested.items()
        },
        "errors": {p.value: e for p, e in report.errors.items()},
        "amplifications": [
            {
                "candidate": o.candidate_id,
                "platform": o.platform.value,
                "action": o.action.value,
                "ok": o.ok,
                "detail": o.detail,
                "url": o.url,
            }
            for o in report.outcomes
        ],
        "published": [
            {"series": p.series, "slot": p.slot, "platform": p.platform.value, "state": p.state, "url": p.url}
            for p in [*report.published, *report.gatherings]
        ],
    }
    if report.errors and not report.ingested:
        return Result(Outcome.REFUSED, "\n".join(lines), data)
    return done("\n".join(lines) or "Nothing to do this cycle.", data)


async def _run(settings: config_mod.Settings, args: argparse.Namespace) -> int:
    from bot.app import Coalesce

    world = None
    adapters = None
    stop = asyncio.Event()
    if not args.once:
        # From the first moment: a host that stops the worker while it starts gets a clean stop.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    if settings.sandbox.enabled:
        from bot.cli.demo import world_for

        world = world_for(settings)
        adapters = world.adapters(settings)
        where = sys.stderr if getattr(args, "json", False) else sys.stdout
        print(f"sandbox: platforms are emulated on loopback ({world.mastodon.base_url})", file=where)
    # A long run migrates in a child process: Alembic would stay in its memory for good otherwise.
    # One cycle (``--once``) ends soon and migrates in itself, as every other command does.
    app = Coalesce(
        settings, adapters=adapters, dry_run=args.dry_run, worker=args.worker_id, migrate=args.once
    )
    try:
        if not args.once:
            from bot.store.migrate import upgrade_apart

            await asyncio.to_thread(upgrade_apart, settings.database.url, settings.files.file_mode)
        await app.start()
        if args.once:
            return show(_cycle_result(await app.run_once()), args)
        release_freed()  # what start-up freed
        app.spawn(_release_freed_every(RELEASE_SECONDS), "release-freed")
        log.info("running", extra={"community": settings.community.slug, "worker": app.worker})
        await app.run(stop)
        log.info("stopping", extra={"community": settings.community.slug})
        return EXIT_OK
    finally:
        await app.stop()
        if world is not None:
            world.stop()


# -- queue -------------------------------------------------------------------------------------


def _queue(args: argparse.Namespace) -> tuple[Context, Queue]:
    from bot.curation.queue import Queue

    ctx = open_context(args)
    return ctx, Queue(ctx.store, ctx.settings)


def _print_listing(result: Result[q_ops.Listing], now: datetime) -> None:
    listing = result.data
    assert listing is not None
    if not listing.items:
        print(result.message)
    else:
        print(f"{'ID':>5}  {'STATE':9} {'WHERE':9} {'AUTHOR':28} {'AGE':>4}  TEXT")
    for c in listing.items:
        text = " ".join(c.text.split())
        text = text[:60] + "…" if len(text) > 61 else text
        note = messages.queue_note(c, now)
        age = messages.age(c.posted_at, now)
        who = shown_name(c.author_handle, c.author_name)
        line = f"{c.id:>5}  {c.state:9} {c.platform:9} {who[:28]:28} {age:>4}  {text}"
        print(line + (f"\n{'':>7}↳ {note}" if note else ""))
    if listing.items or listing.limit <= 0:
        print("\n" + messages.open_counts(listing.counts))
    if listing.frozen:
        print(messages.frozen_since(None, None))


def cmd_queue_list(args: argparse.Namespace) -> int:
    ctx, queue = _queue(args)
    result = q_ops.list_queue(queue, state=args.state, limit=args.limit, everything=args.all)
    return show(result, args, lambda r: _print_listing(r, ctx.now))


def cmd_queue_show(args: argparse.Namespace) -> int:
    from bot.curation.flags import view_flags

    ctx, queue = _queue(args)
    result = q_ops.show(queue, args.id)

    def render(result: Result[CandidateView]) -> None:
        c, now = result.data, ctx.now
        assert c is not None
        age = messages.age
        print(f"#{c.id} · {c.state} · {c.platform} · queued {age(c.queued_at, now)} ago ({c.reason})")
        # a Telegram member without a username by name alone: her number is no name to show
        who = shown_name(c.author_handle, c.author_name)
        who = who if is_number_handle(c.author_handle) else f"{c.author_name} ({c.author_handle})"
        print(f"{who} posted {age(c.posted_at, now)} ago: {c.url}")
        if c.content_warning:
            print(f"content warning: {c.content_warning}")
        if c.is_reply:
            print("this is a reply")
        if c.quoted_handle:
            print(f"quotes a post by {c.quoted_handle}")
        for flag in view_flags(ctx.settings.trust.flags, c, now):
            print(f"⚑ {flag.text}")
        print()
        print(textwrap.indent(textwrap.fill(c.text, 88, replace_whitespace=False), "  "))
        print()
        note = messages.queue_note(c, now)
        if note:
            print(note)
        for d in c.decisions:
            print(f"  {d.at:%Y-%m-%d %H:%M} {d.curator} {d.action}" + (f": {d.reason}" if d.reason else ""))
        for a in c.amplifications:
            print(
                f"  {a.platform} {a.action}: {a.state}"
                + (f" {a.url}" if a.url else "")
                + (f" ({a.error})" if a.error else "")
            )

    return show(result, args, render)


def cmd_queue_approve(args: argparse.Namespace) -> int:
    ctx, queue = _queue(args)
    return show(q_ops.approve(queue, args.id, ctx.curator(args.curator), ctx.now, reason=args.reason), args)


def cmd_queue_reject(args: argparse.Namespace) -> int:
    ctx, queue = _queue(args)
    curator = ctx.curator(args.curator)
    if len(args.ids) == 1:
        return show(q_ops.reject(queue, args.ids[0], curator, ctx.now, reason=args.reason), args)
    return show(q_ops.reject_many(queue, args.ids, curator, ctx.now, reason=args.reason), args)


def parse_when(text: str, now: datetime) -> datetime:
    """``2h``, ``30m``, ``3d``, ``tomorrow`` or an ISO date/time (UTC unless it says otherwise)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return now + timedelta(**{unit: float(m.group(1))})
    if text.strip() == "tomorrow":
        return (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueueError(messages.unreadable_time(text)) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_queue_snooze(args: argparse.Namespace) -> int:
    ctx, queue = _queue(args)
    curator = ctx.curator(args.curator)
    try:
        until = parse_when(args.until, ctx.now)
    except QueueError as exc:
        raise UsageError(str(exc)) from None
    return show(q_ops.snooze(queue, args.id, curator, until, ctx.now), args)


def cmd_queue_retry(args: argparse.Namespace) -> int:
    ctx, queue = _queue(args)
    return show(q_ops.retry(queue, args.id, ctx.curator(args.curator), ctx.now), args)


# -- config, db, demo ------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        if not args.json:
            raise  # main prints it as every command does: "config error: …", exit 2
        return show(usage(f"config error: {exc}"), args)
    platforms = [p.value for p in settings.enabled_platforms()]
    tags = " ".join("#" + t for t in settings.community.hashtags)
    watched = ", ".join(platforms) or "no platforms"
    lines = [f"config OK: {settings.community.name} watches {tags} on {watched}"]
    lines += [f"warning: {warning}" for warning in settings.warnings()]
    data = {
        "community": settings.community.slug,
        "hashtags": list(settings.community.hashtags),
        "platforms": platforms,
        "warnings": list(settings.warnings()),
    }
    return show(done("\n".join(lines), data), args)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.store.migrate import upgrade
    from bot.store.store import engine_for

    settings = load_settings(args)
    setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    applied = upgrade(engine)
    print(f"database migrated ({', '.join(applied)})" if applied else "database is already up to date")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_demo

    setup_logs(args)
    logging.getLogger().setLevel(logging.WARNING)  # the demo narrates; logs only for trouble
    return run_demo(Path(args.dir))


# -- parser ------------------------------------------------------------------------------------

# Feature modules that add commands: each has ``register(cli: Commands) -> None``.
EXTENSIONS: list[str] = ["bot.cli.report", "bot.cli.trust", "bot.cli.series", "bot.cli.freeze"]
EXTENSIONS += ["bot.cli.conference"]  # conference mode and scheduled chats
EXTENSIONS += ["bot.cli.compose", "bot.cli.calendar"]  # original posts, what goes out when
EXTENSIONS += ["bot.cli.audit"]  # the audit log
EXTENSIONS += ["bot.cli.web"]  # the curators' web console


class Commands:
    """What a feature module gets to add its commands with the same options and help style."""

    def __init__(self, sub: Any, common: argparse.ArgumentParser) -> None:
        self.sub = sub
        self.common = common

    def command(self, name: str, fn: Command, help_text: str, parent: Any = None) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = (parent or self.sub).add_parser(
            name, help=help_text, description=help_text, parents=[self.common]
        )
        p.set_defaults(func=fn)
        return p

    def group(self, name: str, help_text: str) -> Any:
        """A command with actions under it (``python -m bot NAME ACTION``)."""
        p = self.sub.add_parser(name, help=help_text, description=help_text)
        return p.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        help="config file (default: $COALESCE_CONFIG, then ./config.yaml)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--log-format", choices=["line", "json"], default=argparse.SUPPRESS, help="log line format"
    )
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING…")

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Coalesce runs a community's central account: it watches the hashtag, "
        "queues posts for curators, and amplifies what they approve.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cli = Commands(sub, common)
    add = cli.command

    run = add("run", cmd_run, "watch the platforms and amplify approved posts until stopped (SIGTERM)")
    run.add_argument(
        "--once", action="store_true", help="do one cycle (watch, queue, amplify what is due) and exit"
    )
    run.add_argument("--dry-run", action="store_true", help="watch and queue, but amplify nothing")
    add_json_option(run)  # with --once: what the cycle did, as JSON
    run.add_argument(
        "--worker-id", help="name of this worker (default: $COALESCE_WORKER_ID, $DYNO or host name)"
    )

    qsub = cli.group("queue", "see and decide the curation queue")
    qlist = add(
        "list", cmd_queue_list, "list the open work (pending, snoozed, approved, failed), oldest first", qsub
    )
    qlist.add_argument("--state", choices=[s.value for s in CandidateState], help="only this state")
    qlist.add_argument("--all", action="store_true", help="every state, decided and done ones too")
    add_json_option(qlist)
    qlist.add_argument(
        "--limit", type=int, default=50, metavar="N", help="list at most N candidates (default: 50)"
    )
    qshow = add("show", cmd_queue_show, "one candidate with its text, decisions and amplifications", qsub)
    qshow.add_argument("id", type=int, help="the candidate's number (#ID in queue list)")
    add_json_option(qshow)
    curator_help = "your curator name, as in the config"
    approve = add("approve", cmd_queue_approve, "approve a candidate for amplification", qsub)
    approve.add_argument("id", type=int, help="the candidate's number (#ID in queue list)")
    reject = add("reject", cmd_queue_reject, "reject one candidate, or several at once (a spam wave)", qsub)
    reject.add_argument("ids", type=int, nargs="+", metavar="ID", help="the candidates' numbers")
    for p in (approve, reject):
        p.add_argument("--as", dest="curator", required=True, help=curator_help)
        p.add_argument("--reason", help="a note for the audit log")
        add_json_option(p)
    qsnooze = add("snooze", cmd_queue_snooze, "put a candidate aside until later", qsub)
    qsnooze.add_argument("id", type=int, help="the candidate's number (#ID in queue list)")
    qsnooze.add_argument("--until", required=True, help="2h, 3d, tomorrow, or 2026-12-01T09:00 (UTC)")
    qretry = add("retry", cmd_queue_retry, "send a failed candidate back to the amplifier", qsub)
    qretry.add_argument("id", type=int, help="the failed candidate's number")
    for p in (qsnooze, qretry):
        p.add_argument("--as", dest="curator", required=True, help=curator_help)
        add_json_option(p)

    check = add("check-config", cmd_check_config, "validate the config file and exit 0 (valid) or 2 (not)")
    add_json_option(check)
    dbsub = cli.group("db", "database maintenance")
    add("upgrade", cmd_db_upgrade, "create or migrate the database schema", dbsub)

    demo = add(
        "demo", cmd_demo, "run Coalesce against built-in sandboxes of the platforms, no accounts needed"
    )
    demo.add_argument("--dir", default="coalesce-demo", help="where to leave the demo's config and database")
    for module in EXTENSIONS:
        importlib.import_module(module).register(cli)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("config", None), ("log_format", "line"), ("log_level", "INFO")):
        if not hasattr(args, name):
            setattr(args, name, default)
    func: Command = args.func
    try:
        return func(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except QueueError as exc:
        print(f"cannot do that: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except CoalesceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SQLAlchemyError as exc:  # the database is down or refuses us: one line, no traceback
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"database error: {logs.Redactor().clean(reason)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
