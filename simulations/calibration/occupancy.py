"""The app's speed as a function of how many requests it holds, measured per load level.

A Python worker serving k requests at once does not spend the same CPU per request as one
serving one: thread switches, GIL hand-offs and lock convoys add work that grows with k, while
at the lowest levels each request also pays the cost of waking an idle process. A stepped run
measures it directly, per level:

- `cpu_ms_per_request`: the app's CPU seconds over the level's steady windows
  (`telemetry.csv`) divided by the requests completed in them (the utilisation law);
- `inside`: the mean requests inside the app, X R by Little's law with R the app's own mean
  residence (its `/metrics` histogram in `scrape.csv`; `residence`), else the user count (a
  closed loop with no think time holds at most that many);
- `utilisation`: CPU seconds per second.

`fit_occupancy` fits the CPU per request against u, the requests each worker holds, over the
rising branch: the levels from the cheapest one up (at least two). Below it the wake-up cost
dominates and does not extend upwards. Two forms, both with b >= 0:

- `linear`: D(u) = a + b u, network stretch 1 + g (u - 1), g = b / (a + b);
- `log`: D(u) = a + b ln u, network stretch 1 + g ln u, g = b / a;

and the demand at one request per worker, D(1), is what the network serves. The form is chosen
inside the fit levels only: each is fitted without the highest fit level and predicts its CPU
per request; the smaller error wins (`log` when the branch has fewer than three levels: the
cost of one more request falls as requests pile up, as thread switches batch).

`share` is the part of a core each app server had while saturated: the app's CPU seconds per
second pooled over the fit levels where it held at least `SATURATED_INSIDE` requests (else 1).
On a machine shared with other work, or where the app waits on something outside its CPU, the
app's station serves at that speed: its demand in the network is D / share.

    levels = level_table(run_dir, run.steps, run.requests, fit_levels)
    fit = fit_occupancy(levels, workers=1)
    fit.stretch_per_request, fit.demand_at_one_s, fit.share
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from simulations.calibration.residence import SATURATED_INSIDE, level_residence
from simulations.calibration.telemetry import _telemetry_start, read_telemetry, step_cpu_demands

__all__ = ["OccupancyFit", "demand_ms", "fit_occupancy", "level_table"]


@dataclass(frozen=True)
class OccupancyFit:
    """D(k) = a + b k per worker, fitted on `fit_users`; the app's core share when saturated."""

    base_s: float  # a
    per_request_s: float  # b (>= 0)
    share: float
    fit_users: tuple[int, ...]
    inside_source: str  # "scrape" (Little's law on the app's residence) or "users"
    form: Literal["linear", "log"] = "linear"
    selection: tuple[tuple[str, float], ...] = ()  # (form, error predicting the top fit level)

    def demand_s(self, inside_per_worker: float) -> float:
        return float(_curve(self.form, self.base_s, self.per_request_s, inside_per_worker))

    @property
    def demand_at_one_s(self) -> float:
        """CPU seconds per request with one request per worker, D(1)."""
        return self.demand_s(1.0)

    @property
    def stretch_per_request(self) -> float:
        """g of the network's stretch (`PlatformNetwork.cpu_stretch`)."""
        return self.per_request_s / self.demand_at_one_s

    def as_record(self) -> dict[str, object]:
        return {
            "base_ms": self.base_s * 1000.0,
            "per_request_ms": self.per_request_s * 1000.0,
            "demand_at_one_ms": self.demand_at_one_s * 1000.0,
            "stretch_per_request": self.stretch_per_request,
            "form": self.form,
            "selection_error": dict(self.selection),
            "share": self.share,
            "fit_users": list(self.fit_users),
            "inside_source": self.inside_source,
        }


