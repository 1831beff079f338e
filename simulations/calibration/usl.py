"""The Universal Scalability Law (Gunther): throughput as a function of concurrency.

X(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1)), with sigma the contention
(serialisation), kappa the coherency (crosstalk) and lambda the throughput of one user. The fit
is nonlinear least squares on (N, X) with lambda free (like R `usl` and usl4j); intervals come
from a case bootstrap (resample the measured points, refit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


@dataclass(frozen=True)
class UslModel:
    """Fitted coefficients; throughput in requests per second (or whatever unit X was in)."""

    lambda_per_s: float
    sigma: float
    kappa: float

    def throughput(self, concurrency: float | np.ndarray) -> float | np.ndarray:
        n = np.asarray(concurrency, dtype=float)
        x = self.lambda_per_s * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
        return float(x) if x.ndim == 0 else x

    def latency_s(self, concurrency: float | np.ndarray, think_s: float = 0.0):
        """Mean response time from Little's law in a closed loop: R = N / X(N) - Z."""
        return np.asarray(concurrency, dtype=float) / self.throughput(concurrency) - think_s

    @property
    def peak_concurrency(self) -> float:
        """N* = sqrt((1 - sigma) / kappa); infinite when kappa is 0 (no retrograde region)."""
        if self.kappa <= 0.0:
            return math.inf
        return math.sqrt(max(1.0 - self.sigma, 0.0) / self.kappa)

    @property
    def max_throughput(self) -> float:
        """X(N*), or the asymptote lambda / sigma when there is no peak."""
        if self.kappa <= 0.0:
            return math.inf if self.sigma <= 0.0 else self.lambda_per_s / self.sigma
        return float(self.throughput(self.peak_concurrency))


@dataclass(frozen=True)
class UslFit:
    """A fitted model with bootstrap percentile intervals (level `confidence`)."""

    model: UslModel
    r_squared: float
    points: int
    confidence: float
    lambda_ci: tuple[float, float]
    sigma_ci: tuple[float, float]
    kappa_ci: tuple[float, float]
    peak_concurrency_ci: tuple[float, float]
    max_throughput_ci: tuple[float, float]
    bootstrap_replicates: int
    kappa_dropped: bool = False

    def as_record(self) -> dict[str, float | int]:
        m = self.model
        return {
            "lambda_per_s": m.lambda_per_s,
            "sigma": m.sigma,
            "kappa": m.kappa,
            "peak_concurrency": m.peak_concurrency,
            "max_throughput_per_s": m.max_throughput,
            "r_squared": self.r_squared,
            "points": self.points,
            "confidence": self.confidence,
            "lambda_ci": list(self.lambda_ci),
            "sigma_ci": list(self.sigma_ci),
            "kappa_ci": list(self.kappa_ci),
            "peak_concurrency_ci": list(self.peak_concurrency_ci),
            "max_throughput_ci": list(self.max_throughput_ci),
            "bootstrap_replicates": self.bootstrap_replicates,
            "kappa_dropped": self.kappa_dropped,
        }


def _validate(n: np.ndarray, x: np.ndarray) -> None:
    if n.shape != x.shape or n.ndim != 1:
        raise ValueError("concurrency and throughput must be 1-D arrays of the same length")
    if len(np.unique(n)) < 3:
        raise ValueError(
            f"the USL needs at least 3 distinct concurrency levels, got {len(np.unique(n))}"
        )
    if np.any(n <= 0) or np.any(~np.isfinite(n)):
        raise ValueError("concurrency levels must be finite and > 0")
    if np.any(x <= 0) or np.any(~np.isfinite(x)):
        raise ValueError("throughputs must be finite and > 0")


