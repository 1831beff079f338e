"""`surge bench sim`: the national model's speed at full, half and quarter scale.

Each scale runs in its own subprocess so peak memory (`ru_maxrss`) is that run's alone. Figures
per scale: wall time, CPU time, visitor-events/s, peak RSS and the machine's load average; and
the linearity of cost in visitors (wall time per visitor relative to the first scale, and a
least-squares fit CPU = fixed + slope x visitors). On a shared machine wall time follows the
load; CPU time is the run's own cost.

Then a campaign (default `france-2021-07-week`: seven days, every visitor counted in cohorts)
in its own subprocess: wall and CPU time, peak RSS, visitors and bookings, against the target
of 5 minutes and 4 GB (`--campaign none` skips it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

from surge.bench.record import BenchRecord, new_record
from surge.errors import UsageError

__all__ = ["SimBenchOptions", "describe", "run"]

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 2048.0
CAMPAIGN_TARGET_WALL_S = 300.0
CAMPAIGN_TARGET_RSS_MB = 4096.0


@dataclass(frozen=True)
class SimBenchOptions:
    scenario: str = "france-2021-07-12"
    scales: tuple[float, ...] = (1.0, 0.5, 0.25)
    seed: int = 2021
    campaign: str | None = "france-2021-07-week"


def run(options: SimBenchOptions) -> BenchRecord:
    if not options.scales or any(s <= 0 for s in options.scales):
        raise UsageError(f"--scales: expected positive numbers (got {options.scales!r})")
    from simulations.scenario.scenario import load_scenario

    load_scenario(options.scenario)  # fail fast (exit 2) on a bad name
    if options.campaign is not None and load_scenario(options.campaign).campaign is None:
        raise UsageError(f"--campaign {options.campaign}: not a campaign scenario")
    runs = [_measure(options.scenario, scale, options.seed) for scale in options.scales]
    reference = runs[0]
    for r in runs:
        r["wall_per_visitor_vs_first"] = (r["wall_s"] / r["visitors"]) / (
            reference["wall_s"] / reference["visitors"]
        )
    campaign = None
    if options.campaign is not None:
        campaign = _measure_campaign(options.campaign, options.seed)
        campaign["target"] = {
            "wall_s": CAMPAIGN_TARGET_WALL_S,
            "peak_rss_mb": CAMPAIGN_TARGET_RSS_MB,
        }
        campaign["meets_target"] = bool(
            campaign["wall_s"] < CAMPAIGN_TARGET_WALL_S
            and campaign["peak_rss_mb"] < CAMPAIGN_TARGET_RSS_MB
        )
    full = next((r for r in runs if r["scale"] == 1.0), None)
    figures = {
        "target": {"wall_s": TARGET_WALL_S, "peak_rss_mb": TARGET_RSS_MB},
        "runs": runs,
        "cpu_fit": _linear_fit([r["visitors"] for r in runs], [r["cpu_s"] for r in runs]),
        "meets_target": None
        if full is None
        else bool(full["wall_s"] < TARGET_WALL_S and full["peak_rss_mb"] < TARGET_RSS_MB),
        "campaign": campaign,
    }
    return new_record("sim", options, figures)


def describe(record: BenchRecord) -> list[str]:
    figures = record.figures
    lines = [
        f"{'scale':>6s} {'visitors':>11s} {'wall_s':>8s} {'cpu_s':>8s} {'events/s':>11s} "
        f"{'peak_MB':>8s} {'wall/visitor vs first':>22s}"
    ]
    for r in figures["runs"]:
        lines.append(
            f"{r['scale']:6.2f} {r['visitors']:11,.0f} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} "
            f"{r['events_per_s']:11,.0f} {r['peak_rss_mb']:8.0f} {r['wall_per_visitor_vs_first']:22.2f}"
        )
    full = next((r for r in figures["runs"] if r["scale"] == 1.0), None)
    if full is not None:
        lines.append(
            f"full scale: {full['wall_s']:.1f} s (target < {TARGET_WALL_S:.0f} s), "
            f"{full['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB)"
        )
    fit = figures["cpu_fit"]
    if fit:
        lines.append(
            f"CPU time = {fit['fixed_s']:.2f} s + {fit['per_million_visitors_s']:.2f} s per "
            "million visitors (least squares over the scales)"
        )
    c = figures.get("campaign")
    if c:
        lines.append(
            f"campaign {c['scenario']}: {c['days']:.0f} days, {c['visitors']:,.0f} visitors, "
            f"{c['bookings']:,.0f} bookings in {c['wall_s']:.1f} s wall ({c['cpu_s']:.1f} s CPU, "
            f"target < {c['target']['wall_s']:.0f} s), {c['peak_rss_mb']:.0f} MB (target < "
            f"{c['target']['peak_rss_mb']:.0f} MB), load {c['load_average_1min']:.1f}"
        )
    return lines


def _linear_fit(visitors: list[float], cpu_s: list[float]) -> dict | None:
    """cpu = fixed + slope * visitors: the per-tick cost and the per-visitor cost."""
    if len(set(visitors)) < 2:
        return None
    import numpy as np

    slope, fixed = np.polyfit(np.asarray(visitors) / 1e6, np.asarray(cpu_s), 1)
    return {"fixed_s": float(fixed), "per_million_visitors_s": float(slope)}


def _measure(scenario: str, scale: float, seed: int) -> dict:
    command = [sys.executable, "-m", "surge.bench.sim", scenario, str(scale), str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - an argument list of our own, no shell
    if done.returncode != 0:
        raise RuntimeError(
            f"bench child failed at scale {scale}: {done.stderr.strip().splitlines()[-1:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure_campaign(scenario: str, seed: int) -> dict:
    command = [sys.executable, "-m", "surge.bench.sim", "--campaign", scenario, str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - an argument list of our own, no shell
    if done.returncode != 0:
        raise RuntimeError(f"campaign bench child failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _campaign_child(scenario_ref: str, seed: int) -> dict:
    import os
    import resource

    from simulations.national.campaign import simulate_campaign
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(scenario_ref)
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate_campaign(scenario, seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    k = result.kpis
    return {
        "scenario": scenario.name,
        "days": k["days"],
        "tick_s": scenario.model.tick_s,
        "visitors": k["visitors"],
        "bookings": k["bookings"],
        "visitor_events": k["visitor_events"],
        "lost_bookers": k["lost_bookers"],
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "load_average_1min": os.getloadavg()[0],
    }


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
    if sys.argv[1] == "--campaign":
        print(json.dumps(_campaign_child(sys.argv[2], int(sys.argv[3]))))
    else:
        print(json.dumps(_child(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))
