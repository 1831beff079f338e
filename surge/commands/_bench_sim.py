"""`surge bench sim`: the national model's speed at full, half and quarter scale.

Each scale runs in its own subprocess so peak memory (`ru_maxrss`) is that run's alone. Writes
results/bench/sim.json with wall time, CPU time, visitor-events/s, peak RSS and the machine's load
average per scale, and the linearity of cost in visitors (wall time per visitor relative to the
first scale, and a least-squares fit CPU = fixed + slope x visitors). On a shared machine wall
time follows the load; CPU time is the run's own cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_SCALES = (1.0, 0.5, 0.25)
TARGET_WALL_S = 60.0
TARGET_RSS_MB = 2048.0


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("sim", help="time france-2021-07-12 at full, half, quarter scale")
    bench.add_argument("--scenario", default="france-2021-07-12")
    bench.add_argument("--scales", default=",".join(str(s) for s in DEFAULT_SCALES))
    bench.add_argument("--seed", type=int, default=2021)
    bench.add_argument("--out", type=Path, default=Path("results/bench/sim.json"))
    bench.set_defaults(func=bench_command)


def run_default(args: argparse.Namespace) -> int:
    defaults = argparse.Namespace(
        scenario="france-2021-07-12",
        scales=",".join(str(s) for s in DEFAULT_SCALES),
        seed=2021,
        out=Path("results/bench/sim.json"),
    )
    return bench_command(defaults)


def bench_command(args: argparse.Namespace) -> int:
    try:
        scales = [float(s) for s in str(args.scales).split(",") if s.strip()]
    except ValueError:
        raise ValueError(
            f"--scales: expected comma-separated numbers (got {args.scales!r})"
        ) from None
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"--scales: expected positive numbers (got {args.scales!r})")
    from simulations.scenario.scenario import load_scenario

    load_scenario(args.scenario)  # fail fast (exit 2) on a bad name
    runs = [_measure(args.scenario, scale, args.seed) for scale in scales]
    reference = runs[0]
    for run in runs:
        run["wall_per_visitor_vs_first"] = (run["wall_s"] / run["visitors"]) / (
            reference["wall_s"] / reference["visitors"]
        )
    full = next((r for r in runs if r["scale"] == 1.0), None)
    fit = _linear_fit([r["visitors"] for r in runs], [r["cpu_s"] for r in runs])
    document = {
        "benchmark": "sim",
        "scenario": args.scenario,
        "command": "surge bench sim --scales " + ",".join(str(s) for s in scales),
        "target": {"wall_s": TARGET_WALL_S, "peak_rss_mb": TARGET_RSS_MB},
        "runs": runs,
        "cpu_fit": fit,
        "meets_target": None
        if full is None
        else bool(full["wall_s"] < TARGET_WALL_S and full["peak_rss_mb"] < TARGET_RSS_MB),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(
        f"{'scale':>6s} {'visitors':>11s} {'wall_s':>8s} {'cpu_s':>8s} {'events/s':>11s} "
        f"{'peak_MB':>8s} {'wall/visitor vs first':>22s}"
    )
    for r in runs:
        print(
            f"{r['scale']:6.2f} {r['visitors']:11,.0f} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} "
            f"{r['events_per_s']:11,.0f} {r['peak_rss_mb']:8.0f} {r['wall_per_visitor_vs_first']:22.2f}"
        )
    if full is not None:
        print(
            f"full scale: {full['wall_s']:.1f} s (target < {TARGET_WALL_S:.0f} s), "
            f"{full['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB)"
        )
    if fit:
        print(
            f"CPU time = {fit['fixed_s']:.2f} s + {fit['per_million_visitors_s']:.2f} s per "
            "million visitors (least squares over the scales)"
        )
    print(f"wrote {args.out}")
    return 0


def _linear_fit(visitors: list[float], cpu_s: list[float]) -> dict | None:
    """cpu = fixed + slope * visitors: the per-tick cost and the per-visitor cost."""
    if len(set(visitors)) < 2:
        return None
    import numpy as np

    slope, fixed = np.polyfit(np.asarray(visitors) / 1e6, np.asarray(cpu_s), 1)
    return {"fixed_s": float(fixed), "per_million_visitors_s": float(slope)}


def _measure(scenario: str, scale: float, seed: int) -> dict:
    command = [sys.executable, "-m", "surge.commands._bench_sim", scenario, str(scale), str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - an argument list of our own, no shell
    if done.returncode != 0:
        raise OSError(
            f"bench child failed at scale {scale}: {done.stderr.strip().splitlines()[-1:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(scenario_ref: str, scale: float, seed: int) -> dict:
    import os
    import resource

    from simulations.national.opening_day import simulate
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(scenario_ref, [f"scale={scale}"])
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate(scenario, seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = result.kpis["visitor_events"]
    return {
        "scale": scale,
        "visitors": result.kpis["visitors"],
        "bookings": result.kpis["bookings"],
        "visitor_events": events,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": events / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "load_average_1min": os.getloadavg()[0],
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))
