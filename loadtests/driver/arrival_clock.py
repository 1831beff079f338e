"""When the next visitor arrives: Poisson arrivals at a constant or time-varying rate.

A non-homogeneous Poisson process is sampled by inverting its integrated rate: draw E ~ Exp(1)
and advance time until the area under the rate curve reaches E. Pure (no Locust, no gevent), so
the schedule itself is tested without a network.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["ArrivalClock"]

RateFn = Callable[[float], float | None]


class ArrivalClock:
    """Arrival times (seconds since the test start) for a rate function in arrivals/s.

    `rate_fn(t_s)` returns the rate at t_s, or None once the load is over. The clock integrates
    the rate in steps of `step_s`, exact for a constant rate and for piecewise-constant rates
    whose breakpoints fall on the step grid.
    """

    BATCH = 1024  # exponential draws taken from the generator at a time (numpy per-call cost)

    def __init__(self, rate_fn: RateFn, rng: np.random.Generator, step_s: float = 0.1) -> None:
        self._rate_fn = rate_fn
        self._rng = rng
        self._step_s = step_s
        self._draws: list[float] = []

    def _exponential(self) -> float:
        if not self._draws:
            self._draws = self._rng.exponential(size=self.BATCH).tolist()[::-1]
        return self._draws.pop()

    def next_after(self, t_s: float) -> float | None:
        remaining = self._exponential()
        t = t_s
        while True:
            rate = self._rate_fn(t)
            if rate is None:
                return None
            boundary = (math.floor(t / self._step_s) + 1) * self._step_s
            while boundary <= t:  # float rounding: 4.3 / 0.1 == 42.999...
                boundary += self._step_s
            span = boundary - t
            if rate > 0 and remaining <= rate * span:
                return t + remaining / rate
            remaining -= max(rate, 0.0) * span
            t = boundary

    def schedule(self, start_s: float = 0.0, limit: int = 10_000_000) -> list[float]:
        """Every arrival time until the rate function ends (for tests and previews)."""
        times: list[float] = []
        t: float | None = start_s
        while len(times) < limit:
            t = self.next_after(t)
            if t is None:
                break
            times.append(t)
        return times
