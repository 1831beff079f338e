"""Sizing: targets on KPIs, and the fewest servers per station that meet them.

Targets are strings such as `"median_time_min<=60"`, `"p_wait<=0.2"`, `"vaccination.p_wait<=0.2"`
or `"p_wait_over_5<=0.1"` (P(wait > 5 min)). A station metric without a station name means the
worst station. `size_center` decides in one of two ways, and says which in its result:

- exact: the config is one M/M/c station (Poisson arrivals, exponential service without shift,
  no walk) and every target is an upper bound on P(wait), mean wait or P(wait > t); the answer
  is the smallest c meeting them by the Erlang C formulas of `simulations.queueing` (steady
  state). With exponential patience (M/M/c+M) the same holds with Erlang A, for P(wait), mean
  wait and abandonment.
- simulation: otherwise. Every candidate staffing is simulated with the same replications
  (common random numbers); a candidate passes when the whole 95% interval of each target metric
  is on the right side of its threshold. The search starts from the least stable staffing and
  adds one server at a time to the station that most reduces the worst normalised violation,
  then tries removing servers it no longer needs. This is a greedy heuristic, not a proof of
  optimality across stations; with one station it is the smallest passing count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulations.center.config import CenterConfig, PoissonArrivals
from simulations.center.report import run_kpis
from simulations.center.simulation import CenterRun, simulate_center
from simulations.distributions import Exponential
from simulations.queueing import erlang_a, erlang_c, mmc_wait_mean, mmc_wait_tail
from simulations.replications import confidence_interval
from surge.errors import SurgeError

__all__ = [
    "CenterSizing",
    "Target",
    "TargetError",
    "center_metric",
    "mmc_metric",
    "parse_target",
    "size_center",
]

_TARGET = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")
_ALIASES = {
    "median_time_min": "time_in_system_min.median",
    "mean_time_min": "time_in_system_min.mean",
    "p90_time_min": "time_in_system_min.p90",
}
_STATION_METRICS = ("p_wait", "mean_wait_min", "utilisation_busy", "mean_queue_length")
_OVER = re.compile(r"^p_wait_over_([0-9.]+)$")


class TargetError(SurgeError, ValueError):
    """A target string that cannot be parsed or refers to an unknown KPI."""


@dataclass(frozen=True)
class Target:
    metric: str
    op: str  # "<=" or ">="
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    def met(self, value: float) -> bool:
        return value <= self.threshold if self.op == "<=" else value >= self.threshold

    def violation(self, value: float) -> float:
        """How far `value` is on the wrong side, relative to the threshold (0 when met)."""
        scale = abs(self.threshold) or 1.0
        gap = value - self.threshold if self.op == "<=" else self.threshold - value
        return max(gap, 0.0) / scale

    def met_with_confidence(self, low: float, high: float) -> bool:
        """The whole interval is on the right side (conservative)."""
        return self.met(high) if self.op == "<=" else self.met(low)


def parse_target(text: str) -> Target:
    match = _TARGET.match(text)
    if not match:
        raise TargetError(f"target {text!r} is not like 'metric<=value' or 'metric>=value'")
    metric, op, raw = match.groups()
    try:
        threshold = float(raw)
    except ValueError:
        raise TargetError(f"target {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(threshold):
        raise TargetError(f"target {text!r}: threshold must be finite")
    return Target(metric, op, threshold)


def _split(metric: str) -> tuple[str | None, str]:
    if "." in metric and not metric.startswith("time_in_system_min."):
        station, name = metric.split(".", 1)
        return station, name
    return None, metric


def center_metric(run: CenterRun, metric: str, kpis: dict[str, float] | None = None) -> float:
    """A target metric of one centre run (station metrics without a station: worst station)."""
    kpis = run_kpis(run) if kpis is None else kpis
    metric = _ALIASES.get(metric, metric)
    station, name = _split(metric)
    over = _OVER.match(name)
    if station is None and name not in _STATION_METRICS and not over:
        if metric not in kpis:
            raise TargetError(f"unknown metric {metric!r}")
        return kpis[metric]
    logs = [log for log in run.stations if log.servers is not None]
    if station is not None:
        logs = [log for log in run.stations if log.name == station]
        if not logs:
            raise TargetError(f"unknown station {station!r} in metric {metric!r}")
    values = []
    for log in logs:
        if over:
            values.append(float((log.wait_min > float(over.group(1))).mean()))
        else:
            key = f"stations.{log.name}.{name}"
            if key not in kpis:
                raise TargetError(f"unknown metric {metric!r}")
            values.append(kpis[key])
    return max(values) if values else 0.0


def mmc_metric(
    metric: str,
    servers: int,
    rate_per_min: float,
    mean_service_min: float,
    mean_patience_min: float | None = None,
) -> float:
    """Steady-state value of a waiting metric in M/M/c (or M/M/c+M with exponential patience,
    Erlang A); inf (or 1 for probabilities) when c does not keep up without abandonment."""
    mu = 1 / mean_service_min
    _, name = _split(_ALIASES.get(metric, metric))
    over = _OVER.match(name)
    if mean_patience_min is not None:
        palm = erlang_a(rate_per_min, mu, servers, 1 / mean_patience_min)
        values = {"p_wait": palm.p_wait, "mean_wait_min": palm.wq, "abandonment": palm.p_abandon}
        if name not in values:
            raise TargetError(f"no exact Erlang A formula for {metric!r}")
        return values[name]
    if name == "p_wait":
        return erlang_c(servers, rate_per_min * mean_service_min)
    if name == "mean_wait_min":
        return mmc_wait_mean(rate_per_min, mu, servers)
    if over:
        return mmc_wait_tail(rate_per_min, mu, servers, float(over.group(1)))
    raise TargetError(f"no exact M/M/c formula for {metric!r}")


def is_mmc(config: CenterConfig) -> bool:
    """One station, Poisson arrivals, exponential service (no shift), exponential or no patience;
    no roster, breaks, finite places, classes, walk-ins or closing time."""
    if len(config.stations) != 1 or config.walk is not None:
        return False
    if config.classes or config.walk_ins is not None or config.closing is not None:
        return False
    station = config.stations[0]
    if station.roster or station.breaks or station.capacity is not None:
        return False
    patience_ok = station.patience is None or (
        isinstance(station.patience, Exponential) and station.patience.shift == 0
    )
    return (
        isinstance(config.arrivals, PoissonArrivals)
        and isinstance(station.service, Exponential)
        and station.service.shift == 0
        and patience_ok
        and station.servers is not None
    )


def _exact_target(target: Target, with_patience: bool) -> bool:
    _, name = _split(_ALIASES.get(target.metric, target.metric))
    if target.op != "<=":
        return False
    if with_patience:
        return name in ("p_wait", "mean_wait_min", "abandonment")
    return name in ("p_wait", "mean_wait_min") or bool(_OVER.match(name))


@dataclass
class CenterSizing:
    """The answer and every staffing evaluated on the way (one row each)."""

    method: str  # "erlang-c (exact)", "erlang-a (exact)" or "simulation"
    targets: list[Target]
    servers: dict[str, int] | None  # None: not reachable within max_servers
    evaluations: list[dict] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return self.servers is not None


def _size_exact(config: CenterConfig, targets: Sequence[Target], max_servers: int) -> CenterSizing:
    station = config.stations[0]
    rate, mean = config.arrival_rate_per_min, station.service.mean_min
    patience = station.patience.mean_min if station.patience is not None else None
    method = "erlang-a (exact)" if patience is not None else "erlang-c (exact)"
    result = CenterSizing(method, list(targets), None)
    first = 1 if patience is not None else math.floor(rate * mean) + 1
    for c in range(first, max_servers + 1):
        row: dict = {"servers." + station.name: c, "total_servers": c}
        passed = True
        for target in targets:
            value = mmc_metric(target.metric, c, rate, mean, patience)
            row[str(target)] = value
            passed &= target.met(value)
        row["meets_targets"] = passed
        result.evaluations.append(row)
        if passed:
            result.servers = {station.name: c}
            return result
    return result


def _evaluate(
    config: CenterConfig,
    servers: dict[str, int],
    targets: Sequence[Target],
    seeds: list[np.random.SeedSequence],
) -> tuple[dict, bool, float]:
    trial = config.with_servers(servers)
    runs = [simulate_center(trial, s) for s in seeds]
    kpis = [run_kpis(run) for run in runs]
    row: dict = {f"servers.{k}": v for k, v in servers.items()}
    row["total_servers"] = sum(servers.values())
    passed, worst = True, 0.0
    for target in targets:
        values = np.array(
            [center_metric(r, target.metric, k) for r, k in zip(runs, kpis, strict=True)]
        )
        mean, low, high = confidence_interval(values)
        if len(values) < 2:
            low = high = mean
        row[str(target)] = mean
        row[f"{target} ci_low"], row[f"{target} ci_high"] = low, high
        passed &= target.met_with_confidence(low, high)
        worst = max(worst, target.violation(high if target.op == "<=" else low))
    row["meets_targets"] = passed
    return row, passed, worst


def _start(config: CenterConfig) -> dict[str, int]:
    start = {}
    for station in config.stations:
        if station.servers is None:
            continue
        load = config.arrival_rate_per_min * station.service.mean_min
        start[station.name] = 1 if station.patience is not None else math.floor(load) + 1
    return start


def size_center(
    config: CenterConfig,
    targets: Sequence[Target],
    *,
    replications: int = 10,
    seed: int = 1,
    max_servers: int = 200,
    method: str = "auto",
    progress: Callable[[dict], None] | None = None,
) -> CenterSizing:
    """Fewest servers per station meeting every target (see the module docstring)."""
    if not targets:
        raise TargetError("give at least one --target")
    with_patience = config.stations[0].patience is not None
    exact_possible = is_mmc(config) and all(_exact_target(t, with_patience) for t in targets)
    if method == "exact" and not exact_possible:
        raise TargetError("exact sizing needs one M/M/c(+M) station and targets on waits only")
    if method in ("auto", "exact") and exact_possible:
        return _size_exact(config, targets, max_servers)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    current = _start(config)
    if not current:
        raise TargetError("the config has no station with a finite number of servers")
    result = CenterSizing("simulation", list(targets), None)
    seen: dict[tuple[int, ...], tuple[bool, float]] = {}

    def evaluate(servers: dict[str, int]) -> tuple[bool, float]:
        key = tuple(servers.values())
        if key in seen:
            return seen[key]
        row, passed, worst = _evaluate(config, servers, targets, seeds)
        seen[key] = (passed, worst)
        result.evaluations.append(row)
        if progress is not None:
            progress(row)
        return passed, worst

    if any(v > max_servers for v in current.values()):
        return result
    passed, _ = evaluate(current)
    while not passed:
        best = None
        for name in current:
            if current[name] + 1 > max_servers:
                continue
            trial = {**current, name: current[name] + 1}
            trial_passed, worst = evaluate(trial)
            if trial_passed:
                best = (trial, True, -1.0)
                break
            if best is None or worst < best[2]:
                best = (trial, False, worst)
        if best is None:
            return result
        current, passed = best[0], best[1]
    for name in current:  # prune: take back servers no longer needed
        while current[name] > 1:
            trial = {**current, name: current[name] - 1}
            trial_passed, _ = evaluate(trial)
            if not trial_passed:
                break
            current = trial
    result.servers = current
    return result
