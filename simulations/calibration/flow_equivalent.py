"""Flow-equivalent server (FES) solution of the platform network with its concurrency limit.

A request holds a thread and a database connection while it uses the CPU and the database, so
at most K = `net.concurrency_limit` requests are inside the stations; the rest wait, FIFO, for a
slot. Product-form MVA cannot represent that simultaneous possession. The FES decomposition
(Chandy, Herzog and Woo, 1975, "Parametric analysis of queuing networks") approximates it:

1. Inner network: the stations alone, closed, with k = 1..K requests of the average mix (each
   station's demand is the share-weighted mean). Its exact throughput X(k) comes from the
   normalising constant G(k), built by convolving each station's factors
   f_m(j) = D_m^j / prod_{i<=j} min(i, c_m) (a c_m-server processor-sharing station):
   X(k) = G(k-1) / G(k), and the mean queue at station m from the same convolution without m.
2. Outer model: a birth-death chain on n, the requests in the platform (inside or waiting),
   with completion rate X(min(n, K)). Closed: N users thinking `think_s` on average between
   requests, so arrivals at rate (N - n) / think_s. Open: Poisson arrivals at `rate_per_s`
   (stable only below X(K)); the chain beyond K is geometric and summed in closed form.

Without a binding limit this is exact (the network is product form: Norton's theorem). The
limit breaks product form, so with it FES is an approximation: against the exact Markov chain of
one route on 2 cores and a 1-core database behind 4 slots, it is 0.3% low on closed throughput
and 4% high on open response time at 65% load (tests/calibration/test_network_sim.py). With
several classes the inner network is aggregated to the mean request, and each class's time at a
station is its demand stretched by that station's slowdown Q_m / (X D_m) (exact for processor
sharing when the mix inside does not depend on the population). Waiting for a slot is the same
for every class (FIFO). Means only: percentiles come from `network_sim`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulations.calibration.multiclass_mva import bard_mva, exact_mva, schweitzer_mva, seidmann
from simulations.calibration.platform_network import PlatformNetwork

__all__ = [
    "InnerCurve",
    "NetworkSolution",
    "inner_curve",
    "solve_closed",
    "solve_closed_mva",
    "solve_open",
]

# Open networks: a slot limit above this is solved as this many (the inner throughput has long
# saturated by then, and the tail beyond is summed in closed form).
MAX_OPEN_INNER_POPULATION = 2000


@dataclass(frozen=True, eq=False)
class InnerCurve:
    """The inner network at populations 0..K: throughput and mean queue per station."""

    throughput_per_s: np.ndarray  # (K+1,), X(0) = 0
    queue_length: np.ndarray  # (K+1, M)


def _factors(
    demand_s: float, servers: int, k_max: int, scale_s: float, stretch: np.ndarray | None = None
) -> np.ndarray:
    """f(j) = prod_{i<=j} D s(i) / min(i, c): a load-dependent station (s = 1: plain PS)."""
    j = np.arange(1, k_max + 1)
    logs = np.log(demand_s / scale_s) - np.log(np.minimum(j, servers))
    if stretch is not None:
        logs = logs + np.log(stretch[1 : k_max + 1])
    return np.concatenate([[1.0], np.exp(np.cumsum(logs))])


def _convolve_all(factors: list[np.ndarray], k_max: int) -> np.ndarray:
    g = np.zeros(k_max + 1)
    g[0] = 1.0
    for f in factors:
        g = np.convolve(g, f)[: k_max + 1]
    return g


def inner_curve(
    demands_s: np.ndarray,
    servers: np.ndarray,
    k_max: int,
    stretch: dict[int, np.ndarray] | None = None,
) -> InnerCurve:
    """Exact single-class solution of PS stations (demand D_m, c_m servers) for k = 0..k_max;
    `stretch[m][k]` (k = 0..k_max) multiplies station m's work with k requests inside it."""
    d = np.asarray(demands_s, dtype=float)
    c = np.asarray(servers, dtype=int)
    if k_max < 1:
        raise ValueError("k_max must be >= 1")
    used = d > 0
    if not used.any():
        raise ValueError("the network needs a positive demand at some station")
    scale = float(np.max(d[used] / c[used]))  # keeps every factor within exp(c_m)
    stretch = stretch or {}
    factors = {
        m: _factors(d[m], int(c[m]), k_max, scale, stretch.get(int(m)))
        for m in np.flatnonzero(used)
    }
    g = _convolve_all(list(factors.values()), k_max)
    x = np.zeros(k_max + 1)
    x[1:] = g[:-1] / g[1:] / scale
    q = np.zeros((k_max + 1, len(d)))
    j = np.arange(k_max + 1)
    for m, f_m in factors.items():
        g_without = _convolve_all([f for s, f in factors.items() if s != m], k_max)
        # Q_m(k) = sum_j j f_m(j) G_{-m}(k - j) / G(k)
        q[:, m] = np.convolve(j * f_m, g_without)[: k_max + 1] / g
    return InnerCurve(throughput_per_s=x, queue_length=q)


@dataclass(frozen=True, eq=False)
class NetworkSolution:
    """Mean-value results: totals, one row per class, one row per station."""

    throughput_per_s: float
    response_s: float  # mean, over all classes, slot wait included
    slot_wait_s: float  # mean wait for a thread / connection before entering
    in_system: float  # mean requests inside or waiting
    slot_limit: int
    classes: pd.DataFrame  # route, share, throughput_per_s, response_s, slot_wait_s,
    # waiting_for_slot, and per station <name>_utilisation, <name>_queue_length
    stations: pd.DataFrame  # station, servers, utilisation, queue_length


