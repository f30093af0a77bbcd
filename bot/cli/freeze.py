"""``python -m bot freeze|unfreeze``: the curators' emergency stop from the command line, the
same switch as /freeze in the curators' Telegram group (kept in the database: every worker obeys)."""

from __future__ import annotations

import argparse

from bot.cli.main import EXIT_OK, Commands, _queue


def _switch(args: argparse.Namespace, frozen: bool) -> int:
    from bot.clock import SystemClock
    from bot.curation.amplifier import Amplifier

    queue, now = _queue(args)
    curator = queue.settings.curator(args.curator).name  # names the known curators if unknown
    amplifier = Amplifier(queue.store, {}, queue.settings, SystemClock())
    changed = amplifier.freeze(curator, now, frozen=frozen)
    if frozen:
        print(
            "Amplification is frozen: nothing is boosted, copied or spotlighted until `unfreeze`."
            if changed
            else "Amplification was already frozen."
        )
    else:
        print("Amplification is back on." if changed else "Amplification was not frozen.")
    return EXIT_OK


def cmd_freeze(args: argparse.Namespace) -> int:
    return _switch(args, True)


def cmd_unfreeze(args: argparse.Namespace) -> int:
    return _switch(args, False)


def register(cli: Commands) -> None:
    for name, fn, text in (
        ("freeze", cmd_freeze, "stop all amplification at once, on every platform and every worker"),
        ("unfreeze", cmd_unfreeze, "let approved posts go out again"),
    ):
        p = cli.command(name, fn, text)
        p.add_argument("--as", dest="curator", required=True, help="your curator name, as in the config")
