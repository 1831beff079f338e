"""Checks of the centre model (`simulations.center.simulate_center`, as shipped) against exact
queueing results: a desk as M/M/c (Erlang C), with exponential patience as M/M/c+M (Erlang A,
at rho = 0.9 and overloaded), and two desks in tandem, where the second desk sees the first
one's departures, Poisson by Burke's theorem, so it is M/M/c too. Little's law (time-average
queue from the station's queue log against lambda x mean wait, same run) is an identity.

Times are minutes; a run opens for `horizon` minutes and only patients arriving at a station
after `warmup` count."""

from __future__ import annotations

from functools import partial

import numpy as np

from simulations import queueing
from simulations.center.config import parse_center
from simulations.center.simulation import StationLog, simulate_center
from simulations.validation.checks import Case

__all__ = ["center_cases"]


def _station(servers: int, mean: float, patience_mean: float | None = None) -> dict:
    table: dict = {"servers": servers, "service": {"dist": "exponential", "mean": mean}}
    if patience_mean is not None:
        table["patience"] = {"dist": "exponential", "mean": patience_mean}
    return table


def _run(
    rng: np.random.Generator, *, stations: list[dict], lam: float, horizon: float, warmup: float,
    at: int,
) -> dict[str, float]:  # fmt: skip
    config = parse_center(
        {
            "name": "validation",
            "arrivals": {"kind": "poisson", "rate_per_hour": lam * 60, "open_minutes": horizon},
            "stations": [{"name": f"s{i}", **s} for i, s in enumerate(stations)],
        }
    )
    run = simulate_center(config, np.random.SeedSequence(int(rng.integers(2**63))))
    return _metrics(run.stations[at], horizon, warmup)


def _metrics(log: StationLog, horizon: float, warmup: float) -> dict[str, float]:
    counted = (log.arrive_min >= warmup) & (log.arrive_min < horizon)
    wait = log.wait_min[counted]
    times = np.append(log.queue_times_min, horizon)
    inside = np.clip(times, warmup, horizon)
    area = float((np.diff(inside) * log.queue_lengths).sum())
    span = horizon - warmup
    lam = counted.sum() / span
    return {
        "p_wait": float((wait > 1e-12).mean()),
        "p_abandon": float(log.abandoned[counted].mean()),
        "wq": float(wait.mean()),
        "littles_law": (area / span) / (lam * float(wait.mean())),
    }


def center_cases(warmup: float, horizon: float) -> list:
    """The centre model's cases (`Case`) for a run of `horizon` minutes after `warmup`."""
    a = queueing.erlang_a(9, 1, 10, 0.5)
    a_over = queueing.erlang_a(12, 1, 10, 0.5)
    law = {"littles_law": 1.0}
    run = partial(_run, horizon=horizon, warmup=warmup)
    return [
        Case(
            "centre M/M/c c=10 lam=9 mu=1",
            "center",
            partial(run, stations=[_station(10, 1.0)], lam=9.0, at=0),
            {"p_wait": queueing.erlang_c(10, 9), "wq": queueing.mmc_wait_mean(9, 1, 10)},
            law,
        ),
        Case(
            "centre M/M/c+M c=10 lam=9 theta=0.5",
            "center",
            partial(run, stations=[_station(10, 1.0, 2.0)], lam=9.0, at=0),
            {"p_wait": a.p_wait, "p_abandon": a.p_abandon, "wq": a.wq},
            law,
        ),
        Case(
            "centre M/M/c+M c=10 lam=12 theta=0.5",
            "center",
            partial(run, stations=[_station(10, 1.0, 2.0)], lam=12.0, at=0),
            {"p_wait": a_over.p_wait, "p_abandon": a_over.p_abandon, "wq": a_over.wq},
            law,
        ),
        Case(
            "centre tandem, 2nd desk c=12 mu=1/1.2 (Burke)",
            "center",
            partial(run, stations=[_station(10, 1.0), _station(12, 1.2)], lam=9.0, at=1),
            {
                "p_wait": queueing.erlang_c(12, 9 * 1.2),
                "wq": queueing.mmc_wait_mean(9, 1 / 1.2, 12),
            },
            law,
        ),
    ]
