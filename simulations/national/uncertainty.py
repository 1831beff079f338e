"""Uncertainty of a scenario's KPIs: an ensemble over its priors, bands and rank sensitivity.

Every `[priors]` parameter is sampled by a Latin hypercube (`scipy.stats.qmc`, the same points
as `simulations.national.heldout.prior_samples`); each sample runs once with its own child seed.
`bands` gives the 5th, 50th and 95th percentile of every KPI over the ensemble; `prcc` ranks the
parameters by partial rank correlation with each KPI (the other parameters' linear effect on
the ranks removed), which needs no more runs than the ensemble (Sobol indices would need
N(2D+2)).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from simulations.national.heldout import prior_samples
from simulations.scenario.errors import ScenarioError
from simulations.scenario.scenario import Scenario, apply_overrides

__all__ = ["bands", "kpi_ensemble", "prcc"]


def _run(job: tuple[Scenario, dict[str, Any], np.random.SeedSequence]) -> dict[str, float]:
    from simulations.national.opening_day import simulate

    scenario, overrides, seed = job
    return simulate(apply_overrides(scenario, overrides), seed).kpis


def kpi_ensemble(scenario: Scenario, samples: int, seed: int, workers: int = 1) -> pd.DataFrame:
    """One row per prior sample: the sampled parameters, then every KPI of its run."""
    if not scenario.priors:
        raise ScenarioError(f"scenario {scenario.name}: no [priors] to sample")
    points = prior_samples(scenario, samples, seed)
    seeds = np.random.SeedSequence(seed).spawn(samples)
    jobs = [
        (scenario, {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}, seeds[i])
        for i, row in enumerate(points.to_dict(orient="records"))
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_run, jobs))
    else:
        rows = [_run(job) for job in jobs]
    return pd.concat([points, pd.DataFrame(rows).astype(float)], axis=1)


def bands(ensemble: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """5th, 50th and 95th percentile of each KPI (NaN runs ignored), one row per KPI."""
    frame = ensemble[kpis].quantile([0.05, 0.5, 0.95]).T
    frame.columns = ["p05", "median", "p95"]
    frame.index.name = "kpi"
    return frame


def prcc(ensemble: pd.DataFrame, params: list[str], kpis: list[str]) -> pd.DataFrame:
    """Partial rank correlation of each parameter (rows) with each KPI (columns); NaN where a
    KPI or parameter does not vary."""
    ranks = {c: rankdata(ensemble[c].to_numpy(dtype=float)) for c in [*params, *kpis]}
    out = pd.DataFrame(index=pd.Index(params, name="parameter"), columns=kpis, dtype=float)
    for p in params:
        others = np.column_stack([np.ones(len(ensemble)), *[ranks[q] for q in params if q != p]])
        x = _residual(others, ranks[p])
        for k in kpis:
            y = _residual(others, ranks[k])
            denom = np.sqrt((x @ x) * (y @ y))
            out.loc[p, k] = float(x @ y / denom) if denom > 0 else np.nan
    return out


def _residual(design: np.ndarray, values: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef
