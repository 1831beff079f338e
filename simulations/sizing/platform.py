"""Platform sizing: the smallest value of one scenario knob that meets opening-day targets.

Knob values are evaluated with the national opening-day model, every value with the same
replication seeds (common random numbers), through the sweep engine (so in parallel). First a
grid of `points` values over [low, high]; then, assuming more of the knob never hurts,
bisection between the largest failing and the smallest passing value (`refine` steps; integer
knobs stop when the two are adjacent). A value passes when the 95% interval of every target KPI
lies on the right side of its threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from simulations.replications import confidence_interval
from simulations.sizing.center import Target, TargetError
from simulations.sweep import run_sweep, scenario_kpis

if TYPE_CHECKING:
    from simulations.scenario.slo import Slo

__all__ = ["PlatformSizing", "knob_value", "size_platform", "slo_targets"]

ALIASES = {
    "waiting_room_p95_min": "wr_wait_p95_min",
    "waiting_room_p50_min": "wr_wait_p50_min",
    "waiting_room_max_min": "wr_wait_max_min",
}


def slo_targets(slo: Slo) -> list[Target]:
    """A scenario's SLO as targets on the opening-day model's KPIs: the error rate and the
    journey's booking success, waiting-room waits (p95, longest) and abandonment. Per-request
    latencies and overbooking have no model KPI; the load tests judge them."""
    journey = slo.journey
    return [
        Target("request_error_rate", "<=", slo.error_rate_max),
        Target("booking_success", ">=", journey.booking_success_min),
        Target("wr_wait_p95_min", "<=", journey.waiting_room_p95_max_min),
        Target("wr_wait_max_min", "<=", journey.waiting_room_wait_max_s / 60.0),
        Target("abandonment", "<=", journey.abandonment_max),
    ]


def knob_value(scenario: Any, knob: str) -> Any:
    node = scenario
    for part in knob.split("."):
        if not hasattr(node, part):
            raise TargetError(f"--knob {knob!r}: the scenario has no {part!r}")
        node = getattr(node, part)
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise TargetError(f"--knob {knob!r} is not numeric (value {node!r})")
    return node


@dataclass
class PlatformSizing:
    scenario: str
    knob: str
    targets: list[Target]
    answer: float | None  # None: no value in the range meets the targets
    evaluations: list[dict] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.evaluations).sort_values(self.knob).reset_index(drop=True)


def _kpi(target: Target) -> str:
    return ALIASES.get(target.metric, target.metric)


def size_platform(
    ref: str,
    targets: list[Target],
    knob: str,
    low: float | None = None,
    high: float | None = None,
    *,
    points: int = 6,
    refine: int = 3,
    replications: int = 5,
    seed: int = 1,
    workers: int | None = None,
    progress: bool = False,
    overrides: Mapping[str, Any] | None = None,
    model: Callable[[Any, np.random.SeedSequence], dict[str, float]] = scenario_kpis,
    report: tuple[str, ...] = (),
) -> PlatformSizing:
    """`overrides` (dotted scenario keys) apply to every variant before the knob; `model` maps
    (scenario, seed) to KPIs (default: the opening-day model's); `report` names KPIs recorded
    in every row (mean and interval) without being targets."""
    from simulations.scenario.scenario import load_scenario

    if not targets:
        raise TargetError("give at least one --target")
    fixed = dict(overrides or {})
    base = load_scenario(ref, fixed)
    current = knob_value(base, knob)
    integer = isinstance(current, int)
    low = current / 4 if low is None else low
    high = current * 4 if high is None else high
    if not 0 <= low < high:
        raise TargetError(f"--range must satisfy 0 <= low < high (got {low:g}:{high:g})")
    result = PlatformSizing(base.name, knob, list(targets), None)
    seen: dict[float, bool] = {}

    def evaluate(values: list[float]) -> None:
        values = [v for v in dict.fromkeys(values) if v not in seen]
        if not values:
            return
        variants = [({knob: v}, load_scenario(ref, {**fixed, knob: v})) for v in values]
        sweep = run_sweep(model, variants, replications, seed, workers=workers, progress=progress)
        for value, group in sweep.runs.groupby(knob, sort=False):
            row: dict[str, Any] = {knob: value}
            passed = True
            for target in targets:
                name = _kpi(target)
                if name not in group:
                    known = ", ".join(sorted(c for c in group if c not in (knob, "replication")))
                    raise TargetError(f"unknown KPI {target.metric!r} (known: {known})")
                mean, lo, hi = confidence_interval(group[name].to_numpy())
                if math.isnan(lo):
                    lo = hi = mean
                row[str(target)] = mean
                row[f"{target} ci_low"], row[f"{target} ci_high"] = lo, hi
                passed &= target.met_with_confidence(lo, hi)
            for name in report:
                mean, lo, hi = confidence_interval(group[name].to_numpy())
                row[name], row[f"{name} ci_low"], row[f"{name} ci_high"] = mean, lo, hi
            row["meets_targets"] = passed
            seen[value] = passed
            result.evaluations.append(row)

    grid = np.linspace(low, high, max(points, 2))
    grid = sorted({int(round(v)) for v in grid}) if integer else [float(f"{v:.6g}") for v in grid]
    evaluate(grid)
    passing = sorted(v for v, ok in seen.items() if ok)
    if not passing:
        return result
    for _ in range(refine):
        best = min(v for v, ok in seen.items() if ok)
        below = [v for v, ok in seen.items() if not ok and v < best]
        if not below:
            break
        worst = max(below)
        middle = (worst + best) / 2
        if integer:
            if best - worst <= 1:
                break
            middle = int(math.floor(middle))
        else:
            middle = float(f"{middle:.6g}")
        evaluate([middle])
    result.answer = min(v for v, ok in seen.items() if ok)
    return result