def _summarise(
    net: PlatformNetwork, curve: InnerCurve, p_inner: np.ndarray, x: float, waiting: float
) -> NetworkSolution:
    d = net.mean_demands_s
    q_station = p_inner @ curve.queue_length  # time-averaged queue per station
    slowdown = np.divide(q_station, x * d, out=np.ones_like(d), where=d > 0)
    wait_s = waiting / x if x > 0 else 0.0
    per_class_d = net.demands_s
    class_response = wait_s + per_class_d @ slowdown
    class_x = net.shares * x
    classes = pd.DataFrame(
        {
            "route": [r.name for r in net.routes],
            "share": net.shares,
            "throughput_per_s": class_x,
            "response_s": class_response,
            "slot_wait_s": wait_s,
            "waiting_for_slot": net.shares * waiting,
        }
    )
    for m, station in enumerate(net.stations):
        classes[f"{station.name}_utilisation"] = class_x * per_class_d[:, m] / station.servers
        classes[f"{station.name}_queue_length"] = class_x * per_class_d[:, m] * slowdown[m]
    stations = pd.DataFrame(
        {
            "station": [s.name for s in net.stations],
            "servers": net.servers,
            "utilisation": x * d / net.servers,
            "queue_length": q_station,
        }
    )
    in_system = float(np.sum(q_station) + waiting)
    return NetworkSolution(
        throughput_per_s=x,
        response_s=float(net.shares @ class_response),
        slot_wait_s=wait_s,
        in_system=in_system,
        slot_limit=net.concurrency_limit,
        classes=classes,
        stations=stations,
    )


def _net_curve(net: PlatformNetwork, k_max: int) -> InnerCurve:
    """The inner curve of `net`, its `cpu` station (column 0) load-dependent by `cpu_stretch`."""
    stretch = {0: net.cpu_stretch(np.arange(k_max + 1))} if net.cpu_slowdown > 0 else None
    return inner_curve(net.mean_demands_s, net.servers, k_max, stretch)


def solve_closed(net: PlatformNetwork, users: int, think_s: float) -> NetworkSolution:
    """N users alternating a request and an exponential think of mean `think_s` (FES)."""
    if users < 1:
        raise ValueError(f"users must be >= 1 (got {users})")
    if think_s < 0:
        raise ValueError(f"think_s must be >= 0 (got {think_s})")
    k = min(users, net.concurrency_limit)
    curve = _net_curve(net, k)
    mu = curve.throughput_per_s[np.minimum(np.arange(users + 1), k)]
    if think_s == 0:
        p = np.zeros(users + 1)
        p[users] = 1.0
    else:
        n = np.arange(1, users + 1)
        log_ratio = np.log((users - n + 1) / think_s) - np.log(mu[1:])
        log_p = np.concatenate([[0.0], np.cumsum(log_ratio)])
        p = np.exp(log_p - log_p.max())
        p /= p.sum()
    x = float(p @ mu)
    p_inner = np.zeros(k + 1)
    np.add.at(p_inner, np.minimum(np.arange(users + 1), k), p)
    waiting = float(p @ np.maximum(np.arange(users + 1) - k, 0))
    return _summarise(net, curve, p_inner, x, waiting)


def solve_open(net: PlatformNetwork, rate_per_s: float) -> NetworkSolution:
    """Poisson arrivals at `rate_per_s` (FES); raises if they exceed the platform's capacity."""
    if rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be > 0 (got {rate_per_s})")
    k = min(net.concurrency_limit, MAX_OPEN_INNER_POPULATION)
    curve = _net_curve(net, k)
    x_max = float(curve.throughput_per_s[k])
    if rate_per_s >= x_max:
        raise ValueError(
            f"arrivals of {rate_per_s:.4g}/s exceed the capacity of {x_max:.4g}/s "
            f"with {k} requests inside: no steady state"
        )
    log_p = np.concatenate(
        [[0.0], np.cumsum(np.log(rate_per_s) - np.log(curve.throughput_per_s[1:]))]
    )
    p = np.exp(log_p - log_p.max())
    rho = rate_per_s / x_max
    tail = p[k] * rho / (1 - rho)  # states n > k, geometric
    total = p.sum() + tail
    p_inner = p / total
    p_inner[k] += tail / total
    waiting = p[k] / total * rho / (1 - rho) ** 2  # sum_{j>=1} j p_k rho^j
    return _summarise(net, curve, p_inner, rate_per_s, waiting)


def solve_closed_mva(
    net: PlatformNetwork, users: int, think_s: float, method: str = "schweitzer"
) -> pd.DataFrame:
    """Per-class multi-class MVA ignoring the slot limit (multi-server stations by Seidmann).

    Users are split over classes by share (each user keeps its class): `exact` rounds them to
    integers, `schweitzer` and `bard` take fractional populations. One row per class, with
    throughput, response time and, per station, utilisation (per server) and queue length.
    """
    solvers = {"exact": exact_mva, "schweitzer": schweitzer_mva, "bard": bard_mva}
    if method not in solvers:
        raise ValueError(f"method must be one of {sorted(solvers)} (got {method!r})")
    demands, delay, origin = seidmann(net.demands_s, net.servers)
    pops = net.shares * users
    if method == "exact":
        pops = np.round(pops).astype(int)
    sol = solvers[method](demands, pops, think_s, delay)
    out = pd.DataFrame(
        {
            "route": [r.name for r in net.routes],
            "users": sol.populations,
            "throughput_per_s": sol.throughput_per_s,
            "response_s": sol.response_s,
        }
    )
    for m, station in enumerate(net.stations):
        columns = [i for i, o in enumerate(origin) if o == m]  # its queue and Seidmann delay
        out[f"{station.name}_utilisation"] = (
            sol.throughput_per_s * net.demands_s[:, m] / station.servers
        )
        out[f"{station.name}_queue_length"] = sol.queue_length[:, columns].sum(axis=1)
    return out
