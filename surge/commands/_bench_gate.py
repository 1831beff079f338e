"""`surge bench gate`: power and false alarms of `surge loadtest ab`, proxy overhead, change-point
recall on real noise -> results/bench/gate.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path("results/bench/gate.json")


def _run(args: argparse.Namespace) -> int:
    from loadtests.shapes.profile import parse_duration_s
    from surge.bench.gate import measure_gate, write

    if args.aa < 1 or args.reps < 1:
        raise ValueError("--aa and --reps must be >= 1")
    result = measure_gate(
        aa=args.aa,
        reps=args.reps,
        budget_s=parse_duration_s(args.budget),
        aa_budget_s=parse_duration_s(args.aa_budget),
        echo=lambda line: print(line, file=sys.stderr),
    )
    out = Path(args.out)
    write(result, out)
    fa = result["false_alarms"]
    print(f"false alarms: {fa['alarms']}/{fa['decisions']} A/A decisions, 95 % CI {fa['ci95']}")
    for p in result["power"]:
        print(f"power {p['kind']:<5} x{p['factor']:<5} {p['detected']}/{p['decisions']} "
              f"= {p['power']:.2f}, 95 % CI {p['ci95']}")  # fmt: skip
    for route, o in result["proxy_overhead"].items():
        print(f"proxy overhead {route:<13} x{o['ratio_p50']} [{o['low']}, {o['high']}]")
    for step, c in (result["change_points"] or {}).items():
        print(f"change points {step}: recall {c['recall']} {c['recall_ci95']}, precision "
              f"{c['precision']}, delay {c['mean_delay_commits']} commits")  # fmt: skip
    print(f"written to {out}", file=sys.stderr)
    return 0


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "gate",
        help="power and false alarms of the A/B gate, proxy overhead, change-point recall",
        description=__doc__,
    )
    parser.add_argument("--aa", type=int, default=60, help="A/A decisions (default 60)")
    parser.add_argument("--reps", type=int, default=10,
                        help="decisions per slow-down factor and kind (default 10)")  # fmt: skip
    parser.add_argument("--budget", default="5m", help="budget per A/B decision (default 5m)")
    parser.add_argument("--aa-budget", default="60s",
                        help="budget per A/A decision (default 60s)")  # fmt: skip
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output")
    parser.set_defaults(func=_run)
