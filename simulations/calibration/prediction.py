"""Predictions for a list of load levels from a platform profile: simulation, MVA and USL side
by side, as one flat DataFrame (one row per level)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from simulations.calibration.closed_loop import simulate_level
from simulations.calibration.mva import solve_load_dependent
from simulations.calibration.profile import PlatformProfile


def _ci_half_width(values: np.ndarray, confidence: float = 0.95) -> float:
    if len(values) < 2:
        return float("nan")
    t = stats.t.ppf(0.5 + confidence / 2, len(values) - 1)
    return float(t * values.std(ddof=1) / np.sqrt(len(values)))


def predict_levels(
    profile: PlatformProfile,
    levels: list[int],
    *,
    replications: int = 5,
    requests: int = 20_000,
    seed: int = 0,
    think_s: float | None = None,
) -> pd.DataFrame:
    """Per level: simulated throughput and latency percentiles (mean over replications, with a
    95% interval on throughput and p95), exact MVA throughput and mean latency, and the USL
    curve of throughput vs users (`usl_users`, else the platform curve) with the mean latency
    Little's law gives it (N / X - think time)."""
    if not levels or any(int(n) < 1 for n in levels):
        raise ValueError("load levels must be positive integers")
    if replications < 1:
        raise ValueError("replications must be >= 1")
    think = profile.think_time_s if think_s is None else think_s
    mva = {r.users: r for r in solve_load_dependent(max(levels), profile.usl.throughput, think)}
    rows = []
    level_seeds = np.random.SeedSequence(seed).spawn(len(levels))
    for users, level_seed in zip(levels, level_seeds, strict=True):
        reps = [
            simulate_level(
                profile, int(users), seed=s, replication=i, requests=requests, think_s=think
            )
            for i, s in enumerate(level_seed.spawn(replications))
        ]
        x = np.array([r.throughput_per_s for r in reps])
        p95 = np.array([r.p95_ms for r in reps])
        usl_x = float((profile.usl_users or profile.usl).throughput(users))
        rows.append(
            {
                "users": int(users),
                "sim_throughput_per_s": float(x.mean()),
                "sim_throughput_ci95": _ci_half_width(x),
                "sim_mean_ms": float(np.mean([r.mean_ms for r in reps])),
                "sim_p50_ms": float(np.mean([r.p50_ms for r in reps])),
                "sim_p95_ms": float(p95.mean()),
                "sim_p95_ci95": _ci_half_width(p95),
                "sim_p99_ms": float(np.mean([r.p99_ms for r in reps])),
                "mva_throughput_per_s": mva[int(users)].throughput_per_s,
                "mva_mean_ms": mva[int(users)].mean_response_s * 1000.0,
                "usl_throughput_per_s": usl_x,
                "usl_mean_ms": (users / usl_x - think) * 1000.0,
                "replications": replications,
            }
        )
    return pd.DataFrame(rows)
