"""Service-time distributions fitted to measured response times of one route.

Candidates (all with location 0, i.e. on (0, inf) except the normal): exponential, gamma,
lognormal, Weibull, normal. Each is fitted by maximum likelihood; they are ranked by AIC and
the winner's Kolmogorov-Smirnov statistic and p-value are reported as its fit quality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

FAMILIES: tuple[str, ...] = ("exponential", "gamma", "lognormal", "weibull", "normal")

_SCIPY = {
    "exponential": stats.expon,
    "gamma": stats.gamma,
    "lognormal": stats.lognorm,
    "weibull": stats.weibull_min,
    "normal": stats.norm,
}


@dataclass(frozen=True)
class ServiceTimeFit:
    """One fitted family. `params` are scipy's shape parameters then loc and scale (seconds)."""

    family: str
    params: tuple[float, ...]
    samples: int
    aic: float
    ks_statistic: float
    ks_pvalue: float
    mean_s: float
    p95_s: float

    def frozen(self):
        return _SCIPY[self.family](*self.params)

    def sample(self, rng: np.random.Generator, size: int | None = None):
        """Draws in seconds, clipped at 0 (only the normal can go negative)."""
        draws = self.frozen().rvs(size=size, random_state=rng)
        return np.maximum(draws, 0.0)

    def as_record(self) -> dict[str, object]:
        return {
            "family": self.family,
            "params": list(self.params),
            "samples": self.samples,
            "aic": self.aic,
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "mean_s": self.mean_s,
            "p95_s": self.p95_s,
        }


def from_record(record: dict) -> ServiceTimeFit:
    family = str(record["family"])
    if family not in _SCIPY:
        raise ValueError(f"unknown service-time family {family!r}; expected one of {FAMILIES}")
    return ServiceTimeFit(
        family=family,
        params=tuple(float(p) for p in record["params"]),
        samples=int(record.get("samples", 0)),
        aic=float(record.get("aic", math.nan)),
        ks_statistic=float(record.get("ks_statistic", math.nan)),
        ks_pvalue=float(record.get("ks_pvalue", math.nan)),
        mean_s=float(record["mean_s"]),
        p95_s=float(record["p95_s"]),
    )


def fit_family(samples_s: np.ndarray, family: str) -> ServiceTimeFit:
    """Maximum-likelihood fit of one family (location fixed at 0 except for the normal)."""
    if family not in _SCIPY:
        raise ValueError(f"unknown service-time family {family!r}; expected one of {FAMILIES}")
    x = np.asarray(samples_s, dtype=float)
    dist = _SCIPY[family]
    params = dist.fit(x) if family == "normal" else dist.fit(x, floc=0.0)
    frozen = dist(*params)
    # Free parameters: loc is fixed except for the normal.
    k = len(params) if family == "normal" else len(params) - 1
    loglik = float(np.sum(frozen.logpdf(x)))
    aic = 2 * k - 2 * loglik if math.isfinite(loglik) else math.inf
    ks = stats.kstest(x, frozen.cdf)
    return ServiceTimeFit(
        family=family,
        params=tuple(float(p) for p in params),
        samples=len(x),
        aic=aic,
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        mean_s=float(frozen.mean()),
        p95_s=float(frozen.ppf(0.95)),
    )


def fit_service_time(
    samples_s, families: tuple[str, ...] = FAMILIES
) -> tuple[ServiceTimeFit, list[ServiceTimeFit]]:
    """Fit every family, return (best by AIC, all fits sorted by AIC)."""
    x = np.asarray(samples_s, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 10:
        raise ValueError(f"need at least 10 service-time samples to fit, got {len(x)}")
    if np.any(x <= 0):
        raise ValueError("service-time samples must be > 0 seconds")
    fits = sorted((fit_family(x, f) for f in families), key=lambda f: f.aic)
    return fits[0], fits
