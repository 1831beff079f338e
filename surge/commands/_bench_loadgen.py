"""`surge bench loadgen`: requests/s of one load-generator process (plain FastHttpUser vs the
Patient journey's overhead vs the open-model driver) -> results/bench/loadgen.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path("results/bench/loadgen.json")


def run_default(args: argparse.Namespace) -> int:
    from surge.bench.loadgen import run_bench, write_result

    duration = getattr(args, "duration", 10.0) or 10.0
    users = getattr(args, "users", 20) or 20
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    if duration <= 0 or users < 1 or (getattr(args, "rounds", 3) or 3) < 1:
        raise ValueError("--duration must be > 0, --users and --rounds >= 1")
    rounds = getattr(args, "rounds", 3) or 3
    result = run_bench(duration, users, getattr(args, "rate", None), rounds)
    path = write_result(result, out)
    lines = [
        f"one Locust process per variant, {duration:g}s each, median of {rounds} rounds "
        "(requests per CPU-second):"
    ]
    for label, figures, ratio in (
        ("plain FastHttpUser", result.plain, 1.0),
        ("Patient journey overhead", result.patient_overhead, result.patient_overhead_ratio),
        (
            f"open model @{result.open_model_offered_rps:g}/s",
            result.open_model,
            result.open_model_ratio,
        ),
    ):
        lines.append(
            f"  {label:<28} {figures['requests_per_cpu_s']:8.0f} req/CPU-s "
            f"({ratio:.2f} x plain; {figures['requests_per_wall_s']:.0f} req/s wall)"
        )
    lines.append(
        f"  open model: {result.open_model_late} late, {result.open_model_dropped} dropped; "
        f"target >= {result.target_ratio:.2f} x plain: "
        f"{'met' if result.meets_target else 'NOT met'} (load average {result.load_average_1m:.1f})"
    )
    lines.append(
        f"  open model / plain in every round: {result.open_model_ratio_all_rounds}; "
        f"Patient / plain: {result.patient_overhead_ratio_all_rounds}"
    )
    lines.append(f"written to {path}")
    print("\n".join(lines), file=sys.stderr)
    return 0


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "loadgen",
        help="requests/s of one Locust process: plain vs Patient overhead vs open-model driver",
        description=(
            "Against a trivial local endpoint, in one run: plain FastHttpUser, the Patient "
            "journey's per-request overhead, and the open-model driver; writes "
            "results/bench/loadgen.json. Target: open model >= 0.8 x plain."
        ),
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per variant")
    parser.add_argument("--users", type=int, default=20, help="users of the closed variants")
    parser.add_argument(
        "--rate", type=float, help="open model arrivals/s (default 0.8 x plain's wall rate)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three variants")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path")
    parser.set_defaults(func=run_default)
