"""The A/B verdict: per route, the ratio B/A of slice medians (and p95) with a confidence sequence.

Pure statistics, no I/O. The runner (`loadtests.ab`) plays the same requests against A and B in
interleaved slices; each pair of adjacent slices gives, per route, one log ratio
`d = log(q_B / q_A)` of a latency quantile q (the median, and the p95). Interleaving cancels the
drift of a shared machine: both arms of a pair see the same background load. The d's of
successive pairs are treated as independent draws around `log(true ratio)`.

Looking after every pair and stopping when decided would inflate the false-alarm rate of a
fixed-sample interval. The interval here is an *asymptotic confidence sequence*: it covers the
true mean at every pair count at once, with probability about 1 - alpha, so the verdict may be
read after each slice (Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas, "Time-uniform central
limit theory and asymptotic confidence sequences", 2021, Theorem 2.2; a Gaussian-mixture
boundary scaled by the running standard deviation). See docs/sources.md#confidence-sequences.

A route is decided once its interval for the median ratio lies entirely above `max_slowdown`
(regression) or entirely below it (clean); a decided route keeps its verdict. Alpha is split
evenly over the judged routes (Bonferroni).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from loadtests.errors import LoadTestInputError

__all__ = [
    "ABRule",
    "RouteVerdict",
    "confidence_sequence",
    "judge_route",
    "overall",
    "pair_log_ratios",
]

CLEAN, REGRESSION, UNDECIDED = "clean", "regression", "undecided"
EXIT_CLEAN, EXIT_REGRESSION, EXIT_UNDECIDED = 0, 3, 4


@dataclass(frozen=True)
class ABRule:
    max_slowdown: float = 1.10  # B/A median ratio that counts as a regression
    alpha: float = 0.05  # over all judged routes
    min_pairs: int = 8  # no verdict before this many pairs (the variance estimate needs them)
    tuned_pairs: int = 30  # the boundary is tightest around this many pairs

    def __post_init__(self) -> None:
        if not self.max_slowdown > 1.0 or not math.isfinite(self.max_slowdown):
            raise LoadTestInputError(
                f"--max-slowdown must be a ratio > 1, got {self.max_slowdown!r}"
            )
        if not 0.0 < self.alpha < 1.0:
            raise LoadTestInputError(f"--alpha must be in (0, 1), got {self.alpha!r}")
        if self.min_pairs < 2 or self.tuned_pairs < 1:
            raise ValueError("min_pairs must be >= 2 and tuned_pairs >= 1")


@dataclass(frozen=True)
class Interval:
    estimate: float  # ratio B/A
    low: float
    high: float
    pairs: int


@dataclass(frozen=True)
class RouteVerdict:
    route: str
    verdict: str
    p50: Interval
    p95: Interval

    def as_record(self) -> dict:
        """Flat record; an unbounded or missing bound is None."""
        return {
            "route": self.route,
            "verdict": self.verdict,
            "pairs": self.p50.pairs,
            **{
                f"{name}_{part}": _finite(getattr(interval, attr))
                for name, interval in (("p50", self.p50), ("p95", self.p95))
                for part, attr in (("ratio", "estimate"), ("low", "low"), ("high", "high"))
            },
        }


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def confidence_sequence(
    values: Sequence[float], alpha: float, tuned_n: int = 30
) -> tuple[float, float, float]:
    """(mean, low, high): a two-sided asymptotic confidence sequence for the mean at level alpha.

    Half-width sigma * sqrt(2 (n r^2 + 1) / (n^2 r^2) * log(sqrt(n r^2 + 1) / alpha)) with
    r^2 = (-2 log alpha + log(-2 log alpha + 1)) / tuned_n, sigma the sample standard deviation.
    With fewer than two values the interval is unbounded.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return math.nan, -math.inf, math.inf
    mean = float(x.mean())
    if n < 2:
        return mean, -math.inf, math.inf
    sigma = float(x.std(ddof=1))
    log_a = math.log(alpha)
    r2 = (-2.0 * log_a + math.log(-2.0 * log_a + 1.0)) / tuned_n
    half = sigma * math.sqrt(
        2.0 * (n * r2 + 1.0) / (n * n * r2) * math.log(math.sqrt(n * r2 + 1.0) / alpha)
    )
    return mean, mean - half, mean + half


def _interval(log_ratios: Sequence[float], alpha: float, tuned_n: int) -> Interval:
    mean, low, high = confidence_sequence(log_ratios, alpha, tuned_n)
    return Interval(
        estimate=math.exp(mean) if math.isfinite(mean) else math.nan,
        low=math.exp(low) if low > -math.inf else 0.0,
        high=math.exp(high) if high < math.inf else math.inf,
        pairs=len(log_ratios),
    )


def pair_log_ratios(a_ms: Sequence[float], b_ms: Sequence[float]) -> tuple[float, float] | None:
    """One pair of slices of one route -> (log p50 ratio, log p95 ratio) B/A; None if empty."""
    if len(a_ms) == 0 or len(b_ms) == 0:
        return None
    qa = np.percentile(np.asarray(a_ms, float), [50, 95])
    qb = np.percentile(np.asarray(b_ms, float), [50, 95])
    if (qa <= 0).any() or (qb <= 0).any():
        return None
    return float(math.log(qb[0] / qa[0])), float(math.log(qb[1] / qa[1]))


def judge_route(
    route: str, p50_logs: Sequence[float], p95_logs: Sequence[float], rule: ABRule, routes: int
) -> RouteVerdict:
    """Verdict of one route from its per-pair log ratios (alpha split over `routes`)."""
    alpha = rule.alpha / max(1, routes)
    p50 = _interval(p50_logs, alpha, rule.tuned_pairs)
    p95 = _interval(p95_logs, alpha, rule.tuned_pairs)
    verdict = UNDECIDED
    if len(p50_logs) >= rule.min_pairs:
        if p50.low > rule.max_slowdown:
            verdict = REGRESSION
        elif p50.high < rule.max_slowdown:
            verdict = CLEAN
    return RouteVerdict(route, verdict, p50, p95)


def overall(verdicts: Mapping[str, RouteVerdict]) -> tuple[str, int]:
    """(verdict, exit code): regression if any route regressed, clean if all are clean."""
    states = {v.verdict for v in verdicts.values()}
    if REGRESSION in states:
        return REGRESSION, EXIT_REGRESSION
    if states == {CLEAN}:
        return CLEAN, EXIT_CLEAN
    return UNDECIDED, EXIT_UNDECIDED
