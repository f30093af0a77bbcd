"""``python -m bot``: run the bot, work the queue, check the config, migrate, or try the demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import re
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from adapters.registry import settings_class
from bot import config as config_mod
from bot import logs
from bot.errors import CoalesceError, ConfigError, QueueError

log = logging.getLogger("bot")

Command = Callable[[argparse.Namespace], int]

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def _settings(args: argparse.Namespace) -> config_mod.Settings:
    return config_mod.load(config_mod.config_path(args.config), schemas=settings_class)


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


def _setup_logs(args: argparse.Namespace, secrets: Sequence[str] = ()) -> None:
    logs.setup(args.log_format, args.log_level, secrets)


# -- run ---------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _setup_logs(args, list(settings.secrets))
    for warning in settings.warnings():
        log.warning("config: %s", warning)
    return asyncio.run(_run(settings, args))


async def _run(settings: config_mod.Settings, args: argparse.Namespace) -> int:
    from bot.app import Coalesce

    world = None
    adapters = None
    if settings.sandbox.enabled:
        from bot.cli.demo import world_for

        world = world_for(settings)
        adapters = world.adapters(settings)
        print(f"sandbox: platforms are emulated on loopback ({world.mastodon.base_url})")
    app = Coalesce(settings, adapters=adapters, dry_run=args.dry_run, worker=args.worker_id)
    try:
        await app.start()
        if args.once:
            report = await app.run_once()
            for platform, result in report.ingested.items():
                queued = len(result.candidates)
                print(f"{platform.value}: {result.stored} new posts, {queued} queued for curators")
            for platform, error in report.errors.items():
                print(f"{platform.value}: could not watch ({error})")
            for o in report.outcomes:
                where = f"#{o.candidate_id} {o.platform.value} {o.action.value}"
                print(f"{where}: {o.detail} {o.url or ''}".rstrip())
            for p in report.published:
                slot = f"{p.series} {p.slot:%Y-%m-%d %H:%M} UTC {p.platform.value}"
                print(f"{slot}: {p.state} {p.url or p.detail}".rstrip())
            return EXIT_ERROR if report.errors and not report.ingested else EXIT_OK
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("running", extra={"community": settings.community.slug, "worker": app.worker})
        await app.run(stop)
        log.info("stopping", extra={"community": settings.community.slug})
        return EXIT_OK
    finally:
        await app.stop()
        if world is not None:
            world.stop()


# -- queue -------------------------------------------------------------------------------------


def _queue(args: argparse.Namespace) -> Any:
    from bot.curation.queue import Queue
    from bot.store.store import Store, engine_for

    settings = _settings(args)
    _setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    _ensure_schema(engine)
    now = datetime.now(UTC)
    store = Store.open(engine, settings.community.slug, settings.community.name, now)
    return Queue(store, settings), now


def _ensure_schema(engine: Any) -> None:
    from bot.store.migrate import upgrade

    upgrade(engine)


def _age(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _note(c: Any, now: datetime) -> str:
    if c.state == "pending" and c.approvals_required > 1:
        return f"{c.approvals} of {c.approvals_required} approvals"
    if c.state == "snoozed" and c.snoozed_until:
        return f"until {c.snoozed_until:%Y-%m-%d %H:%M} UTC"
    if c.state == "failed":
        return f"failed: {c.last_error}"
    if c.state == "approved" and c.last_error and c.last_error.startswith("waiting: "):
        later = f" (next look {c.next_attempt_at:%Y-%m-%d %H:%M} UTC)" if c.next_attempt_at else ""
        return f"{c.last_error}{later}"  # held by the last look before amplifying: it says why
    if c.state == "approved" and c.last_error:
        return f"retrying ({c.attempts}): {c.last_error}"
    if c.reason == "nomination":
        return f"nominated by {c.nominated_by}"
    return ""


def cmd_queue_list(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    items = queue.list(args.state, limit=args.limit, everything=args.all)
    if args.json:
        print(json.dumps([c.as_json() for c in items], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not items:
        print(f"Nothing is {args.state}." if args.state else "Nothing waits: the queue is empty.")
        return EXIT_OK
    print(f"{'ID':>5}  {'STATE':9} {'WHERE':9} {'AUTHOR':28} {'AGE':>4}  TEXT")
    for c in items:
        text = " ".join(c.text.split())
        text = text[:60] + "…" if len(text) > 61 else text
        note = _note(c, now)
        age = _age(c.posted_at, now)
        line = f"{c.id:>5}  {c.state:9} {c.platform:9} {c.author_handle[:28]:28} {age:>4}  {text}"
        print(line + (f"\n{'':>7}↳ {note}" if note else ""))
    counts = queue.counts()
    print("\nopen: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing"))
    return EXIT_OK


def cmd_queue_show(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    c = queue.show(args.id)
    if args.json:
        print(json.dumps(c.as_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"#{c.id} · {c.state} · {c.platform} · queued {_age(c.queued_at, now)} ago ({c.reason})")
    print(f"{c.author_name} ({c.author_handle}) posted {_age(c.posted_at, now)} ago: {c.url}")
    if c.content_warning:
        print(f"content warning: {c.content_warning}")
    if c.is_reply:
        print("this is a reply")
    if c.quoted_handle:
        print(f"quotes a post by {c.quoted_handle}")
    from bot.curation.flags import view_flags

    for flag in view_flags(queue.settings.trust.flags, c, now):
        print(f"⚑ {flag.text}")
    print()
    print(textwrap.indent(textwrap.fill(c.text, 88, replace_whitespace=False), "  "))
    print()
    note = _note(c, now)
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
    return EXIT_OK


def _decided(c: Any) -> str:
    if c.state == "pending":
        tally = f"{c.approvals} of {c.approvals_required}"
        return f"#{c.id}: your approval is recorded ({tally}); it needs another curator."
    if c.state == "approved":
        return f"#{c.id} approved: the central account will amplify it at its next turn."
    if c.state == "rejected":
        return f"#{c.id} rejected. It will not be amplified."
    if c.state == "snoozed":
        return f"#{c.id} snoozed until {c.snoozed_until:%Y-%m-%d %H:%M} UTC."
    return f"#{c.id} is now {c.state}."


def cmd_queue_approve(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    print(_decided(queue.approve(args.id, args.curator, now, args.reason)))
    return EXIT_OK


def cmd_queue_reject(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    print(_decided(queue.reject(args.id, args.curator, now, args.reason)))
    return EXIT_OK


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
        raise QueueError(
            f"cannot read {text!r} as a time: try 2h, 3d, tomorrow or 2026-12-01T09:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_queue_snooze(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    print(_decided(queue.snooze(args.id, args.curator, parse_when(args.until, now), now)))
    return EXIT_OK


def cmd_queue_retry(args: argparse.Namespace) -> int:
    queue, now = _queue(args)
    c = queue.retry(args.id, args.curator, now)
    print(f"#{c.id} goes back to the amplifier.")
    return EXIT_OK


# -- config, db, demo ------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    platforms = ", ".join(p.value for p in settings.enabled_platforms()) or "no platforms"
    tags = " ".join("#" + t for t in settings.community.hashtags)
    print(f"config OK: {settings.community.name} watches {tags} on {platforms}")
    for warning in settings.warnings():
        print(f"warning: {warning}")
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.store.migrate import upgrade
    from bot.store.store import engine_for

    settings = _settings(args)
    _setup_logs(args, list(settings.secrets))
    engine = engine_for(settings)
    applied = upgrade(engine)
    print(f"database migrated ({', '.join(applied)})" if applied else "database is already up to date")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_demo

    _setup_logs(args)
    logging.getLogger().setLevel(logging.WARNING)  # the demo narrates; logs only for trouble
    return run_demo(Path(args.dir))


# -- parser ------------------------------------------------------------------------------------

# Feature modules that add commands: each has ``register(cli: Commands) -> None``.
EXTENSIONS: list[str] = ["bot.cli.report", "bot.cli.trust", "bot.cli.series", "bot.cli.freeze"]
EXTENSIONS += ["bot.cli.conference"]  # conference mode and scheduled chats


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
    run.add_argument(
        "--worker-id", help="name of this worker (default: $COALESCE_WORKER_ID, $DYNO or host name)"
    )

    qsub = cli.group("queue", "see and decide the curation queue")
    qlist = add(
        "list", cmd_queue_list, "list the open work (pending, snoozed, approved, failed), oldest first", qsub
    )
    qlist.add_argument(
        "--state",
        choices=["pending", "snoozed", "approved", "rejected", "amplified", "failed", "expired", "withdrawn"],
    )
    qlist.add_argument("--all", action="store_true", help="every state, decided and done ones too")
    qlist.add_argument("--json", action="store_true", help="machine-readable output")
    qlist.add_argument("--limit", type=int, default=50)
    qshow = add("show", cmd_queue_show, "one candidate with its text, decisions and amplifications", qsub)
    qshow.add_argument("id", type=int)
    qshow.add_argument("--json", action="store_true")
    for name, fn, text in (
        ("approve", cmd_queue_approve, "approve a candidate for amplification"),
        ("reject", cmd_queue_reject, "reject a candidate"),
    ):
        p = add(name, fn, text, qsub)
        p.add_argument("id", type=int)
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
        p.add_argument("--reason", help="a note for the audit log")
    qsnooze = add("snooze", cmd_queue_snooze, "put a candidate aside until later", qsub)
    qsnooze.add_argument("id", type=int)
    qsnooze.add_argument("--until", required=True, help="2h, 3d, tomorrow, or 2026-12-01T09:00")
    qsnooze.add_argument("--as", dest="curator", required=True)
    qretry = add("retry", cmd_queue_retry, "send a failed candidate back to the amplifier", qsub)
    qretry.add_argument("id", type=int)
    qretry.add_argument("--as", dest="curator", required=True)

    add("check-config", cmd_check_config, "validate the config file and exit 0 (valid) or 2 (not)")
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
