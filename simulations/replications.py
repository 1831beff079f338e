"""Independent replications of a stochastic run and their 95% confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Replications", "confidence_interval", "run_replications_with"]


def confidence_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval over independent replications (NaNs ignored)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(x.mean())
    if len(x) < 2:
        return (mean, np.nan, np.nan)
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return (mean, mean - half, mean + half)


@dataclass(frozen=True)
class Replications:
    """One row of KPIs per replication (`kpis`) and each run's result (`runs`)."""

    kpis: pd.DataFrame
    runs: list[Any] = field(repr=False)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """mean, ci_low, ci_high per KPI (rows), over the replications."""
        rows = {name: confidence_interval(self.kpis[name].to_numpy(), level) for name in self.kpis}
        return pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "ci_low", "ci_high"])


def run_replications_with(
    simulate: Callable[[Any, np.random.SeedSequence], Any],
    scenario: Any,
    replications: int,
    seed: int,
    progress: bool = False,
) -> Replications:
    if replications < 1:
        raise ValueError(f"replications: must be >= 1 (got {replications})")
    seeds = np.random.SeedSequence(seed).spawn(replications)
    iterator = seeds
    if progress:
        from tqdm import tqdm

        iterator = tqdm(seeds, desc="replications", unit="run")
    runs = [simulate(scenario, s) for s in iterator]
    kpis = pd.DataFrame([run.kpis for run in runs])
    kpis.index.name = "replication"
    return Replications(kpis=kpis, runs=runs)
