"""Multi-class Mean Value Analysis of a closed product-form network: exact, Schweitzer and Bard.

The network has C request classes and M stations. `demands_s[c, m]` is the total service demand
(visits x service time, seconds) a class-c request places on station m per cycle; `think_s[c]` is
the class's think time (an infinite-server delay outside the stations). A station is either a
single-server queue (FCFS with exponential service, or processor sharing with any distribution:
BCMP product form) or a delay (infinite servers: residence = demand). Multi-server stations are
not product form for this recursion; `seidmann` turns a c-server station into a queue of demand
D/c plus a delay of demand D(c-1)/c (Seidmann, Schweitzer and Shalev-Oren, 1987), the usual
approximation.

Exact MVA (Reiser and Lavenberg, 1980) walks the population lattice: with `n - e_c` the
population without one class-c request (the arrival theorem),

    R[c, m] = D[c, m] * (1 + Q[m](n - e_c))      (queue)     R[c, m] = D[c, m]   (delay)
    X[c]    = n[c] / (Z[c] + sum_m R[c, m])
    Q[m](n) = sum_c X[c] * R[c, m]

Its cost grows as the product of (N_c + 1) over classes, so for many classes or large
populations the approximate versions replace `Q[m](n - e_c)` by an estimate from `Q(n)` itself
and iterate to a fixed point: Bard (1979) uses `Q[m](n)` unchanged; Schweitzer (1979) removes the
arriving request's own share, `Q[m](n) - Q[c, m](n) / n[c]`. Both accept fractional populations.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MvaSolution", "bard_mva", "exact_mva", "schweitzer_mva", "seidmann"]


@dataclass(frozen=True, eq=False)
class MvaSolution:
    """Per-class results of a closed multi-class network (arrays: classes x stations)."""

    populations: np.ndarray  # (C,)
    throughput_per_s: np.ndarray  # (C,)
    response_s: np.ndarray  # (C,) time at the stations per cycle, think time excluded
    residence_s: np.ndarray  # (C, M)
    queue_length: np.ndarray  # (C, M) mean requests of class c at station m
    utilisation: np.ndarray  # (C, M) X[c] * D[c, m] (per server for a multi-server station)
    iterations: int = field(default=0)


def _inputs(
    demands_s: ArrayLike,
    populations: Sequence[float],
    think_s: float | Sequence[float],
    delay: Sequence[bool] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = np.atleast_2d(np.asarray(demands_s, dtype=float))
    n = np.asarray(populations, dtype=float)
    if d.shape[0] != len(n):
        raise ValueError(f"demands_s has {d.shape[0]} classes but populations has {len(n)}")
    if np.any(d < 0) or np.any(n < 0):
        raise ValueError("demands and populations must be >= 0")
    z = np.broadcast_to(np.asarray(think_s, dtype=float), n.shape).copy()
    if np.any(z < 0):
        raise ValueError("think times must be >= 0")
    is_delay = np.zeros(d.shape[1], dtype=bool) if delay is None else np.asarray(delay, bool)
    if is_delay.shape != (d.shape[1],):
        raise ValueError("delay must give one flag per station")
    return d, n, z, is_delay


def _solution(
    d: np.ndarray, n: np.ndarray, x: np.ndarray, r: np.ndarray, iterations: int
) -> MvaSolution:
    return MvaSolution(
        populations=n,
        throughput_per_s=x,
        response_s=r.sum(axis=1),
        residence_s=r,
        queue_length=x[:, None] * r,
        utilisation=x[:, None] * d,
        iterations=iterations,
    )


def exact_mva(
    demands_s: ArrayLike,
    populations: Sequence[int],
    think_s: float | Sequence[float] = 0.0,
    delay: Sequence[bool] | None = None,
) -> MvaSolution:
    """Exact multi-class MVA at the population vector `populations` (integers)."""
    d, n, z, is_delay = _inputs(demands_s, populations, think_s, delay)
    if np.any(n != np.round(n)):
        raise ValueError("exact MVA needs integer populations")
    pops = n.astype(int)
    n_classes, n_stations = d.shape
    queue = ~is_delay
    totals: dict[tuple[int, ...], np.ndarray] = {}
    x = np.zeros(n_classes)
    r = np.zeros((n_classes, n_stations))
    # itertools.product walks the lattice in lexicographic order: n - e_c comes before n.
    for vec in itertools.product(*(range(k + 1) for k in pops)):
        x = np.zeros(n_classes)
        r = np.zeros((n_classes, n_stations))
        for c in range(n_classes):
            if vec[c] == 0:
                continue
            before = list(vec)
            before[c] -= 1
            q_before = totals.get(tuple(before), np.zeros(n_stations))
            r[c] = np.where(queue, d[c] * (1.0 + q_before), d[c])
            cycle = z[c] + r[c].sum()
            x[c] = vec[c] / cycle if cycle > 0 else np.inf
        totals[vec] = (x[:, None] * r).sum(axis=0)
    return _solution(d, n, x, r, iterations=len(totals))


def _approximate(
    d: np.ndarray,
    n: np.ndarray,
    z: np.ndarray,
    is_delay: np.ndarray,
    *,
    schweitzer: bool,
    tol: float,
    max_iter: int,
) -> MvaSolution:
    n_classes, n_stations = d.shape
    queue = ~is_delay
    active = n > 0
    q = np.zeros((n_classes, n_stations))
    spread = max(int(queue.sum()), 1)
    q[:, queue] = (n / spread)[:, None]
    x = np.zeros(n_classes)
    r = np.zeros((n_classes, n_stations))
    for iteration in range(1, max_iter + 1):
        total = q.sum(axis=0)
        if schweitzer:
            own = np.divide(q, n[:, None], out=np.zeros_like(q), where=active[:, None])
            seen = total[None, :] - own
        else:
            seen = np.broadcast_to(total, q.shape)
        r = np.where(queue[None, :], d * (1.0 + seen), d)
        cycle = z + r.sum(axis=1)
        x = np.divide(n, cycle, out=np.zeros(n_classes), where=active & (cycle > 0))
        q_new = x[:, None] * r
        if np.max(np.abs(q_new - q)) <= tol * max(1.0, float(n.max())):
            q = q_new
            return _solution(d, n, x, r, iterations=iteration)
        q = q_new
    raise RuntimeError(f"approximate MVA did not converge in {max_iter} iterations")


def schweitzer_mva(
    demands_s: ArrayLike,
    populations: Sequence[float],
    think_s: float | Sequence[float] = 0.0,
    delay: Sequence[bool] | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> MvaSolution:
    """Schweitzer's approximate MVA: an arrival sees Q(n) less its own class's 1/n_c share."""
    d, n, z, is_delay = _inputs(demands_s, populations, think_s, delay)
    return _approximate(d, n, z, is_delay, schweitzer=True, tol=tol, max_iter=max_iter)


def bard_mva(
    demands_s: ArrayLike,
    populations: Sequence[float],
    think_s: float | Sequence[float] = 0.0,
    delay: Sequence[bool] | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> MvaSolution:
    """Bard's approximate MVA: an arrival sees the full Q(n) (pessimistic at small n)."""
    d, n, z, is_delay = _inputs(demands_s, populations, think_s, delay)
    return _approximate(d, n, z, is_delay, schweitzer=False, tol=tol, max_iter=max_iter)


def seidmann(
    demands_s: ArrayLike, servers: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Split each c-server station (c > 1) into a queue (D/c) and a delay (D(c-1)/c).

    Returns (demands_s with the delays appended as extra columns, delay flags, and for each
    column the index of the original station it came from).
    """
    d = np.atleast_2d(np.asarray(demands_s, dtype=float))
    c = np.asarray(servers, dtype=int)
    if c.shape != (d.shape[1],) or np.any(c < 1):
        raise ValueError("servers must give one count >= 1 per station")
    multi = np.flatnonzero(c > 1)
    queue_part = d / c[None, :]
    delay_part = d[:, multi] * ((c[multi] - 1) / c[multi])[None, :]
    flags = np.concatenate([np.zeros(d.shape[1], bool), np.ones(len(multi), bool)])
    origin = list(range(d.shape[1])) + [int(m) for m in multi]
    return np.hstack([queue_part, delay_part]), flags, origin
