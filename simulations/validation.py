"""Validation against exact theory: the model's building blocks in configurations with exact answers.

Each check runs `replications` independent SimPy replications (streams from one SeedSequence)
and builds a Student-t interval of the simulated value. The checks are simultaneous: with m
checks (21 by default), each interval has level 1 - 0.05/m (Bonferroni), so the whole family
covers every exact value with probability >= 95%: a correct model fails a run by chance at most
5% of the time (with plain 95% intervals, ~66% of runs would have a miss). A check passes when the exact value lies in its interval or within 2% of the simulated
mean (for intervals tighter than that).

Runs start empty, so each discards a warm-up `warmup` (model time units, arrivals before it are
not counted). The c=10 systems at lam=9 relax with time constant 1/(sqrt(c mu) - sqrt(lam))^2
= 38 (heavy-traffic M/M/c); the full warm-up 500 is 13 of them (bias ~e^-13 of the initial
offset), the quick one 200 is 5 (bias < 1% of the offset, well inside the quick intervals).
The retrial queue runs on a 5x longer time scale (mean orbit time 7). Little's law
(time-average L against lambda W measured in the same run) is checked on every model.

- `mmc`: M/M/c on a SimPy `Resource` vs Erlang C (P(wait), Wq).
- `erlang_a_waiting_room`: M/M/c+M with the national waiting room (`WaitingRoom`: counters and a
  FIFO of cohorts, exact reneging) admitting to c servers vs Erlang A (P(wait), P(abandon), Wq).
- `erlang_a_resource`: the same system as a plain SimPy `Resource` with `req | timeout` reneging.
- `mmck`: M/M/c/K on a SimPy `Resource` with a capacity check vs P(block), Wq.
- `retrial`: M/M/1 retrial queue (blocked customers retry after Exp(nu)) vs orbit time,
  utilisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from simulations import queueing
from simulations.national.waiting_room import WaitingRoom
from simulations.replications import confidence_interval

__all__ = ["Check", "FAMILY_LEVEL", "check_level", "checks_frame", "validate"]

TOLERANCE = 0.02
FAMILY_LEVEL = 0.95  # all checks at once (Bonferroni)
# (warm-up, horizon) in model time units for the c=10 systems; the retrial queue runs 5x longer
RUN_FULL = (500.0, 5_000.0)
RUN_QUICK = (200.0, 600.0)
RETRIAL_TIME_SCALE = 5.0


@dataclass(frozen=True)
class Check:
    model: str
    metric: str
    exact: float
    mean: float
    ci_low: float
    ci_high: float
    level: float = 0.95

    @property
    def passed(self) -> bool:
        inside = self.ci_low <= self.exact <= self.ci_high
        close = abs(self.mean - self.exact) <= TOLERANCE * abs(self.exact)
        return bool(inside or close)


class _Area:
    """Time integral of a piecewise-constant count, from `start` on."""

    def __init__(self, env: simpy.Environment, start: float) -> None:
        self.env, self.start, self.value, self.area, self.last = env, start, 0, 0.0, 0.0

    def change(self, delta: int) -> None:
        now = self.env.now
        if now > self.start:
            self.area += self.value * (now - max(self.last, self.start))
        self.last = now
        self.value += delta

    def mean(self, end: float) -> float:
        self.change(0)
        return self.area / (end - self.start)


def _mmc(lam, mu, c, k, horizon, warmup, rng) -> dict[str, float]:
    """M/M/c (k=None) or M/M/c/K on a SimPy Resource; waits of customers arriving after warmup."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    in_system = _Area(env, warmup)
    waits, sojourns, counts = [], [], {"arrived": 0, "blocked": 0}

    def customer(arrived: float):
        with server.request() as req:
            yield req
            if arrived >= warmup:
                waits.append(env.now - arrived)
            yield env.timeout(rng.exponential(1 / mu))
        in_system.change(-1)
        if arrived >= warmup:
            sojourns.append(env.now - arrived)

    def arrive():
        while True:
            yield env.timeout(rng.exponential(1 / lam))
            now = env.now
            full = k is not None and server.count + len(server.queue) >= k
            if now >= warmup:
                counts["arrived"] += 1
                counts["blocked"] += full
            if not full:
                in_system.change(+1)
                env.process(customer(now))

    env.process(arrive())
    env.run(until=horizon)
    w = np.asarray(waits)
    span = horizon - warmup
    lam_eff = (counts["arrived"] - counts["blocked"]) / span
    return {
        "p_wait": float((w > 1e-12).mean()),
        "wq": float(w.mean()),
        "p_block": counts["blocked"] / max(counts["arrived"], 1),
        "littles_law": in_system.mean(horizon) / (lam_eff * float(np.mean(sojourns))),
    }


