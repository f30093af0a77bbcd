"""Run the benchmarks and print one table (or one JSON object with ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys

from bench.registry import GROUPS, load_all


def main(argv: list[str] | None = None) -> int:
    load_all()
    figures = {f.name: f for g in GROUPS.values() for f in g.figures}
    parser = argparse.ArgumentParser(prog="python -m bench", description="Measure Coalesce's figures.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="figures to measure (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    args = parser.parse_args(argv)
    if args.list:
        for f in figures.values():
            print(f"{f.name:32} {f.unit:10} target {f.target}")
        return 0
    unknown = [n for n in args.names if n not in figures]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}; see --list")
    wanted = set(args.names) or set(figures)
    results: dict[str, dict[str, object]] = {}
    for g in GROUPS.values():
        if not wanted & {f.name for f in g.figures}:
            continue
        print(f"measuring {g.name}…", file=sys.stderr)
        values = g.measure()
        # Every figure the run measured is printed: a group measures its figures together, so
        # the ones not asked for come free (marked as such).
        for f in g.figures:
            if f.name in values:
                results[f.name] = {
                    "value": values[f.name],
                    "unit": f.unit,
                    "target": f.target,
                    "asked": f.name in wanted,
                }
        declared = {f.name for f in g.figures}
        for name, value in values.items():
            if name not in declared:  # measured though no figure names it: shown all the same
                results[name] = {"value": value, "unit": "", "target": "", "asked": False}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'figure':32} {'value':>12}  {'unit':10} target")
        for name, r in results.items():
            value = r["value"]
            shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
            also = "" if r["asked"] else "  (also measured, not asked for)"
            print(f"{name:32} {shown:>12}  {r['unit']!s:10} {r['target']}{also}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
