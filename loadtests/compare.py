"""Is this run slower (or more error-prone) than the baseline? Per route, on the raw samples.

Two numbers (p95 then, p95 now) move with every bit of noise on a shared 2-core box, so a route
regresses only when three things hold together:

1. significance: a one-sided Mann-Whitney U test says the run's latencies are stochastically
   larger than the baseline's (p < `alpha`);
2. effect size: the probability that a random run request is slower than a random baseline
   request (Vargha-Delaney A = U / (n1 n2)) is at least `min_effect` (0.71 = "large");
3. practical size: the median grew by at least `min_ratio` times and by `min_delta_ms`.

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

__all__ = ["CompareRule", "RouteComparison", "compare_runs"]


@dataclass(frozen=True)
class CompareRule:
    alpha: float = 0.001
    min_effect: float = 0.71
    min_ratio: float = 1.5
    min_delta_ms: float = 10.0
    min_samples: int = 30
    max_error_rate_increase: float = 0.02


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


def _compare_route(route: str, run: pd.DataFrame, base: pd.DataFrame, rule: CompareRule):
    run_ok = run.loc[run["ok"].astype(int) == 1, "response_time_ms"].to_numpy(dtype=float)
    base_ok = base.loc[base["ok"].astype(int) == 1, "response_time_ms"].to_numpy(dtype=float)
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
    u = stats.mannwhitneyu(run_ok, base_ok, alternative="greater")
    fields["mann_whitney_p"] = float(u.pvalue)
    fields["effect_a"] = float(u.statistic) / (len(run_ok) * len(base_ok))
    fields["ks_p"] = float(stats.ks_2samp(run_ok, base_ok).pvalue)
    table = [[run_err, len(run) - run_err], [base_err, len(base) - base_err]]
    fields["error_p"] = float(stats.fisher_exact(table, alternative="greater").pvalue)

    reasons = []
    delta = fields["run_p50_ms"] - fields["baseline_p50_ms"]
    slower = (
        fields["mann_whitney_p"] < rule.alpha
        and fields["effect_a"] >= rule.min_effect
        and (fields["p50_ratio"] or 0) >= rule.min_ratio
        and delta >= rule.min_delta_ms
    )
    if slower:
        reasons.append(
            f"median {fields['baseline_p50_ms']:.1f} -> {fields['run_p50_ms']:.1f} ms "
            f"(x{fields['p50_ratio']:.2f}, A={fields['effect_a']:.2f}, "
            f"p={fields['mann_whitney_p']:.2g})"
        )
    error_increase = fields["run_error_rate"] - fields["baseline_error_rate"]
    if error_increase > rule.max_error_rate_increase and fields["error_p"] < rule.alpha:
        reasons.append(
            f"error rate {fields['baseline_error_rate']:.3f} -> {fields['run_error_rate']:.3f} "
            f"(p={fields['error_p']:.2g})"
        )
    if reasons:
        return RouteComparison(**fields, verdict="regression", reason="; ".join(reasons))
    faster = fields["effect_a"] <= 1 - rule.min_effect and fields["mann_whitney_p"] > 1 - rule.alpha
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
    results = []
    for route in routes:
        r, b = run[run["name"] == route], baseline[baseline["name"] == route]
        if len(r) == 0 or len(b) == 0:
            side = "run" if len(r) == 0 else "baseline"
            results.append(
                RouteComparison(
                    route,
                    len(r),
                    len(b),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "not judged",
                    f"no requests in the {side}",
                )  # fmt: skip
            )
            continue
        results.append(_compare_route(route, r, b, rule))
    regressions = [c.route for c in results if c.verdict == "regression"]
    return {
        "rule": asdict(rule),
        "regression": bool(regressions),
        "regressed_routes": regressions,
        "routes": [asdict(c) for c in results],
    }
