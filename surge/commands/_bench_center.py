"""`surge bench center`: seconds per replication of a 10-hour, 2,000-patient, 6-station centre
day (bound: under 1 s) -> results/bench/center.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_OUT = Path("results/bench/center.json")


def run_default(args: argparse.Namespace) -> int:
    from surge.bench.center import bench_center

    replications = getattr(args, "replications", None) or 10
    if replications < 1:
        raise ValueError(f"invalid --replications {replications}: must be >= 1")
    out = Path(getattr(args, "center_out", None) or DEFAULT_OUT)
    doc = bench_center(replications, getattr(args, "seed", None) or 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(
        f"centre day: {doc['mean_patients']:.0f} patients, {doc['stations']} stations, "
        f"{doc['day_min'] / 60:.0f} h, {replications} replications"
    )
    print(
        f"  median {doc['median_wall_s']:.3f} s per replication (max {doc['max_wall_s']:.3f} s, "
        f"CPU {doc['median_cpu_s']:.3f} s); bound {doc['bound_s_per_replication']:.0f} s: "
        f"{'met' if doc['meets_bound'] else 'NOT met'} (load average {doc['load_average_1min']:.2f}, "
        f"{doc['nproc']} CPUs)"
    )
    print(f"wrote {out}")
    return 0


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "center",
        help="centre model speed: 10-hour, 2,000-patient, 6-station day",
        description=__doc__,
    )
    parser.add_argument("--replications", type=int, default=10, help="default 10")
    parser.add_argument("--seed", type=int, default=1, help="default 1")
    parser.add_argument("--out", dest="center_out", default=str(DEFAULT_OUT), help="JSON output")
    parser.set_defaults(func=run_default)
