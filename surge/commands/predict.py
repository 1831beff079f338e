"""`surge predict`: throughput and latency percentiles per load level from a calibrated platform
profile: the SimPy closed-loop model, with exact MVA and the USL curve alongside."""

from __future__ import annotations

import argparse
from pathlib import Path

from surge.commands import types
from surge.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict throughput and latency per load level from a profile",
                       description=__doc__)  # fmt: skip
    p.add_argument(
        "--profile",
        type=types.existing_file,
        required=True,
        help="platform profile TOML (surge calibrate)",
    )
    p.add_argument(
        "--load", type=types.levels, required=True, help="concurrent users, e.g. 10,20,40"
    )
    p.add_argument(
        "--think",
        type=types.non_negative_float,
        help="think time in seconds (default: the profile's)",
    )
    p.add_argument(
        "--replications",
        type=types.positive_int,
        default=5,
        help="simulation replications (default 5)",
    )
    p.add_argument(
        "--requests",
        type=types.positive_int,
        default=20_000,
        help="requests simulated per replication (default 20000, at least 100)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", type=Path, help="also write the table as CSV")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.requests < 100:
        raise UsageError(f"--requests must be >= 100 (got {args.requests})")
    from simulations.calibration.prediction import predict_levels
    from simulations.calibration.profile import read_profile

    profile = read_profile(args.profile)
    table = predict_levels(
        profile,
        args.load,
        replications=args.replications,
        requests=args.requests,
        seed=args.seed,
        think_s=args.think,
    )
    cols = {
        "users": "users",
        "sim_throughput_per_s": "sim X/s",
        "sim_throughput_ci95": "+-",
        "sim_p50_ms": "p50 ms",
        "sim_p95_ms": "p95 ms",
        "sim_p99_ms": "p99 ms",
        "mva_throughput_per_s": "MVA X/s",
        "mva_mean_ms": "MVA mean ms",
        "usl_throughput_per_s": "USL X/s",
    }
    print(
        table[list(cols)]
        .rename(columns=cols)
        .to_string(index=False, float_format=lambda v: f"{v:.4g}")
    )
    m = profile.usl
    print(f"USL peak concurrency {m.peak_concurrency:.4g}, max throughput {m.max_throughput:.4g}/s")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
        print(f"csv: {args.csv}")
    return 0
