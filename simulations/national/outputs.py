"""The files of an opening-day run (`surge sim run`): replicate, then write summary.json,
timeseries.csv, visitors.csv, kpis.csv and the plots; and the KPI table shown on screen."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from simulations.national.opening_day import run_replications, simulate
from simulations.replications import Replications
from simulations.scenario.scenario import Scenario

__all__ = ["KPI_TABLE", "kpi_table", "replicate_opening_day", "write_run_outputs"]

KPI_TABLE = (
    "visitors",
    "visitors_max_15min",
    "bookings",
    "peak_bookings_per_min",
    "wr_wait_p50_min",
    "wr_wait_p95_min",
    "wr_wait_max_min",
    "wr_wait_peak_min",
    "abandonment",
    "sellout_min",
    "web_utilisation_peak",
    "db_utilisation_peak",
    "request_error_rate",
    "booking_success",
    "littles_law_gap",
    "lost_visitors",
)


def replicate_opening_day(scenario: Scenario, replications: int, seed: int) -> Replications:
    """`replications` independent runs; one run keeps the first stream of `seed` (with a
    progress bar when the day is long)."""
    if replications == 1:
        long_run = scenario.duration_min * scenario.scale >= 120
        run = simulate(scenario, np.random.SeedSequence(seed).spawn(1)[0], progress=long_run)
        kpis = pd.DataFrame([run.kpis])
        kpis.index.name = "replication"
        return Replications(kpis=kpis, runs=[run])
    return run_replications(scenario, replications, seed, progress=True)


def _json_number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def write_run_outputs(
    scenario: Scenario,
    reps: Replications,
    out: Path,
    *,
    seed: int,
    overrides: Sequence[str] = (),
    command: str = "",
    plots: bool = True,
) -> list[str]:
    """Write the run's files under `out`; returns their names."""
    out.mkdir(parents=True, exist_ok=True)
    summary = reps.summary()
    first = reps.runs[0]
    first.timeseries.to_csv(out / "timeseries.csv", index=False)
    first.visitors.to_csv(out / "visitors.csv", index=False)
    reps.kpis.to_csv(out / "kpis.csv")
    document = {
        "scenario": scenario.name,
        "seed": seed,
        "replications": len(reps.runs),
        "overrides": list(overrides),
        "command": command,
        "kpis": {
            name: {key: _json_number(row[key]) for key in ("mean", "ci_low", "ci_high")}
            for name, row in summary.iterrows()
        },
    }
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    written = ["summary.json", "timeseries.csv", "kpis.csv", "visitors.csv"]
    if first.regions is not None:
        first.regions.to_csv(out / "regions.csv", index=False)
        written.append("regions.csv")
    if plots:
        from simulations.national.plots import save_run_plots

        save_run_plots(scenario, first.timeseries, first.visitors, out, first.regions)
        written.append("*.png")
    return written


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def kpi_table(name: str, reps: Replications) -> list[str]:
    """The headline KPIs with their 95% intervals over replications, as lines of text."""
    summary = reps.summary()
    lines = [
        f"{name}: {len(reps.runs)} replication(s), 95% CI over replications",
        f"{'kpi':26s} {'mean':>14s} {'ci_low':>14s} {'ci_high':>14s}",
    ]
    for kpi in KPI_TABLE:
        if kpi not in summary.index:
            continue
        row = summary.loc[kpi]
        cells = " ".join(f"{_fmt(row[c]):>14s}" for c in ("mean", "ci_low", "ci_high"))
        lines.append(f"{kpi:26s} {cells}")
    return lines
