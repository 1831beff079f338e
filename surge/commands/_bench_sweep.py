"""`surge bench sweep`: the same sweep on 1 worker (in-process) and on N local processes.

The speedup is the ratio of the two wall times measured alternately in one invocation, best of
`--repeat` each (the machine is shared, so only the ratio is meaningful); pool start-up is
included. Results go to
results/bench/sweep.json with the load average before and after, to judge the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

TARGET_SPEEDUP = 1.7


def _timed(model, variants, replications: int, seed: int, workers: int) -> tuple[float, object]:
    from simulations.sweep import run_sweep

    start = time.perf_counter()
    result = run_sweep(model, variants, replications, seed, workers=workers, progress=False)
    return time.perf_counter() - start, result


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from simulations.sweep import parse_param, run_sweep, scenario_kpis, scenario_variants

    values = ",".join(str(4 + 2 * i) for i in range(args.combinations))
    params = [parse_param(f"platform.admission_rate_per_s={values}")]
    variants = scenario_variants(args.scenario, params)
    runs = len(variants) * args.replications
    run_sweep(scenario_kpis, variants[:1], 1, args.seed, workers=1, progress=False)  # warm imports
    load_before = os.getloadavg()
    serial_times, parallel_times = [], []
    for _ in range(args.repeat):  # alternate, keep the best of each (least disturbed)
        seconds, serial = _timed(scenario_kpis, variants, args.replications, args.seed, 1)
        serial_times.append(seconds)
        seconds, parallel = _timed(
            scenario_kpis, variants, args.replications, args.seed, args.workers
        )
        parallel_times.append(seconds)
    serial_s, parallel_s = min(serial_times), min(parallel_times)
    load_after = os.getloadavg()
    same = bool(
        np.allclose(serial.runs.to_numpy(float), parallel.runs.to_numpy(float), equal_nan=True)
    )
    speedup = serial_s / parallel_s
    record = {
        "command": (
            f"surge bench sweep --scenario {args.scenario} --combinations {args.combinations} "
            f"--replications {args.replications} --workers {args.workers} --repeat {args.repeat}"
        ),
        "scenario": args.scenario,
        "runs": runs,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "repeat": args.repeat,
        "serial_s": round(serial_s, 3),
        "parallel_s": round(parallel_s, 3),
        "serial_s_all": [round(t, 3) for t in serial_times],
        "parallel_s_all": [round(t, 3) for t in parallel_times],
        "speedup": round(speedup, 3),
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": speedup >= TARGET_SPEEDUP,
        "same_results": same,
        "loadavg_1min_before": round(load_before[0], 2),
        "loadavg_1min_after": round(load_after[0], 2),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(
        f"sweep of {runs} runs ({args.scenario}): 1 worker {serial_s:.1f} s, {args.workers} workers "
        f"{parallel_s:.1f} s, speedup {speedup:.2f}x (target {TARGET_SPEEDUP}x: "
        f"{'met' if record['meets_target'] else 'NOT met'}), identical results: {same}, "
        f"load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"wrote {out}")
    return 0


def _defaults() -> argparse.Namespace:
    return argparse.Namespace(
        scenario="smoke",
        combinations=4,
        replications=2,
        workers=2,
        repeat=2,
        seed=1,
        out="results/bench/sweep.json",
    )


def run_default(args: argparse.Namespace) -> int:
    return run(_defaults())


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep",
        help="sweep speedup: 1 worker vs N local processes (target >= 1.7x on 2 cores)",
        description=__doc__,
    )
    defaults = _defaults()
    parser.add_argument("--scenario", default=defaults.scenario)
    parser.add_argument("--combinations", type=int, default=defaults.combinations)
    parser.add_argument("--replications", type=int, default=defaults.replications)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--repeat", type=int, default=defaults.repeat, help="best of N (default 2)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", default=defaults.out)
    parser.set_defaults(func=run)
