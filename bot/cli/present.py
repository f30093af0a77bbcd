"""How a command shows an operation's `Result`: its message (done on stdout; refused or usage on
stderr, saying which), or with ``--json`` the result as JSON on stdout; the exit code is the
result's own (0 done, 1 refused, 2 usage or configuration)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bot.ops.result import Outcome, Result

CONFIGURATION = "configuration: "


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON (outcome, message, data), numbers as numbers",
    )


def show(
    result: Result[Any],
    args: argparse.Namespace | None = None,
    render: Callable[[Result[Any]], None] | None = None,
) -> int:
    """Print ``result`` the way the person asked and return its exit code: with ``--json`` the whole
    result; else the message (or what ``render`` prints for a done result) on stdout, a refusal or a
    usage error on stderr, saying which."""
    if args is not None and getattr(args, "json", False):
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return result.exit_code
    if result.outcome is Outcome.DONE:
        if render is not None:
            render(result)
        else:
            print(result.message)
    elif result.outcome is Outcome.REFUSED:
        print(f"cannot do that: {result.message}", file=sys.stderr)
    elif result.message.startswith(CONFIGURATION):
        print(f"configuration error: {result.message.removeprefix(CONFIGURATION)}", file=sys.stderr)
    else:
        print(f"usage error: {result.message}", file=sys.stderr)
    return result.exit_code
