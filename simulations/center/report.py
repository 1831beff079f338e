"""KPIs of centre runs, replications with 95% intervals, `summary.json` and queue-length plots.

A run's KPIs are one flat record (`stations.<name>.mean_wait_min`...); replications stack them in
a DataFrame; `summary_document` nests the means back into the `summary.json` shape and adds a
`ci95` mirror holding `[low, high]` intervals when there are several replications.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulations.center.config import CenterConfig
from simulations.center.roster import rostered_minutes
from simulations.center.simulation import CenterRun, StationLog, simulate_center
from simulations.replications import confidence_interval

__all__ = [
    "CenterReplications",
    "run_center_replications",
    "run_kpis",
    "summary_document",
    "write_center_outputs",
]

GRID_STEP_MIN = 1.0


def time_average(times: np.ndarray, levels: np.ndarray, until: float) -> float:
    """Time-average of a step function (level from each instant on) over [0, until]."""
    if until <= 0:
        return 0.0
    edges = np.append(np.minimum(times, until), until)
    return float(np.sum(levels * np.diff(edges)) / until)


def _station_kpis(config: CenterConfig, run: CenterRun, log: StationLog) -> dict[str, float]:
    station = config.station(log.name)
    came = len(run.arrival_min)
    reached = len(log.arrive_min)
    rate_per_min = config.arrival_rate_per_min * (reached / came if came else 0.0)
    end = log.last_departure_min
    busy = float(log.service_min.sum())
    out = {
        "reached": float(reached),
        "offered_load_erlangs": rate_per_min * station.service.mean_min,
        "mean_wait_min": float(log.wait_min.mean()) if reached else 0.0,
        "p_wait": float((log.wait_min > 1e-9).mean()) if reached else 0.0,
        "abandoned": float(log.abandoned.sum()),
        "mean_queue_length": time_average(log.queue_times_min, log.queue_lengths, end),
        "blocked_min": log.blocked_min,
        "overtime_min": max(0.0, end - config.admission_end_min) if reached else 0.0,
    }
    if station.servers is None:
        for key in ("utilisation_offered", "utilisation_busy", "staff_hours_rostered"):
            out[key] = math.nan
        for key in ("staff_hours_overtime", "staff_hours_busy", "break_hours"):
            out[key] = math.nan
        return out
    # The roster's day: to closing (or the end of admissions) or the roster's last interval.
    day_end = max([config.admission_end_min, *(s.to_min for s in station.roster)])
    rostered = rostered_minutes(station.roster, station.servers, day_end)
    paid = rostered_minutes(station.roster, station.servers, max(day_end, end))
    window = config.open_minutes
    mean_on_duty = rostered_minutes(station.roster, station.servers, window) / window
    out["utilisation_offered"] = (
        out["offered_load_erlangs"] / mean_on_duty if mean_on_duty > 0 else math.nan
    )
    available = rostered_minutes(station.roster, station.servers, end) - log.break_min
    out["utilisation_busy"] = busy / available if available > 0 else 0.0
    out["staff_hours_rostered"] = rostered / 60
    out["staff_hours_overtime"] = (paid - rostered) / 60
    out["staff_hours_busy"] = busy / 60
    out["break_hours"] = log.break_min / 60
    return out


def run_kpis(run: CenterRun) -> dict[str, float]:
    """One flat record of a run's KPIs."""
    served = ~np.isnan(run.departure_min)
    time_in_system = (run.departure_min - run.arrival_min)[served]
    last = float(np.nanmax(run.departure_min)) if served.any() else 0.0
    came = len(run.arrival_min)
    closing = run.config.admission_end_min
    left = run.exit_min if run.exit_min is not None else np.full(came, np.inf)
    record: dict[str, float] = {
        "arrived": float(run.booked),
        "no_shows": float(run.no_shows),
        "turned_away": float(run.turned_away),
        "stranded": float(run.stranded),
        "deadlock": float(run.deadlock),
        "inside_at_closing": float(((run.arrival_min < closing) & (left > closing)).sum()),
        "overtime_min": max(0.0, last - closing),
        "served": float(served.sum()),
        "abandoned": float((run.abandoned_at >= 0).sum()),
        "abandonment": float((run.abandoned_at >= 0).sum() / came) if came else 0.0,
        "throughput_per_hour": float(served.sum() / (last / 60)) if last > 0 else 0.0,
    }
    for name, q in (("mean", None), ("median", 50), ("p90", 90)):
        if not time_in_system.size:
            value = math.nan
        elif q is None:
            value = float(time_in_system.mean())
        else:
            value = float(np.percentile(time_in_system, q))
        record[f"time_in_system_min.{name}"] = value
    totals = dict.fromkeys(
        ("staff_hours_rostered", "staff_hours_overtime", "staff_hours_busy"), 0.0
    )
    for log in run.stations:
        for key, value in _station_kpis(run.config, run, log).items():
            record[f"stations.{log.name}.{key}"] = value
            if key in totals and not math.isnan(value):
                totals[key] += value
    record.update(totals)
    record["staff_hours_paid"] = totals["staff_hours_rostered"] + totals["staff_hours_overtime"]
    return record