def fit_coefficients(
    concurrency, throughput, start: UslModel | None = None, *, with_kappa: bool = True
) -> UslModel:
    """Least-squares (lambda, sigma, kappa) with sigma in [0, 1] and kappa >= 0.

    Without `start`, several starting points are tried and the best kept; with it (e.g. in the
    bootstrap, from the full-data fit) only that one. `with_kappa=False` fits Amdahl's law
    (kappa fixed at 0).
    """
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    _validate(n, x)

    def residuals(p: np.ndarray) -> np.ndarray:
        lam, sig, kap = p if with_kappa else (p[0], p[1], 0.0)
        return lam * n / (1.0 + sig * (n - 1.0) + kap * n * (n - 1.0)) - x

    # Start lambda from the best per-user rate seen (the lowest level is the least contended).
    lam0 = float(np.max(x / n))
    best = None
    starts = [(lam0, 0.05, 1e-4), (lam0, 0.3, 1e-3), (lam0, 0.01, 1e-6), (lam0, 0.8, 1e-2)]
    if start is not None:
        starts = [(start.lambda_per_s, min(start.sigma, 1.0), max(start.kappa, 0.0))]
    size = 3 if with_kappa else 2
    for lam_init, sig0, kap0 in starts:
        sol = least_squares(
            residuals,
            x0=[lam_init, sig0, kap0][:size],
            bounds=([1e-12, 0.0, 0.0][:size], [np.inf, 1.0, np.inf][:size]),
            x_scale=[lam0, 0.1, 1e-3][:size],
            method="trf",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=5000,
        )
        if best is None or sol.cost < best.cost:
            best = sol
    lam, sig, kap = (float(v) for v in (*best.x, 0.0)[:3])
    return UslModel(lambda_per_s=lam, sigma=sig, kappa=kap)


def fit_usl(
    concurrency,
    throughput,
    *,
    bootstrap_replicates: int = 200,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    select_kappa: bool = True,
) -> UslFit:
    """Fit the USL and bootstrap intervals by resampling the (N, X) points with replacement.

    Replicates whose resample has fewer than 3 distinct levels are redrawn. With several
    measurements per level (e.g. one per time window), pass them all: the bootstrap then sees
    the measurement noise as well as the lack of fit. With `select_kappa`, when the interval for
    kappa reaches 0 (the data do not show coherency delay), the simpler Amdahl model (kappa = 0)
    is fitted instead, so noise is not extrapolated into a retrograde curve.
    """
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    rng = rng if rng is not None else np.random.default_rng(np.random.SeedSequence(0))
    full = _fit_with_intervals(n, x, bootstrap_replicates, confidence, rng, with_kappa=True)
    if select_kappa and full.model.kappa > 0 and full.kappa_ci[0] <= 1e-3 * full.model.kappa:
        return _fit_with_intervals(n, x, bootstrap_replicates, confidence, rng, with_kappa=False)
    return full


def _fit_with_intervals(
    n: np.ndarray,
    x: np.ndarray,
    bootstrap_replicates: int,
    confidence: float,
    rng: np.random.Generator,
    *,
    with_kappa: bool,
) -> UslFit:
    model = fit_coefficients(n, x, with_kappa=with_kappa)
    fitted = model.throughput(n)
    ss_res = float(np.sum((x - fitted) ** 2))
    ss_tot = float(np.sum((x - np.mean(x)) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0

    samples: list[tuple[float, float, float, float, float]] = []
    attempts = 0
    while len(samples) < bootstrap_replicates and attempts < bootstrap_replicates * 5:
        attempts += 1
        idx = rng.integers(0, len(n), size=len(n))
        if len(np.unique(n[idx])) < 3:
            continue
        m = fit_coefficients(n[idx], x[idx], start=model, with_kappa=with_kappa)
        samples.append((m.lambda_per_s, m.sigma, m.kappa, m.peak_concurrency, m.max_throughput))
    alpha = (1.0 - confidence) / 2.0

    def interval(column: int) -> tuple[float, float]:
        if not samples:
            return (math.nan, math.nan)
        values = np.array([s[column] for s in samples], dtype=float)
        if not np.isfinite(values).all():
            # Without kappa, N* is infinite: the interval is ordered with inf at the top.
            values = np.sort(values)
            lo_i = int(np.floor(alpha * (len(values) - 1)))
            hi_i = int(np.ceil((1.0 - alpha) * (len(values) - 1)))
            return (float(values[lo_i]), float(values[hi_i]))
        lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
        return (float(lo), float(hi))

    return UslFit(
        model=model,
        r_squared=r2,
        points=len(n),
        confidence=confidence,
        lambda_ci=interval(0),
        sigma_ci=interval(1),
        kappa_ci=interval(2),
        peak_concurrency_ci=interval(3),
        max_throughput_ci=interval(4),
        bootstrap_replicates=len(samples),
        kappa_dropped=not with_kappa,
    )
