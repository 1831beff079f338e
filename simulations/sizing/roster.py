"""Roster sizing: the cheapest staff roster (servers per station per period) meeting targets.

The day up to closing (or the end of admissions) is cut into periods of `period_min`; each
staffed station gets a server count per period (the last count also covers overtime). The cost
of a roster is sum over stations of cost per staff-hour x rostered staff-hours (cost 1 for every
role unless given), so with equal costs it is the staff-hours rostered.

Every candidate runs the same replications (common random numbers) and passes when the whole
confidence interval of each target is on the right side of its threshold. Because one search
tests many candidates on the same seeds, the intervals are Bonferroni-corrected: with at most
`max_evaluations` candidates and k targets, each interval has level 1 - alpha / (max_evaluations
x k), so the chance that any "pass" anywhere in the search is wrong is at most alpha. The search
stops, undecided, if it would need more evaluations than that budget.

The search, in three steps:

1. Feasible start: from the stable counts (offered load + 1, per station, in every period),
   add one server where it most reduces the worst normalised violation until the targets pass.
2. Exhaustive box: when the box below that start (each count from max(1, start - span) to
   start) holds at most `exhaustive_max` rosters, evaluate them in increasing cost and keep the
   first that passes: the cheapest roster of the box.
3. Descent with a certificate: from the best roster so far, try every single removal (one
   server fewer in one period of one station) in decreasing cost saving, move to the first that
   passes, repeat. It ends at a roster where no single removal meets the targets, and the
   evaluated removals, each with the target it fails and that target's interval, are returned as
   the proof of local optimality.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from simulations.center.config import CenterConfig
from simulations.center.report import run_kpis
from simulations.center.roster import Shift
from simulations.center.simulation import simulate_center
from simulations.replications import confidence_interval
from simulations.sizing.center import Target, TargetError, center_metric

__all__ = ["RosterSizing", "apply_roster", "roster_cost", "size_roster"]

Roster = dict[str, tuple[int, ...]]


@dataclass
class RosterSizing:
    targets: list[Target]
    periods_min: list[tuple[float, float]]
    costs: dict[str, float]
    confidence: float  # per-interval level after the Bonferroni correction
    roster: Roster | None = None  # None: no answer (unreachable or budget exhausted)
    cost: float | None = None
    method: str = ""  # how the answer was found
    intervals: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    certificate: list[dict] = field(default_factory=list)  # the answer's single removals
    evaluations: list[dict] = field(default_factory=list)
    budget_exhausted: bool = False


def _periods(config: CenterConfig, period_min: float) -> list[tuple[float, float]]:
    end = config.admission_end_min
    if period_min <= 0 or period_min >= end:
        return [(0.0, end)]
    starts = np.arange(0.0, end, period_min)
    return [(float(s), float(min(s + period_min, end))) for s in starts]


def apply_roster(
    config: CenterConfig, periods: Sequence[tuple[float, float]], roster: Roster
) -> CenterConfig:
    """A copy whose stations in `roster` follow its counts (the last count after the periods)."""
    stations = []
    for station in config.stations:
        counts = roster.get(station.name)
        if counts is None:
            stations.append(station)
            continue
        shifts = tuple(Shift(a, b, c) for (a, b), c in zip(periods, counts, strict=True))
        stations.append(replace(station, servers=counts[-1], roster=shifts))
    return replace(config, stations=tuple(stations))


def roster_cost(
    periods: Sequence[tuple[float, float]], roster: Roster, costs: Mapping[str, float]
) -> float:
    return sum(
        costs.get(name, 1.0)
        * sum(c * (b - a) / 60 for (a, b), c in zip(periods, counts, strict=True))
        for name, counts in roster.items()
    )


def size_roster(
    config: CenterConfig,
    targets: Sequence[Target],
    *,
    period_min: float = 0.0,
    costs: Mapping[str, float] | None = None,
    replications: int = 10,
    seed: int = 1,
    alpha: float = 0.05,
    max_evaluations: int = 200,
    exhaustive_max: int = 64,
    span: int = 2,
    max_servers: int = 200,
    progress: Callable[[dict], None] | None = None,
) -> RosterSizing:
    """The cheapest roster meeting every target (see the module docstring)."""
    if not targets:
        raise TargetError("give at least one --target")
    if not 0 < alpha < 1:
        raise TargetError(f"alpha must be between 0 and 1, got {alpha}")
    if replications < 2:
        raise TargetError("roster sizing needs at least 2 replications for its intervals")
    staffed = [s for s in config.stations if s.servers is not None]
    if not staffed:
        raise TargetError("the config has no station with a finite number of servers")
    costs = dict(costs or {})
    for name in costs:
        config.station(name)
    periods = _periods(config, period_min)
    level = 1 - alpha / (max_evaluations * len(targets))
    result = RosterSizing(list(targets), periods, costs, level)
    seeds = np.random.SeedSequence(seed).spawn(replications)
    seen: dict[tuple, tuple[bool, float, dict]] = {}

    class Budget(Exception):
        pass

    def evaluate(roster: Roster) -> tuple[bool, float, dict]:
        key = tuple(roster[s.name] for s in staffed)
        if key in seen:
            return seen[key]
        if len(seen) >= max_evaluations:
            raise Budget
        trial = apply_roster(config, periods, roster)
        runs = [simulate_center(trial, s) for s in seeds]
        kpis = [run_kpis(run) for run in runs]
        row: dict = {f"roster.{k}": "/".join(map(str, v)) for k, v in roster.items()}
        row["cost"] = roster_cost(periods, roster, costs)
        passed, worst, intervals = True, 0.0, {}
        for target in targets:
            values = np.array(
                [center_metric(r, target.metric, k) for r, k in zip(runs, kpis, strict=True)]
            )
            mean, low, high = confidence_interval(values, level)
            intervals[str(target)] = (mean, low, high)
            row[str(target)], row[f"{target} ci_low"], row[f"{target} ci_high"] = mean, low, high
            ok = target.met_with_confidence(low, high)
            passed &= ok
            worst = max(worst, target.violation(high if target.op == "<=" else low))
        row["meets_targets"] = passed
        result.evaluations.append(row)
        if progress is not None:
            progress(row)
        seen[key] = (passed, worst, intervals)
        return seen[key]

    def cost(roster: Roster) -> float:
        return roster_cost(periods, roster, costs)

    load = {
        s.name: config.arrival_rate_per_min * config.visit_share(s.name) * s.service.mean_min
        for s in staffed
    }
    start = {
        s.name: tuple(
            [1 if s.patience is not None else math.floor(load[s.name]) + 1] * len(periods)
        )
        for s in staffed
    }
    try:
        current = start
        passed, _, _ = evaluate(current)
        while not passed:  # 1. feasible start
            best = None
            for name, counts in current.items():
                for p in range(len(periods)):
                    if counts[p] + 1 > max_servers:
                        continue
                    trial = {**current, name: counts[:p] + (counts[p] + 1,) + counts[p + 1 :]}
                    ok, worst, _ = evaluate(trial)
                    key = (not ok, worst, cost(trial))
                    if best is None or key < best[0]:
                        best = (key, trial, ok)
            if best is None:
                return result  # unreachable within max_servers
            current, passed = best[1], best[2]
        result.method = "greedy start"
        ranges = {
            n: [range(max(1, c - span), c + 1) for c in counts] for n, counts in current.items()
        }
        size = math.prod(len(r) for rs in ranges.values() for r in rs)
        if size <= exhaustive_max:  # 2. exhaustive box
            names = list(ranges)
            boxes = itertools.product(*[itertools.product(*ranges[n]) for n in names])
            for candidate in sorted((dict(zip(names, b, strict=True)) for b in boxes), key=cost):
                if evaluate(candidate)[0]:
                    current = candidate
                    result.method = f"exhaustive over {size} rosters (span {span})"
                    break
        while True:  # 3. descent to a roster no single removal improves
            removals = []
            for name, counts in current.items():
                for p in range(len(periods)):
                    if counts[p] > 1:
                        removals.append(
                            {**current, name: counts[:p] + (counts[p] - 1,) + counts[p + 1 :]}
                        )
            removals.sort(key=cost)
            moved = False
            for trial in removals:
                if evaluate(trial)[0]:
                    current, moved = trial, True
                    result.method += " + descent"
                    break
            if not moved:
                break
    except Budget:
        result.budget_exhausted = True
        return result
    result.roster, result.cost = current, cost(current)
    result.intervals = seen[tuple(current[s.name] for s in staffed)][2]
    for trial in removals:
        _, _, intervals = seen[tuple(trial[s.name] for s in staffed)]
        changed = next(
            (n, p) for n in trial for p in range(len(periods)) if trial[n][p] != current[n][p]
        )
        failing = [
            {
                "target": str(t),
                "mean": intervals[str(t)][0],
                "low": intervals[str(t)][1],
                "high": intervals[str(t)][2],
            }
            for t in targets
            if not t.met_with_confidence(intervals[str(t)][1], intervals[str(t)][2])
        ]
        result.certificate.append(
            {
                "station": changed[0],
                "period": list(periods[changed[1]]),
                "servers": trial[changed[0]][changed[1]],
                "fails": failing,
            }
        )
    return result
