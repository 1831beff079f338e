"""What-ifs on an opening evening: one knob varied at a time, and a staggered opening by cohort.

Every variant is one replication with the same seed, so variants share arrivals and behaviour
(common random numbers) and their differences are the knob's, not the dice's. Outputs are flat
DataFrames, one row per variant or per evening.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from simulations.national.opening_day import simulate
from simulations.scenario.scenario import Scenario, apply_overrides

__all__ = ["knob_variants", "staggered_opening"]

FAILURES = ("taken", "no_slot", "errors")  # timeseries counts of refused booking attempts


def knob_variants(base: Scenario, knob: str, values: Iterable[Any], seed: int) -> pd.DataFrame:
    """KPIs and failure counts (`taken`, `no_slot`, `errors`) per value of one dotted knob."""
    rows = []
    for value in values:
        run = simulate(apply_overrides(base, {knob: value}), seed)
        failures = run.timeseries[list(FAILURES)].sum().to_dict()
        rows.append({knob: value, **run.kpis, **failures})
    return pd.DataFrame(rows)


def staggered_opening(base: Scenario, cohorts: int, seed: int) -> pd.DataFrame:
    """The same demand opened to `cohorts` age cohorts on successive evenings, one row of KPIs
    per evening: each evening brings 1/cohorts of the surge and of the eligible population, and
    the slots booked on earlier evenings are gone (the fill share carries over)."""
    if cohorts < 1:
        raise ValueError(f"invalid cohorts {cohorts}: must be >= 1")
    rows, left_share = [], 1.0
    fill0 = base.supply.initial_fill_share
    seeds = np.random.SeedSequence(seed).spawn(cohorts)
    for k in range(cohorts):
        evening = apply_overrides(
            base,
            {
                "demand.surge_visitors": base.demand.surge_visitors / cohorts,
                "demand.eligible_population": base.demand.eligible_population // cohorts,
                "supply.initial_fill_share": 1.0 - (1.0 - fill0) * left_share,
            },
        )
        run = simulate(evening, seeds[k])
        left_share *= run.kpis["slots_left_share"]
        rows.append({"evening": k + 1, "initial_fill_share": evening.supply.initial_fill_share,
                     **run.kpis})  # fmt: skip
    return pd.DataFrame(rows)