def _erlang_a_waiting_room(lam, mu, c, theta, horizon, warmup, rng) -> dict[str, float]:
    """M/M/c+M: the national WaitingRoom admitting FIFO whenever one of c servers frees up."""
    env = simpy.Environment()
    room = WaitingRoom(1, 1 / theta, rng, exact_renege_times=True)
    state = {"busy": 0, "arrived": 0, "waited": 0, "seen": 0}
    one = np.ones(1, dtype=np.int64)
    snapshot: dict[str, float] = {}

    def serve():
        yield env.timeout(rng.exponential(1 / mu))
        if room.admit(env.now, 1).sum():
            env.process(serve())
        else:
            state["busy"] -= 1

    def arrive():
        while True:
            yield env.timeout(rng.exponential(1 / lam))
            if not snapshot and env.now >= warmup:
                room.renege(env.now)
                snapshot.update(
                    reneged=room.reneged, waited_s=room.waited_s + room.queued_age_s(env.now)
                )
            counting = env.now >= warmup
            room.renege(env.now)
            state["seen"] += room.length * counting  # PASTA: arrivals see the time average
            if state["busy"] < c and room.length == 0:
                state["busy"] += 1
                env.process(serve())
            else:
                room.join(env.now, one)
                state["waited"] += counting
            state["arrived"] += counting

    env.process(arrive())
    env.run(until=horizon)
    room.renege(horizon)
    arrived = max(state["arrived"], 1)
    waited = room.waited_s + room.queued_age_s(horizon) - snapshot["waited_s"]
    lq_seen = state["seen"] / arrived
    return {
        "p_wait": state["waited"] / arrived,
        "p_abandon": (room.reneged - snapshot["reneged"]) / arrived,
        "wq": waited / arrived,
        "littles_law": lq_seen / (state["arrived"] / (horizon - warmup) * (waited / arrived)),
    }


def _erlang_a_resource(lam, mu, c, theta, horizon, warmup, rng) -> dict[str, float]:
    """M/M/c+M as a plain SimPy Resource: `req | timeout(patience)` reneging."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    queue_len = _Area(env, warmup)
    waits, counts = [], {"arrived": 0, "waited": 0, "abandoned": 0}

    def customer(arrived: float):
        counting = arrived >= warmup
        with server.request() as req:
            if req not in server.users:
                counts["waited"] += counting
            queue_len.change(+1)
            patience = env.timeout(rng.exponential(1 / theta))
            result = yield req | patience
            queue_len.change(-1)
            if counting:
                waits.append(env.now - arrived)
            if req not in result:
                counts["abandoned"] += counting
                return
            yield env.timeout(rng.exponential(1 / mu))

    def arrive():
        while True:
            yield env.timeout(rng.exponential(1 / lam))
            counts["arrived"] += env.now >= warmup
            env.process(customer(env.now))

    env.process(arrive())
    env.run(until=horizon)
    arrived = max(counts["arrived"], 1)
    wq = float(np.mean(waits))
    return {
        "p_wait": counts["waited"] / arrived,
        "p_abandon": counts["abandoned"] / arrived,
        "wq": wq,
        "littles_law": queue_len.mean(horizon) / (arrived / (horizon - warmup) * wq),
    }


def _retrial(lam, mu, nu, horizon, warmup, rng) -> dict[str, float]:
    """M/M/1 retrial: a customer finding the server busy retries after Exp(nu), until served."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    orbit = _Area(env, warmup)
    busy = _Area(env, warmup)
    times, tries = [], []

    def customer(arrived: float):
        attempts = 0
        while server.count:
            if attempts == 0:
                orbit.change(+1)
            attempts += 1
            yield env.timeout(rng.exponential(1 / nu))
        if attempts:
            orbit.change(-1)
        with server.request() as req:
            yield req
            busy.change(+1)
            if arrived >= warmup:
                times.append(env.now - arrived)
                tries.append(attempts)
            yield env.timeout(rng.exponential(1 / mu))
            busy.change(-1)

    def arrive():
        while True:
            yield env.timeout(rng.exponential(1 / lam))
            env.process(customer(env.now))

    env.process(arrive())
    env.run(until=horizon)
    wait = float(np.mean(times))
    return {
        "wait_mean": wait,
        "p_busy": busy.mean(horizon),
        "retrials_per_customer": float(np.mean(tries)),
        "littles_law": orbit.mean(horizon) / (len(times) / (horizon - warmup) * wait),
    }


