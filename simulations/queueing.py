"""Exact queueing formulas (validation targets and sizing building blocks).

Notation: `lam` arrival rate, `mu` service rate per server, `c` servers, `a = lam / mu` offered
load in Erlangs, `rho = a / c`. Rates in any consistent time unit; waits come out in that unit.
Formulas and reference values: docs/sources.md#erlang-c, docs/sources.md#erlang-a,
docs/sources.md#halfin-whitt, docs/sources.md#retrial-queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

__all__ = [
    "ErlangA",
    "MMcK",
    "Retrial",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "mm1_retrial",
    "mm1_retrial_ctmc",
    "mmc_wait_mean",
    "mmc_wait_tail",
    "mmck",
]


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (any service distribution), stable recursion."""
    if c < 0 or a < 0:
        raise ValueError("erlang_b: c and a must be >= 0")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """P(wait > 0) in M/M/c; 1 when the queue is unstable (a >= c)."""
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho + rho * b)


def mmc_wait_mean(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue Wq of M/M/c (infinite when unstable)."""
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_wait_tail(lam: float, mu: float, c: int, t: float) -> float:
    """P(Wq > t) in M/M/c."""
    if lam >= c * mu:
        return 1.0
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


@dataclass(frozen=True)
class MMcK:
    p_block: float
    l_sys: float  # mean number in system
    lq: float
    w: float  # mean time in system of admitted customers
    wq: float
    p_wait: float  # P(wait > 0 | admitted)


def mmck(lam: float, mu: float, c: int, k: int) -> MMcK:
    """M/M/c/K, K = most customers in the system (K >= c)."""
    if k < c:
        raise ValueError("mmck: K must be >= c")
    a = lam / mu
    n = np.arange(k + 1)
    log_p = np.where(
        n <= c,
        n * math.log(a) - _log_factorial(n),
        c * math.log(a) - math.lgamma(c + 1) + (n - c) * math.log(a / c),
    )
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    lam_eff = lam * (1 - p[k])
    l_sys = float((n * p).sum())
    lq = float((np.maximum(n - c, 0) * p).sum())
    p_wait = float(p[c:k].sum() / (1 - p[k]))
    return MMcK(float(p[k]), l_sys, lq, l_sys / lam_eff, lq / lam_eff, p_wait)


@dataclass(frozen=True)
class ErlangA:
    p_wait: float
    p_abandon: float
    lq: float
    wq: float  # mean wait over all arrivals (abandoning ones included)
    utilisation: float


def erlang_a(lam: float, mu: float, c: int, theta: float, tol: float = 1e-14) -> ErlangA:
    """M/M/c+M (Palm): exponential patience with rate `theta`; exact via the birth-death chain
    truncated where its probabilities fall below `tol` (stable even when lam > c mu)."""
    probs = [1.0]
    n = 0
    while True:
        n += 1
        death = min(n, c) * mu + max(n - c, 0) * theta
        probs.append(probs[-1] * lam / death)
        if n > c and probs[-1] < tol * max(probs):
            break
        if n > 10_000_000:
            raise ValueError("erlang_a: chain does not converge")
    p = np.asarray(probs)
    p /= p.sum()
    idx = np.arange(len(p))
    lq = float((np.maximum(idx - c, 0) * p).sum())
    busy = float((np.minimum(idx, c) * p).sum())
    return ErlangA(
        p_wait=float(p[c:].sum()),
        p_abandon=theta * lq / lam,
        lq=lq,
        wq=lq / lam,
        utilisation=busy / c,
    )


@dataclass(frozen=True)
class Retrial:
    p_busy: float  # server utilisation
    orbit_mean: float  # mean number of customers in orbit
    wait_mean: float  # mean time in orbit per customer (all customers)
    retrials_per_customer: float


def mm1_retrial(lam: float, mu: float, nu: float) -> Retrial:
    """M/M/1 retrial queue, classical policy: a customer finding the server busy joins the orbit
    and retries after an exponential time of rate `nu` (each orbiting customer independently).
    Closed form (Falin & Templeton 1997): utilisation rho = lam/mu and
    E[orbit] = rho (lam/mu + lam/nu) / (1 - rho), i.e. the M/M/1 queue length plus
    lam rho / (nu (1 - rho)); `mm1_retrial_ctmc` cross-checks it numerically."""
    rho = lam / mu
    if rho >= 1:
        raise ValueError("mm1_retrial: unstable (lam >= mu)")
    orbit = rho * (lam / mu + lam / nu) / (1 - rho)
    wait = orbit / lam
    return Retrial(p_busy=rho, orbit_mean=orbit, wait_mean=wait, retrials_per_customer=nu * wait)


def mm1_retrial_ctmc(lam: float, mu: float, nu: float, n_max: int = 400) -> Retrial:
    """The same retrial queue solved numerically on a truncated CTMC (cross-check)."""
    size = 2 * (n_max + 1)
    q = np.zeros((size, size))

    def state(busy: int, n: int) -> int:
        return busy * (n_max + 1) + n

    for n in range(n_max + 1):
        idle, busy = state(0, n), state(1, n)
        q[idle, busy] += lam
        if n > 0:
            q[idle, state(1, n - 1)] += n * nu
        q[busy, idle] += mu
        if n < n_max:
            q[busy, state(1, n + 1)] += lam
    np.fill_diagonal(q, -q.sum(axis=1))
    a = q.T.copy()
    a[-1, :] = 1.0  # replace one balance equation by the normalisation
    b = np.zeros(size)
    b[-1] = 1.0
    pi = linalg.solve(a, b)
    n = np.arange(n_max + 1)
    orbit = float((pi[: n_max + 1] * n).sum() + (pi[n_max + 1 :] * n).sum())
    p_busy = float(pi[n_max + 1 :].sum())
    wait = orbit / lam
    return Retrial(p_busy=p_busy, orbit_mean=orbit, wait_mean=wait, retrials_per_customer=nu * wait)


def _log_factorial(n: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(int(x) + 1) for x in n])
