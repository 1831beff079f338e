"""`surge bench sweep`: the same sweep in one process and on N local processes.

The speedup is the ratio of the two wall times measured alternately in one invocation, best of
`repeat` each (the machine is shared, so only the ratio is meaningful); pool start-up is
included. The load average before and after is kept, to judge the noise.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from surge.bench.record import BenchRecord, new_record

__all__ = ["SweepBenchOptions", "describe", "run"]

TARGET_SPEEDUP = 1.7


@dataclass(frozen=True)
class SweepBenchOptions:
    scenario: str = "smoke"
    combinations: int = 4
    replications: int = 2
    processes: int = 2
    repeat: int = 2
    seed: int = 1


def _timed(model, variants, replications: int, seed: int, processes: int) -> tuple[float, object]:
    from simulations.sweep import run_sweep

    start = time.perf_counter()
    result = run_sweep(model, variants, replications, seed, workers=processes, progress=False)
    return time.perf_counter() - start, result


def run(options: SweepBenchOptions) -> BenchRecord:
    import numpy as np

    from simulations.sweep import parse_param, run_sweep, scenario_kpis, scenario_variants

    values = ",".join(str(4 + 2 * i) for i in range(options.combinations))
    params = [parse_param(f"platform.admission_rate_per_s={values}")]
    variants = scenario_variants(options.scenario, params)
    runs = len(variants) * options.replications
    run_sweep(scenario_kpis, variants[:1], 1, options.seed, workers=1, progress=False)  # warm up
    load_before = os.getloadavg()
    serial_times, parallel_times = [], []
    for _ in range(options.repeat):  # alternate, keep the best of each (least disturbed)
        seconds, serial = _timed(scenario_kpis, variants, options.replications, options.seed, 1)
        serial_times.append(seconds)
        seconds, parallel = _timed(
            scenario_kpis, variants, options.replications, options.seed, options.processes
        )
        parallel_times.append(seconds)
    serial_s, parallel_s = min(serial_times), min(parallel_times)
    load_after = os.getloadavg()
    same = bool(
        np.allclose(serial.runs.to_numpy(float), parallel.runs.to_numpy(float), equal_nan=True)
    )
    speedup = serial_s / parallel_s
    figures = {
        "runs": runs,
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
    }
    return new_record("sweep", options, figures)


def describe(record: BenchRecord) -> list[str]:
    f, p = record.figures, record.parameters
    return [
        f"sweep of {f['runs']} runs ({p['scenario']}): 1 process {f['serial_s']:.1f} s, "
        f"{p['processes']} processes {f['parallel_s']:.1f} s, speedup {f['speedup']:.2f}x "
        f"(target {f['target_speedup']}x: {'met' if f['meets_target'] else 'NOT met'}), "
        f"identical results: {f['same_results']}, load average {f['loadavg_1min_before']:.1f} "
        f"-> {f['loadavg_1min_after']:.1f} on {record.machine['cores']} cores"
    ]
