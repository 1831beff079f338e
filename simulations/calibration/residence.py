"""The app's own residence time per request, from its `/metrics` as a run scraped them
(`scrape.csv`: `elapsed_s, target, metric, labels, value`, one row per sample and series).

`surge_http_request_duration_seconds` is the reference app's histogram of the time a request
spends inside it (its middleware's clock). Over a window, the increase of its `_sum` over the
increase of its `_count` (summed over routes, the harness's own `/metrics` and `/healthz` left
out) is the mean residence per request inside the app. At the lowest level of a stepped
calibration (one user: one request inside the app at a time) it is the app's demand as the rig
serves it: its CPU per request divided by the share of a core the app got. With the app's CPU
per request from `telemetry.csv`, the ratio of the two is that share:

    share = CPU seconds per request / residence seconds per request   (at most 1)

At the highest level, when the app holds several requests on average (X R >= SATURATED_INSIDE,
Little's law), it is busy nearly all the time and its completions per second X are its capacity
as the rig serves it (the utilisation law with U = 1): demand 1 / X, share CPU x X. That is the
regime a confirmation runs in, near capacity, where the scheduler may give a busy app's many
runnable threads more (or, with lock convoys, less) than one request alone gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from simulations.calibration.telemetry import _telemetry_start, read_scrape

__all__ = [
    "HARNESS_ROUTES",
    "mean_residence_s",
    "SATURATED_INSIDE",
    "level_residence",
    "run_lowest_level_residence_s",
    "run_open_demand_s",
]

METRIC = "surge_http_request_duration_seconds"
SATURATED_INSIDE = 4.0  # requests inside the app, on average, for it to count as saturated
HARNESS_ROUTES = ("/metrics", "/healthz")


def mean_residence_s(scrape: pd.DataFrame, windows: list[tuple[float, float]]) -> float | None:
    """Mean seconds per request inside the app over the windows (run-start seconds), pooled;
    None when the scrape has no such histogram or no request completed."""
    rows = scrape[scrape["metric"].isin([f"{METRIC}_sum", f"{METRIC}_count"])].copy()
    if rows.empty:
        return None
    rows["route"] = [json.loads(labels).get("route", "") for labels in rows["labels"]]
    rows = rows[~rows["route"].isin(HARNESS_ROUTES)]
    series = rows.pivot_table(index="elapsed_s", columns="metric", values="value", aggfunc="sum")
    total = count = 0.0
    for start_s, end_s in windows:
        inside = series[(series.index >= start_s) & (series.index <= end_s)]
        if len(inside) < 2:
            continue
        grew = inside.iloc[-1] - inside.iloc[0]
        total += float(grew.get(f"{METRIC}_sum", 0.0))
        count += float(grew.get(f"{METRIC}_count", 0.0))
    if count <= 0 or total <= 0:
        return None
    return total / count


def _series(scrape: pd.DataFrame, suffix: str) -> pd.Series:
    rows = scrape[scrape["metric"] == f"{METRIC}_{suffix}"].copy()
    rows["route"] = [json.loads(labels).get("route", "") for labels in rows["labels"]]
    return rows[~rows["route"].isin(HARNESS_ROUTES)].groupby("elapsed_s")["value"].sum()


def level_residence(
    run_dir: str | Path, run_steps: pd.DataFrame, users: int
) -> tuple[float, float] | None:
    """(completions per second, mean residence in seconds) inside the app over the steady
    windows of the steps at `users`, from the run's `scrape.csv`; None without one."""
    run_dir = Path(run_dir)
    scrape = read_scrape(run_dir, {"elapsed_s", "metric", "labels", "value"})
    if scrape is None:
        return None
    start = _telemetry_start(run_dir)
    steps = run_steps[run_steps["users"] == users]
    count, total, span = _series(scrape, "count"), _series(scrape, "sum"), 0.0
    done = spent = 0.0
    for a, b in zip(steps["window_start_s"], steps["end_s"], strict=True):
        lo, hi = float(a) - start, float(b) - start
        c = count[(count.index >= lo) & (count.index <= hi)]
        t = total[(total.index >= lo) & (total.index <= hi)]
        if len(c) < 2 or len(t) < 2:
            continue
        span += float(c.index[-1] - c.index[0])
        done += float(c.iloc[-1] - c.iloc[0])
        spent += float(t.iloc[-1] - t.iloc[0])
    if span <= 0 or done <= 0:
        return None
    return done / span, spent / done


def run_lowest_level_residence_s(run_dir: str | Path, run_steps: pd.DataFrame) -> float | None:
    """Mean residence per request inside the app over a stepped run's lowest level (its steady
    windows), from the run's `scrape.csv`; None without one."""
    run_dir = Path(run_dir)
    scrape = read_scrape(run_dir, {"elapsed_s", "metric", "labels", "value"})
    if scrape is None:
        return None
    start = _telemetry_start(run_dir)
    low = run_steps[run_steps["users"] == run_steps["users"].min()]
    windows = [
        (float(a) - start, float(b) - start)
        for a, b in zip(low["window_start_s"], low["end_s"], strict=True)
    ]
    return mean_residence_s(scrape, windows)


def run_open_demand_s(run_dir: str | Path, settle_s: float = 5.0) -> float | None:
    """The app's demand as the rig served it during an open (unstepped) run: its mean residence
    R and throughput X over the run (its first `settle_s` dropped), inverted as one
    processor-sharing station, D = R / (1 + X R). None without a scrape."""
    run_dir = Path(run_dir)
    try:
        scrape = pd.read_csv(run_dir / "scrape.csv")
        summary = json.loads((run_dir / "summary.json").read_text())
        begin = float(summary["test_start_epoch_s"]) - _telemetry_start(run_dir) + settle_s
        end = begin - settle_s + float(summary["duration_s"])
    except (OSError, KeyError, TypeError, ValueError, pd.errors.ParserError):
        return None
    residence = mean_residence_s(scrape, [(begin, end)])
    if residence is None:
        return None
    rows = scrape[scrape["metric"] == f"{METRIC}_count"].copy()
    rows["route"] = [json.loads(labels).get("route", "") for labels in rows["labels"]]
    counts = rows[~rows["route"].isin(HARNESS_ROUTES)].groupby("elapsed_s")["value"].sum()
    inside = counts[(counts.index >= begin) & (counts.index <= end)]
    span = float(inside.index[-1] - inside.index[0]) if len(inside) > 1 else 0.0
    if span <= 0:
        return None
    throughput = float(inside.iloc[-1] - inside.iloc[0]) / span
    return residence / (1.0 + throughput * residence)
