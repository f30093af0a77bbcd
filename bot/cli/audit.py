"""``python -m bot audit``: the audit log — decisions, consent changes, blocks, freezes and the
series' steps, who and when — filtered, newest first, read-only."""

from __future__ import annotations

import argparse

from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.cli.report import when
from bot.ops import audit


def cmd_audit(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    result = audit.log(
        ctx.store,
        ctx.settings,
        ctx.now,
        kinds=args.kind or (),
        actor=args.by,
        member=args.member,
        since=args.since,
        until=args.until,
        limit=args.limit,
        offset=args.offset,
    )
    return show(result, args)


def register(commands: Commands) -> None:
    p = commands.command(
        "audit", cmd_audit, "the audit log: who decided, blocked, froze or changed consent, and when"
    )
    p.add_argument("--kind", action="append", choices=audit.KINDS, help="only this kind (repeat for several)")
    p.add_argument("--by", metavar="NAME", help="only what this curator (or 'member', 'system') did")
    p.add_argument("--member", metavar="HANDLE", help="only what concerns this member (every linked account)")
    words = "2026-03-01, 2026-03, yesterday, 30d, last-week… (UTC days)"
    p.add_argument("--since", type=when, help=f"from this day on: {words}")
    p.add_argument("--until", type=when, help="up to this day, included")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N entries (default 50)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the newest N (the next page)")
    add_json_option(p)