def level_table(
    run_dir: str | Path, run_steps: pd.DataFrame, run_requests: pd.DataFrame, levels: list[int]
) -> pd.DataFrame | None:
    """Per level in `levels`: users, throughput, app CPU per request, utilisation and requests
    inside the app (flat records). None when the run has no `telemetry.csv`."""
    run_dir = Path(run_dir)
    path = run_dir / "telemetry.csv"
    if not path.is_file():
        return None
    start = _telemetry_start(run_dir)
    steps = run_steps[run_steps["users"].isin(levels)]
    windows = steps.assign(
        window_start_s=steps["window_start_s"] - start, end_s=steps["end_s"] - start
    )
    demands = step_cpu_demands(read_telemetry(path), windows, run_requests)
    app = demands[demands["role"] == "app"].merge(windows[["step", "users"]], on="step")
    span = (windows["end_s"] - windows["window_start_s"]).groupby(windows["users"]).sum()
    rows = []
    for users, g in app.groupby("users"):
        done, cpu = float(g["requests"].sum()), float(g["cpu_s"].sum())
        if done <= 0 or cpu <= 0:
            continue
        x = done / float(span[users])
        residence = level_residence(run_dir, run_steps, int(users))
        inside, source = (x * residence[1], "scrape") if residence else (float(users), "users")
        rows.append(
            {
                "users": int(users),
                "throughput_per_s": x,
                "cpu_ms_per_request": 1000.0 * cpu / done,
                "utilisation": cpu / float(span[users]),
                "inside": min(inside, float(users)),
                "inside_source": source,
            }
        )
    return pd.DataFrame(rows) if rows else None


def _curve(form: str, a: float, b: float, u) -> np.ndarray:
    u = np.maximum(np.asarray(u, dtype=float), 1.0)
    return a + b * (np.log(u) if form == "log" else u)


def demand_ms(record: dict, inside_per_worker: float) -> float:
    """D(u) in ms from an `OccupancyFit.as_record()` (as `validation.json` keeps it)."""
    form = record.get("form", "linear")
    return float(_curve(form, record["base_ms"], record["per_request_ms"], inside_per_worker))


def _fit_form(form: str, u: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """(a, b) by least squares with b >= 0 (flat at the mean when the slope comes out < 0)."""
    x = np.log(u) if form == "log" else u
    if len(x) >= 2 and np.ptp(x) > 0:
        b, a = np.polyfit(x, d, 1)
        if b > 0:
            return float(a), float(b)
    return float(d.mean()), 0.0


def fit_occupancy(
    levels: pd.DataFrame, workers: int = 1, servers: int | None = None
) -> OccupancyFit:
    """D(u) over the rising branch of `level_table`'s rows (u: inside per worker), its form
    chosen inside the fit levels; the share is per app server (`servers`, default `workers`:
    min(cores, workers))."""
    servers = workers if servers is None else servers
    if workers < 1 or servers < 1:
        raise ValueError(f"workers and servers must be >= 1 (got {workers}, {servers})")
    if levels is None or levels.empty:
        raise ValueError("no level with app CPU and completed requests")
    table = levels.sort_values("inside").reset_index(drop=True)
    u = np.maximum(table["inside"].to_numpy() / workers, 1.0)
    d = table["cpu_ms_per_request"].to_numpy() / 1000.0
    low = int(np.argmin(d))
    low = min(low, len(d) - 2) if len(d) >= 2 else 0
    uu, dd = u[low:], d[low:]
    selection: list[tuple[str, float]] = []
    if len(uu) >= 3:
        for form in ("linear", "log"):
            a, b = _fit_form(form, uu[:-1], dd[:-1])
            selection.append((form, float(abs(_curve(form, a, b, uu[-1]) - dd[-1]) / dd[-1])))
        form = min(selection, key=lambda item: item[1])[0]
    else:
        form = "log"
    a, b = _fit_form(form, uu, dd)
    a = max(a, 1e-3 * float(dd.min()))
    busy = table[table["inside"] >= SATURATED_INSIDE]
    # CPU seconds per second, the mean over the saturated levels
    busy_share = float(np.clip(busy["utilisation"].mean() / servers, 0.05, 1.0))
    share = 1.0 if busy.empty else busy_share
    return OccupancyFit(
        base_s=a,
        per_request_s=b,
        share=share,
        fit_users=tuple(int(x) for x in table["users"].iloc[low:]),
        inside_source=str(table["inside_source"].iloc[0]),
        form=form,  # type: ignore[arg-type]
        selection=tuple(selection),
    )
