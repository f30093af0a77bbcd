"""``python -m bot freeze|unfreeze``: the curators' emergency stop from the command line, the
same switch as /freeze in the curators' Telegram group (kept in the database: every worker obeys)."""

from __future__ import annotations

import argparse

from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.ops import safety


def cmd_freeze(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    return show(safety.freeze(ctx.store, ctx.settings, ctx.curator(args.curator), ctx.now), args)


def cmd_unfreeze(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    return show(safety.unfreeze(ctx.store, ctx.settings, ctx.curator(args.curator), ctx.now), args)


def register(cli: Commands) -> None:
    for name, fn, text in (
        ("freeze", cmd_freeze, "stop all amplification at once, on every platform and every worker"),
        ("unfreeze", cmd_unfreeze, "let approved posts go out again"),
    ):
        p = cli.command(name, fn, text)
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
        add_json_option(p)
