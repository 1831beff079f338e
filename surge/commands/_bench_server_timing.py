"""`surge bench server-timing`: the CPU cost of `--server-timing`, in CPU-µs per request of the
app (not a throughput ratio). Writes results/bench/server_timing.json."""

from __future__ import annotations

import argparse

from surge.cli import UsageError


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1 or args.requests < 1:
        raise UsageError("--rounds and --requests must be >= 1")
    from surge.bench.server_timing import run_benchmark

    record = run_benchmark(rounds=args.rounds, requests=args.requests)
    for r in record["rounds"]:
        print(
            f"server timing {'on ' if r['server_timing'] else 'off'}: "
            f"{r['cpu_us_per_request']:8.1f} CPU-us/request ({r['requests']} requests)"
        )
    print(
        f"median off {record['cpu_us_per_request_off']:.1f}, on "
        f"{record['cpu_us_per_request_on']:.1f}: overhead "
        f"{record['overhead_cpu_us_per_request']:+.1f} CPU-us/request"
    )
    print("written: results/bench/server_timing.json")
    return 0


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "server-timing",
        help="CPU-us per request of the app without and with --server-timing",
        description=__doc__,
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (default 3)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="measured requests per round (default 2000)"
    )
    parser.set_defaults(func=run)
