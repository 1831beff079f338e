"""The arrival curve: visitors per minute reaching the booking section, t minutes after the start.

The load tests' replay shape samples `arrival_rate_per_min`, scales it down and compresses time;
the national model draws non-homogeneous Poisson arrivals from `arrivals_per_tick`.

Parametric curve (see `simulations.scenario.demand.Demand`): `baseline_per_min` plus
`surge_visitors * g(t)`, where g is zero before the onset, rises linearly over `ramp_min`, holds
for `peak_hold_min`, then decays as a mix of two exponentials; g integrates to 1 over
[onset, infinity), so `surge_visitors` is the surge's total (a little of its tail can fall after
the end of a scenario). A table replaces the curve by linear interpolation between its points.

`clock_start_min` (minutes after local midnight at which the scenario starts) places the
hourly `daily_profile` and the days after the surge (`after_visitors_per_day`); both terms are
constant within a clock hour, so their integral is exact on a grid of hour boundaries.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from simulations.scenario.demand import Demand

__all__ = [
    "arrival_rate_per_min",
    "arrival_rates_per_min",
    "arrivals_per_tick",
    "cumulative_arrivals",
]


def arrival_rate_per_min(demand: Demand, t_min: float, clock_start_min: float = 0.0) -> float:
    """Visitors per minute arriving `t_min` minutes after the scenario start."""
    t = np.asarray([t_min], dtype=float)
    return float(arrival_rates_per_min(demand, t, clock_start_min)[0])


def arrival_rates_per_min(
    demand: Demand, t_min: ArrayLike, clock_start_min: float = 0.0
) -> NDArray[np.float64]:
    """Vectorised `arrival_rate_per_min`."""
    t = np.asarray(t_min, dtype=float)
    if demand.table_min:
        return np.interp(t, demand.table_min, demand.table_per_min)
    surge = demand.surge_visitors * _shape(demand, t) / _area(demand)
    return _hourly_rates(demand, t, clock_start_min) + surge


def cumulative_arrivals(
    demand: Demand, t_min: ArrayLike, clock_start_min: float = 0.0
) -> NDArray[np.float64]:
    """Expected arrivals in [0, t] (exact for the parametric curve and the table)."""
    t = np.asarray(t_min, dtype=float)
    if demand.table_min:
        grid = np.union1d(np.asarray(demand.table_min, dtype=float), np.atleast_1d(t))
        rates = np.interp(grid, demand.table_min, demand.table_per_min)
        cum = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (rates[1:] + rates[:-1]) / 2)])
        return np.interp(t, grid, cum)
    surge = demand.surge_visitors * _shape_integral(demand, t) / _area(demand)
    return _hourly_integral(demand, t, clock_start_min) + surge


def arrivals_per_tick(
    demand: Demand, duration_min: float, tick_s: float, clock_start_min: float = 0.0
) -> NDArray[np.float64]:
    """Expected arrivals in each tick of `tick_s` seconds over the scenario (exact integral)."""
    n_ticks = int(np.ceil(duration_min * 60.0 / tick_s))
    edges = np.minimum(np.arange(n_ticks + 1) * tick_s / 60.0, duration_min)
    return np.diff(cumulative_arrivals(demand, edges, clock_start_min))


def _hourly_rates(d: Demand, t: NDArray[np.float64], clock_start_min: float) -> NDArray[np.float64]:
    """Baseline times the hour's multiplier, plus the visitors of the days after the surge."""
    if not d.daily_profile and not d.after_visitors_per_day:
        return np.full_like(t, d.baseline_per_min)
    local = clock_start_min + t
    hour = (np.floor(local / 60.0) % 24).astype(np.int64)
    weights = np.asarray(d.daily_profile or [1.0] * 24, dtype=float)
    rates = d.baseline_per_min * weights[hour]
    if d.after_visitors_per_day:
        day = np.floor(local / 1440.0)
        per_day = d.after_visitors_per_day * d.after_decay_per_day ** np.maximum(day - 1, 0)
        share_per_min = weights[hour] / (weights.sum() * 60.0)
        rates = rates + np.where(day >= 1, per_day * share_per_min, 0.0)
    return rates


def _hourly_integral(
    d: Demand, t: NDArray[np.float64], clock_start_min: float
) -> NDArray[np.float64]:
    if not d.daily_profile and not d.after_visitors_per_day:
        return d.baseline_per_min * t
    end = max(float(np.max(t, initial=0.0)), 0.0)
    first = (60.0 - clock_start_min % 60.0) % 60.0
    edges = np.union1d([0.0, end], np.arange(first, end, 60.0))
    if len(edges) < 2:
        return np.zeros_like(t)
    rates = _hourly_rates(d, (edges[1:] + edges[:-1]) / 2.0, clock_start_min)
    cum = np.concatenate([[0.0], np.cumsum(np.diff(edges) * rates)])
    return np.interp(t, edges, cum)


def _area(d: Demand) -> float:
    decay = d.slow_share * d.decay_slow_min + (1.0 - d.slow_share) * d.decay_fast_min
    return d.ramp_min / 2.0 + d.peak_hold_min + decay


def _shape(d: Demand, t: NDArray[np.float64]) -> NDArray[np.float64]:
    s = t - d.onset_min
    ramp = np.clip(s / d.ramp_min, 0.0, 1.0)
    after = np.maximum(s - d.ramp_min - d.peak_hold_min, 0.0)
    decay = d.slow_share * np.exp(-after / d.decay_slow_min) + (1.0 - d.slow_share) * np.exp(
        -after / d.decay_fast_min
    )
    return np.where(s <= 0, 0.0, ramp * decay)


def _shape_integral(d: Demand, t: NDArray[np.float64]) -> NDArray[np.float64]:
    s = np.maximum(t - d.onset_min, 0.0)
    in_ramp = np.minimum(s, d.ramp_min)
    ramp = in_ramp**2 / (2.0 * d.ramp_min)
    hold = np.clip(s - d.ramp_min, 0.0, d.peak_hold_min)
    after = np.maximum(s - d.ramp_min - d.peak_hold_min, 0.0)
    decay = d.slow_share * d.decay_slow_min * (-np.expm1(-after / d.decay_slow_min)) + (
        1.0 - d.slow_share
    ) * d.decay_fast_min * (-np.expm1(-after / d.decay_fast_min))
    return ramp + hold + decay
