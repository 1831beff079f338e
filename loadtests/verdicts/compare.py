"""Is this run slower (or more error-prone) than the baseline? Per route, on the raw samples.

Two numbers (p95 then, p95 now) move with every bit of noise on a shared 2-core box, so a route
regresses only when three things hold together:

1. significance: a one-sided Mann-Whitney U test says the run's latencies are stochastically
   larger than the baseline's (p < `alpha`);
2. effect size: the probability that a random run request is slower than a random baseline
   request (Vargha-Delaney A = U / (n1 n2)) is at least `min_effect` (0.71 = "large");
3. practical size: the median grew by at least `min_ratio` times and by `min_delta_ms`.

A busy machine slows every route at once. So each route is judged twice: relative to the whole
run (its samples divided by the machine factor, the median over routes of run p50 / baseline
p50; regression at `min_ratio`), and in absolute terms (raw samples; regression only at
`absolute_ratio`, which catches a uniform many-fold slow-down the relative test cannot see).

Two named rules (`RULES`): "default" (the thresholds above, for a quiet or dedicated machine) and
"shared" (for a noisy shared machine such as CI on 2 cores: a route regresses only when it is
x2.5 slower than the rest of the run, or x5 slower in absolute terms, same significance and
effect size). On a starved box the database-bound routes (book, queue polling) can slow down
more than the others, which the default x1.5 then calls a regression.

The error rate regresses when it grows by more than `max_error_rate_increase` and a one-sided
Fisher exact test gives p < `alpha`. Routes with fewer than `min_samples` requests on either side
are reported but not judged. A two-sample Kolmogorov-Smirnov p-value is reported beside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from loadtests.errors import LoadTestInputError

__all__ = ["RULES", "CompareRule", "RouteComparison", "compare_runs", "named_rule"]


@dataclass(frozen=True)
class CompareRule:
    alpha: float = 0.001
    min_effect: float = 0.71
    min_ratio: float = 1.5
    min_delta_ms: float = 10.0
    absolute_ratio: float = 3.0
    min_samples: int = 30
    max_error_rate_increase: float = 0.02


RULES: dict[str, CompareRule] = {
    "default": CompareRule(),
    "shared": CompareRule(min_ratio=2.5, absolute_ratio=5.0),
}


def named_rule(name: str) -> CompareRule:
    try:
        return RULES[name]
    except KeyError:
        raise LoadTestInputError(
            f"unknown comparison rule {name!r}: use {' or '.join(RULES)}"
        ) from None


@dataclass(frozen=True)
class RouteComparison:
    route: str
    run_count: int
    baseline_count: int
    run_p50_ms: float | None
    baseline_p50_ms: float | None
    run_p95_ms: float | None
    baseline_p95_ms: float | None
    p50_ratio: float | None
    p95_ratio: float | None
    relative_p50_ratio: float | None
    mann_whitney_p: float | None
    effect_a: float | None
    ks_p: float | None
    run_error_rate: float | None
    baseline_error_rate: float | None
    error_p: float | None
    verdict: str  # "ok", "regression", "faster", "not judged: ..."
    reason: str


def _pct(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _ok_times(frame: pd.DataFrame) -> np.ndarray:
    return frame.loc[frame["ok"].astype(int) == 1, "response_time_ms"].to_numpy(dtype=float)


def machine_factor(run: pd.DataFrame, base: pd.DataFrame, min_samples: int) -> float:
    """Median over routes (with enough samples on both sides) of run p50 / baseline p50."""
    ratios = []
    for route in set(run["name"]) & set(base["name"]):
        r, b = _ok_times(run[run["name"] == route]), _ok_times(base[base["name"] == route])
        if min(len(r), len(b)) >= min_samples and np.median(b) > 0:
            ratios.append(np.median(r) / np.median(b))
    return float(np.median(ratios)) if ratios else 1.0


def _slower(x: np.ndarray, y: np.ndarray, ratio_needed: float, rule: CompareRule):
    """(regressed, p, A, median ratio) of samples x against y."""
    u = stats.mannwhitneyu(x, y, alternative="greater")
    a = float(u.statistic) / (len(x) * len(y))
    ratio = float(np.median(x) / np.median(y)) if np.median(y) > 0 else float("inf")
    delta = float(np.median(x) - np.median(y))
    regressed = (
        u.pvalue < rule.alpha
        and a >= rule.min_effect
        and ratio >= ratio_needed
        and delta >= rule.min_delta_ms
    )
    return regressed, float(u.pvalue), a, ratio


def _compare_route(
    route: str, run: pd.DataFrame, base: pd.DataFrame, rule: CompareRule, factor: float
):
    run_ok, base_ok = _ok_times(run), _ok_times(base)
    run_err = int((run["ok"].astype(int) == 0).sum())
    base_err = int((base["ok"].astype(int) == 0).sum())
    fields: dict[str, Any] = {
        "route": route,
        "run_count": len(run),
        "baseline_count": len(base),
        "run_p50_ms": _pct(run_ok, 50),
        "baseline_p50_ms": _pct(base_ok, 50),
        "run_p95_ms": _pct(run_ok, 95),
        "baseline_p95_ms": _pct(base_ok, 95),
        "run_error_rate": run_err / len(run) if len(run) else None,
        "baseline_error_rate": base_err / len(base) if len(base) else None,
        "p50_ratio": None,
        "p95_ratio": None,
        "relative_p50_ratio": None,
        "mann_whitney_p": None,
        "effect_a": None,
        "ks_p": None,
        "error_p": None,
    }
    if min(len(run_ok), len(base_ok)) < rule.min_samples:
        return RouteComparison(
            **fields,
            verdict="not judged",
            reason=f"fewer than {rule.min_samples} successful requests on one side",
        )
    if fields["baseline_p50_ms"]:
        fields["p50_ratio"] = fields["run_p50_ms"] / fields["baseline_p50_ms"]
    if fields["baseline_p95_ms"]:
        fields["p95_ratio"] = fields["run_p95_ms"] / fields["baseline_p95_ms"]
    relative, p_rel, a_rel, ratio_rel = _slower(run_ok / factor, base_ok, rule.min_ratio, rule)
    absolute, p_abs, a_abs, _ = _slower(run_ok, base_ok, rule.absolute_ratio, rule)
    fields["relative_p50_ratio"] = ratio_rel
    fields["mann_whitney_p"], fields["effect_a"] = p_abs, a_abs
    fields["ks_p"] = float(stats.ks_2samp(run_ok, base_ok).pvalue)
    table = [[run_err, len(run) - run_err], [base_err, len(base) - base_err]]
    fields["error_p"] = float(stats.fisher_exact(table, alternative="greater").pvalue)

    reasons = []
    if relative:
        reasons.append(
            f"x{ratio_rel:.2f} slower than the rest of the run (machine factor x{factor:.2f}, "
            f"A={a_rel:.2f}, p={p_rel:.2g})"
        )
    if absolute:
        reasons.append(
            f"median {fields['baseline_p50_ms']:.1f} -> {fields['run_p50_ms']:.1f} ms "
            f"(x{fields['p50_ratio']:.2f} >= x{rule.absolute_ratio:g}, A={a_abs:.2f}, "
            f"p={p_abs:.2g})"
        )
    error_increase = fields["run_error_rate"] - fields["baseline_error_rate"]
    if error_increase > rule.max_error_rate_increase and fields["error_p"] < rule.alpha:
        reasons.append(
            f"error rate {fields['baseline_error_rate']:.3f} -> {fields['run_error_rate']:.3f} "
            f"(p={fields['error_p']:.2g})"
        )
    if reasons:
        return RouteComparison(**fields, verdict="regression", reason="; ".join(reasons))
    faster = a_abs <= 1 - rule.min_effect and p_abs > 1 - rule.alpha
    return RouteComparison(
        **fields,
        verdict="faster" if faster else "ok",
        reason="no significant, large and practical slow-down",
    )


def compare_runs(
    run: pd.DataFrame, baseline: pd.DataFrame, rule: CompareRule = CompareRule()
) -> dict[str, Any]:
    """Compare two per-request tables (columns name, response_time_ms, ok) route by route."""
    routes = sorted(set(run["name"]) | set(baseline["name"]))
    factor = machine_factor(run, baseline, rule.min_samples)
    results = []
    for route in routes:
        r, b = run[run["name"] == route], baseline[baseline["name"] == route]
        if len(r) == 0 or len(b) == 0:
            side = "run" if len(r) == 0 else "baseline"
            empty = {f: None for f in RouteComparison.__dataclass_fields__}
            empty.update(route=route, run_count=len(r), baseline_count=len(b))
            empty.update(verdict="not judged", reason=f"no requests in the {side}")
            results.append(RouteComparison(**empty))
            continue
        results.append(_compare_route(route, r, b, rule, factor))
    regressions = [c.route for c in results if c.verdict == "regression"]
    return {
        "rule": asdict(rule),
        "machine_factor": factor,
        "regression": bool(regressions),
        "regressed_routes": regressions,
        "routes": [asdict(c) for c in results],
    }
