"""How fast the centre model runs a full day (`surge bench center`).

The bound of issue 17: a 10-hour centre day of 2,000 patients through 6 stations in under 1 s
per replication. The benchmark centre exercises everything that costs time: appointments with
asymmetric punctuality plus Poisson walk-ins, three patient classes with their own routes,
walking between stations, patience, a roster with staggered breaks, finite observation chairs
that block the vaccinators, and a closing time. Each replication is timed alone (wall and CPU
time of `simulate_center`, then of its KPIs); the figure is the median, the worst is reported
too, with the machine's load average, since the machine may be shared.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations.center.config import CenterConfig, parse_center
from simulations.center.report import run_kpis
from simulations.center.simulation import simulate_center
from surge.bench.record import BenchRecord, new_record
from surge.errors import UsageError

__all__ = ["BOUND_S", "bench_center", "bench_config"]

BOUND_S = 1.0
PATIENTS = 2000
DAY_MIN = 600


def bench_config() -> CenterConfig:
    """10 hours, 1,960 booked (40 blocks of 49, 2 % no-show) + 96 walk-ins: about 2,000."""
    lognormal = {"dist": "lognormal", "mean": 2.0, "sd": 0.8}
    return parse_center(
        {
            "name": "bench-center",
            "arrivals": {
                "kind": "appointments",
                "block_minutes": 15,
                "per_block": 49,
                "blocks": 40,
                "no_show": 0.02,
                "punctuality": {
                    "early_share": 0.6,
                    "early": {"dist": "uniform", "low": 0, "high": 20},
                    "late": {"dist": "exponential", "mean": 5},
                },
                "walk_ins": {"rate_per_hour": 12, "from_min": 60, "to_min": 540},
            },
            "stations": [
                {
                    "name": "check-in",
                    "servers": 3,
                    "service": {"dist": "triangular", "low": 0.3, "mode": 0.5, "high": 1.5},
                },
                {
                    "name": "registration",
                    "servers": 8,
                    "service": {"dist": "lognormal", "mean": 2.5, "sd": 1.0},
                },
                {
                    "name": "assessment",
                    "servers": 10,
                    "service": {"dist": "lognormal", "mean": 3.0, "sd": 1.5},
                    "patience": {"dist": "exponential", "mean": 90},
                },
                {
                    "name": "vaccination",
                    "roster": [
                        {"from_min": 0, "to_min": 300, "servers": 14},
                        {"from_min": 300, "to_min": 600, "servers": 15},
                    ],
                    "break_rule": {"after_min": 180, "minutes": 30, "stagger_min": 10},
                    "service": {"dist": "lognormal", "mean": 4.0, "sd": 1.3},
                },
                {
                    "name": "observation",
                    "servers": "infinite",
                    "capacity": 70,
                    "service": {"dist": "uniform", "low": 15, "high": 20},
                },
                {"name": "exit", "servers": 2, "service": lognormal | {"mean": 0.5, "sd": 0.2}},
            ],
            "classes": [
                {"name": "dose-1", "share": 0.6},
                {
                    "name": "dose-2",
                    "share": 0.35,
                    "route": ["check-in", "registration", "vaccination", "observation", "exit"],
                },
                {
                    "name": "long-observation",
                    "share": 0.05,
                    "service": {"observation": {"dist": "constant", "value": 30}},
                },
            ],
            "walk": {"dist": "uniform", "low": 0.5, "high": 2.0},
            "closing": {"at_min": DAY_MIN},
        }
    )


@dataclass(frozen=True)
class CenterBenchOptions:
    replications: int = 10
    seed: int = 1


def run(options: CenterBenchOptions) -> BenchRecord:
    if options.replications < 1:
        raise UsageError(f"--replications must be >= 1 (got {options.replications})")
    return new_record("center", options, bench_center(options.replications, options.seed))


def describe(record: BenchRecord) -> list[str]:
    doc = record.figures
    return [
        f"centre day: {doc['mean_patients']:.0f} patients, {doc['stations']} stations, "
        f"{doc['day_min'] / 60:.0f} h, {len(doc['replications'])} replications",
        f"  median {doc['median_wall_s']:.3f} s per replication (max {doc['max_wall_s']:.3f} s, "
        f"CPU {doc['median_cpu_s']:.3f} s); bound {doc['bound_s_per_replication']:.0f} s: "
        f"{'met' if doc['meets_bound'] else 'NOT met'}",
    ]


def bench_center(replications: int = 10, seed: int = 1) -> dict[str, Any]:
    """Time `replications` days of the benchmark centre; returns the JSON document."""
    config = bench_config()
    children = np.random.SeedSequence(seed).spawn(replications)
    simulate_center(config, children[0])  # warm imports and caches
    rows = []
    for child in children:
        wall, cpu = time.perf_counter(), time.process_time()
        run = simulate_center(config, child)
        sim_wall, sim_cpu = time.perf_counter() - wall, time.process_time() - cpu
        kpis = run_kpis(run)
        rows.append(
            {
                "patients": len(run.arrival_min),
                "served": kpis["served"],
                "stations": len(config.stations),
                "simulate_wall_s": sim_wall,
                "simulate_cpu_s": sim_cpu,
                "with_kpis_wall_s": time.perf_counter() - wall,
                "vaccination_blocked_min": kpis["stations.vaccination.blocked_min"],
                "overtime_min": kpis["overtime_min"],
            }
        )
    walls = [r["with_kpis_wall_s"] for r in rows]
    median = statistics.median(walls)
    return {
        "day_min": DAY_MIN,
        "stations": len(config.stations),
        "mean_patients": statistics.fmean(r["patients"] for r in rows),
        "bound_s_per_replication": BOUND_S,
        "median_wall_s": median,
        "max_wall_s": max(walls),
        "median_cpu_s": statistics.median(r["simulate_cpu_s"] for r in rows),
        "meets_bound": median < BOUND_S,
        "replications": rows,
    }