def queue_length_grid(run: CenterRun, until_min: float) -> dict[str, np.ndarray]:
    """Per station, the number waiting (or, for a pure delay, present) on a 1-minute grid."""
    grid = np.arange(0.0, until_min + GRID_STEP_MIN, GRID_STEP_MIN)
    out = {}
    for log in run.stations:
        if log.servers is None:
            starts = np.sort(log.arrive_min)
            ends = np.sort(log.arrive_min + log.service_min)
            present = np.searchsorted(starts, grid, "right") - np.searchsorted(ends, grid, "right")
            out[log.name] = present.astype(float)
        else:
            index = np.searchsorted(log.queue_times_min, grid, "right") - 1
            out[log.name] = log.queue_lengths[np.maximum(index, 0)].astype(float)
    return out


@dataclass(frozen=True)
class CenterReplications:
    config: CenterConfig
    seed: int
    kpis: pd.DataFrame  # one row per replication
    queue_grid_min: np.ndarray
    mean_queue: dict[str, np.ndarray]  # mean over replications, per station, on the grid

    def summary(self) -> pd.DataFrame:
        rows = []
        for column in self.kpis.columns:
            mean, low, high = confidence_interval(self.kpis[column].to_numpy())
            rows.append({"kpi": column, "mean": mean, "ci_low": low, "ci_high": high})
        return pd.DataFrame(rows).set_index("kpi")


def run_center_replications(
    config: CenterConfig, replications: int, seed: int, *, keep_queues: bool = True
) -> CenterReplications:
    """Replication r always uses child r of `SeedSequence(seed)`: common random numbers."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    children = np.random.SeedSequence(seed).spawn(replications)
    records, grids = [], []
    horizon = 0.0
    runs = []
    for child in children:
        run = simulate_center(config, child)
        records.append(run_kpis(run))
        if keep_queues:
            runs.append(run)
            horizon = max(horizon, float(np.nanmax(run.departure_min, initial=0.0)))
    grid = np.arange(0.0, horizon + GRID_STEP_MIN, GRID_STEP_MIN)
    mean_queue: dict[str, np.ndarray] = {}
    if runs:
        grids = [queue_length_grid(run, horizon) for run in runs]
        for name in grids[0]:
            mean_queue[name] = np.mean([g[name] for g in grids], axis=0)
    return CenterReplications(config, seed, pd.DataFrame(records), grid, mean_queue)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def summary_document(reps: CenterReplications) -> dict[str, Any]:
    """The `summary.json` content: means (plus `ci95` intervals with several replications)."""
    summary = reps.summary()
    means = {k: _clean(float(v)) for k, v in summary["mean"].items()}
    for name in ("arrived", "no_shows", "served", "abandoned", "turned_away", "stranded"):
        means[name] = round(means[name], 2)
    finite = [s.name for s in reps.config.stations if s.servers is not None]
    worst = max(finite, key=lambda n: means[f"stations.{n}.utilisation_offered"], default=None)
    for station in reps.config.stations:
        offered = means[f"stations.{station.name}.utilisation_offered"]
        limiting = station.name == worst or (offered is not None and offered >= 1)
        servers = "roster" if station.roster else station.servers
        means[f"stations.{station.name}.servers"] = "infinite" if servers is None else servers
        if station.capacity is not None:
            means[f"stations.{station.name}.capacity"] = station.capacity
        means[f"stations.{station.name}.bottleneck"] = bool(limiting)
    doc = {
        "center": reps.config.name,
        "replications": len(reps.kpis),
        "seed": reps.seed,
        **_nest(means),
    }
    if len(reps.kpis) > 1:
        intervals = {
            k: [_clean(float(summary.at[k, "ci_low"])), _clean(float(summary.at[k, "ci_high"]))]
            for k in summary.index
        }
        doc["ci95"] = _nest(intervals)
    return doc


def plot_queue_lengths(reps: CenterReplications, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delays = [s for s in reps.config.stations if s.servers is None]
    rows = 2 if delays else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 3.2 * rows + 1), sharex=True, squeeze=False)
    hours = reps.queue_grid_min / 60
    for station in reps.config.stations:
        ax = axes[1, 0] if station.servers is None else axes[0, 0]
        ax.step(hours, reps.mean_queue[station.name], where="post", label=station.name)
    axes[0, 0].set_ylabel("patients queueing")
    axes[0, 0].set_title(
        f"{reps.config.name}: mean over {len(reps.kpis)} replication(s), 1-minute grid"
    )
    if delays:
        axes[1, 0].set_ylabel("patients present\n(no-queue stations)")
    axes[-1, 0].set_xlabel("hours after opening")
    for ax in axes[:, 0]:
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_center_outputs(reps: CenterReplications, out_dir: Path) -> dict[str, Any]:
    """Write summary.json, replications.csv and queue_lengths.png; return the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = summary_document(reps)
    (out_dir / "summary.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    reps.kpis.to_csv(out_dir / "replications.csv", index_label="replication")
    plot_queue_lengths(reps, out_dir / "queue_lengths.png")
    return doc
