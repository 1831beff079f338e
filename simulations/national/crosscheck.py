"""The count model against the per-visitor model on the same scaled-down scenario.

`crosscheck(scenario, 100, replications, seed)` scales the scenario 1:100 (`Scenario.scaled`:
visitors, admission rate, session cap, web workers, DB connections, centres and released slots
divided by 100; each centre keeps its size, so slots are divided by 100 too; behaviour, service
times, session lengths and patience unchanged), runs the count model
(`simulations.national.opening_day`) and the per-visitor model
(`simulations.national.per_visitor`) `replications` times each on independent seeds, and
compares each KPI: the two means, their 95 % intervals, and a Welch interval on the difference at
the Bonferroni level over the KPIs compared. A KPI agrees when that interval contains 0 or the
means differ by at most 2 % (the tolerance `surge sim validate` uses). A KPI that some runs do
not reach (`sellout_min` is NaN when half the centres never sell out) is compared over the runs
that reach it, and how many runs reach it must agree too (Fisher's exact test at that level).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from simulations.national.opening_day import simulate
from simulations.national.per_visitor import simulate_visitors
from simulations.replications import confidence_interval
from simulations.scenario.scenario import Scenario

__all__ = ["KPIS", "TOLERANCE", "agreement", "crosscheck", "scaled_down"]

KPIS = ("bookings", "peak_bookings_per_min", "wr_wait_peak_min", "abandonment", "sellout_min")
TOLERANCE = 0.02
FAMILY_LEVEL = 0.95


def scaled_down(scenario: Scenario, factor: float) -> Scenario:
    """`scenario` at 1:`factor` (visitors, capacities and centres divided by `factor`)."""
    if factor < 1:
        raise ValueError(f"scale: need a factor >= 1 for 1:N (got {factor:g})")
    return scenario.model_copy(update={"scale": scenario.scale / factor}).scaled()


def crosscheck(
    scenario: Scenario, factor: float, replications: int, seed: int, progress: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-replication KPIs with a `model` column, the agreement table over `KPIS`)."""
    if replications < 2:
        raise ValueError(f"replications: need >= 2 for an interval (got {replications})")
    small = scaled_down(scenario, factor)
    count_seeds, visitor_seeds = np.random.SeedSequence(seed).spawn(2)
    jobs = [("count", simulate, s) for s in count_seeds.spawn(replications)]
    jobs += [("per_visitor", simulate_visitors, s) for s in visitor_seeds.spawn(replications)]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="crosscheck", unit="run")
    rows = []
    for model, run, s in jobs:
        kpis = run(small, s).kpis
        rows.append({"model": model, **{k: kpis[k] for k in KPIS}})
    runs = pd.DataFrame(rows)
    return runs, agreement(runs)


def agreement(runs: pd.DataFrame, kpis: tuple[str, ...] = KPIS) -> pd.DataFrame:
    """One row per KPI: each model's mean and 95 % interval, the difference (per visitor minus
    count) with its Bonferroni-level Welch interval, and `agrees`."""
    level = 1.0 - (1.0 - FAMILY_LEVEL) / len(kpis)
    table = []
    for kpi in kpis:
        a = _finite(runs.loc[runs["model"] == "count", kpi])
        b = _finite(runs.loc[runs["model"] == "per_visitor", kpi])
        row: dict[str, float | str | bool] = {"kpi": kpi}
        for name, x in (("count", a), ("per_visitor", b)):
            mean, low, high = confidence_interval(x)
            row |= {f"{name}_mean": mean, f"{name}_low": low, f"{name}_high": high}
        diff, low, high = _welch(a, b, level)
        close = abs(diff) <= TOLERANCE * abs(float(row["count_mean"]))
        row |= {"diff": diff, "diff_low": low, "diff_high": high, "level": level}
        row["agrees"] = bool(close or (low <= 0.0 <= high))
        n_a, n_b = (int((runs["model"] == m).sum()) for m in ("count", "per_visitor"))
        row |= {"count_runs": len(a), "per_visitor_runs": len(b)}
        if len(a) < n_a or len(b) < n_b:  # e.g. no sell-out in some runs: how often it happened
            table_2x2 = [[len(a), n_a - len(a)], [len(b), n_b - len(b)]]
            same_share = stats.fisher_exact(table_2x2).pvalue > 1.0 - level
            both_values = len(a) >= 2 and len(b) >= 2
            row["agrees"] = bool(same_share and (row["agrees"] or not both_values))
        table.append(row)
    return pd.DataFrame(table)


def _finite(values: pd.Series) -> np.ndarray:
    x = values.to_numpy(dtype=float)
    return x[np.isfinite(x)]


def _welch(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean of b - a and its Welch-Satterthwaite interval."""
    if len(a) < 2 or len(b) < 2:
        return (math.nan, math.nan, math.nan)
    diff = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return (diff, diff, diff)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return (diff, diff - half, diff + half)