def check_level(n_checks: int, family_level: float = FAMILY_LEVEL) -> float:
    """Per-check interval level so that `n_checks` intervals hold together with `family_level`."""
    return 1.0 - (1.0 - family_level) / n_checks


def _cases(quick: bool) -> list[tuple[str, Callable, dict, dict[str, float]]]:
    w, h = RUN_QUICK if quick else RUN_FULL
    s = RETRIAL_TIME_SCALE
    a = queueing.erlang_a(9, 1, 10, 0.5)
    a_over = queueing.erlang_a(12, 1, 10, 0.5)
    k = queueing.mmck(9, 1, 10, 15)
    r = queueing.mm1_retrial(0.7, 1, 0.5)
    erlang_a_exact = {"p_wait": a.p_wait, "p_abandon": a.p_abandon, "wq": a.wq}
    return [
        (
            "mmc c=10 lam=9 mu=1",
            _mmc,
            {"lam": 9, "mu": 1, "c": 10, "k": None, "horizon": h, "warmup": w},
            {"p_wait": queueing.erlang_c(10, 9), "wq": queueing.mmc_wait_mean(9, 1, 10)},
        ),
        (
            "erlang_a_waiting_room c=10 lam=9 theta=0.5",
            _erlang_a_waiting_room,
            {"lam": 9, "mu": 1, "c": 10, "theta": 0.5, "horizon": h, "warmup": w},
            erlang_a_exact,
        ),
        (
            "erlang_a_waiting_room c=10 lam=12 theta=0.5",
            _erlang_a_waiting_room,
            {"lam": 12, "mu": 1, "c": 10, "theta": 0.5, "horizon": h, "warmup": w},
            {"p_wait": a_over.p_wait, "p_abandon": a_over.p_abandon, "wq": a_over.wq},
        ),
        (
            "erlang_a_resource c=10 lam=9 theta=0.5",
            _erlang_a_resource,
            {"lam": 9, "mu": 1, "c": 10, "theta": 0.5, "horizon": h, "warmup": w},
            erlang_a_exact,
        ),
        (
            "mmck c=10 K=15 lam=9",
            _mmc,
            {"lam": 9, "mu": 1, "c": 10, "k": 15, "horizon": h, "warmup": w},
            {"p_block": k.p_block, "wq": k.wq},
        ),
        (
            "retrial M/M/1 lam=0.7 nu=0.5",
            _retrial,
            {"lam": 0.7, "mu": 1, "nu": 0.5, "horizon": s * h, "warmup": s * w},
            {"wait_mean": r.wait_mean, "p_busy": r.p_busy},
        ),
    ]


def validate(
    quick: bool = False, replications: int = 10, seed: int = 2021, progress: bool = False
) -> list[Check]:
    """Run every case; returns one `Check` per (model, metric), Little's law included, each
    with its Bonferroni-adjusted interval (`Check.level`)."""
    if replications < 2:
        raise ValueError(f"replications: need >= 2 for an interval (got {replications})")
    cases = _cases(quick)
    streams = np.random.SeedSequence(seed).spawn(len(cases))
    checks: list[Check] = []
    iterator = list(zip(cases, streams, strict=True))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="validate", unit="model")
    level = check_level(sum(len(exact) + 1 for _, _, _, exact in cases))
    for (name, run, params, exact), stream in iterator:
        rows = [run(**params, rng=np.random.default_rng(s)) for s in stream.spawn(replications)]
        frame = pd.DataFrame(rows)
        for metric, value in {**exact, "littles_law": 1.0}.items():
            mean, low, high = confidence_interval(frame[metric].to_numpy(), level)
            checks.append(Check(name, metric, float(value), mean, low, high, level))
    return checks


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": c.model,
                "metric": c.metric,
                "exact": c.exact,
                "simulated": c.mean,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "level": c.level,
                "passed": c.passed,
            }
            for c in checks
        ]
    )
