"""Exact Mean Value Analysis for the calibrated closed loop (the analytic cross-check).

N users alternate between thinking (a delay station, mean Z seconds) and one load-dependent
station whose completion rate with j requests inside is mu(j) (here the USL curve X(j)). This is
a product-form network, so MVA is exact for throughput and mean response time whatever the
service-time distribution, as long as the station shares its capacity among the requests present
(processor sharing), which is what `closed_loop.simulate_level` simulates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MvaResult:
    users: int
    throughput_per_s: float
    mean_response_s: float
    mean_in_station: float


def solve_load_dependent(
    users: int, rate_per_s: Callable[[int], float], think_s: float = 0.0
) -> list[MvaResult]:
    """Reiser-Lavenberg MVA with marginal queue-length probabilities, for 1..users."""
    if users < 1:
        raise ValueError("users must be >= 1")
    if think_s < 0:
        raise ValueError("think time must be >= 0")
    mu = np.array([0.0] + [float(rate_per_s(j)) for j in range(1, users + 1)])
    if np.any(mu[1:] <= 0):
        raise ValueError("the station rate must be > 0 at every population")
    p_prev = np.array([1.0])  # p(j | n-1) for j = 0..n-1
    out: list[MvaResult] = []
    for n in range(1, users + 1):
        j = np.arange(1, n + 1)
        response = float(np.sum(j / mu[1 : n + 1] * p_prev[:n]))
        x = n / (think_s + response)
        p = np.empty(n + 1)
        p[1:] = x / mu[1 : n + 1] * p_prev[:n]
        p[0] = max(0.0, 1.0 - float(np.sum(p[1:])))
        out.append(
            MvaResult(
                users=n,
                throughput_per_s=x,
                mean_response_s=response,
                mean_in_station=float(np.sum(np.arange(n + 1) * p)),
            )
        )
        p_prev = p
    return out
