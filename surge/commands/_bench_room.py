"""`surge bench room`: the app's CPU per request of the booking journey vs the waiting room's
(503 without a pass, join, poll of a waiting ticket) -> results/bench/room.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path("results/bench/room.json")


def run_default(args: argparse.Namespace) -> int:
    from surge.bench.room import JOURNEY, ROOM, measure_room_cost, write

    requests = getattr(args, "requests", None) or 300
    if requests < 10:
        raise ValueError(f"invalid --requests {requests}: must be >= 10")
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    result = measure_room_cost(requests)
    write(result, out)
    ms = result["server_cpu_ms"]
    lines = [f"app CPU per request (SQLite, 1 worker, {requests} sequential requests each):"]
    lines += [f"  journey  {name:<24} {ms[name]:6.2f} ms" for name in JOURNEY]
    lines += [f"  room     {name:<24} {ms[name]:6.2f} ms" for name in ROOM]
    lines.append(f"  room     {'queue_join_concurrent':<24} {ms['queue_join_concurrent']:6.2f} ms")
    lines.append(
        f"one journey {result['journey_cpu_ms']:.1f} ms; one arrival in the room "
        f"{result['room_arrival_cpu_ms']:.1f} ms = {result['room_to_journey']:.2f} of a journey "
        f"(load average {result['loadavg_1min']})"
    )
    lines.append(f"written to {out}")
    print("\n".join(lines), file=sys.stderr)
    return 0


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "room",
        help="app CPU per request: booking journey vs waiting room (503, join, poll)",
        description=__doc__,
    )
    parser.add_argument("--requests", type=int, default=300, help="per kind (default 300)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output")
    parser.set_defaults(func=run_default)
