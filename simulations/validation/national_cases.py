"""Checks of the national model's shipped components against exact results.

- `WaitingRoom`, event-driven (cohorts of one, exact renege times) admitting to c servers:
  M/M/c+M, Erlang A at rho = 0.9 and overloaded.
- `WaitingRoom` on fixed ticks, as `OpeningDay.queue` drives it (renege, join, admit a budget of
  R a tick): the queue length is a Markov chain, Q' = max(Bin(Q, exp(-dt/patience)) + A - R, 0)
  with A ~ Poisson(lambda dt); its stationary law gives P(abandon) and the mean wait exactly.
- `Tier` (web workers, DB connections): Poisson requests of one second each against
  `servers x dt` seconds of capacity a tick and a backlog capped at `servers x timeout`; the
  backlog is a Markov chain on {0..K}, which gives the rejected share and the mean wait.
- The retry loop (`OpeningDay` whole, through SimPy, with every checkout failing): a booker
  goes on to attempt k + 1 with q = r + (1 - r) d after each of the first R failures, so
  retries per booker = r (1 + q + ... + q^(R-1)) and deferrals per booker = (1 - r) d (same sum).
- Slot choice (`Slots.choose`): with the full centres holding popularity F, a visitor finds no
  slot in t tries with probability F^t.

Identities, counted apart: Little's law on the event-driven room; the share of admitted work a
tier serves (utilisation = offered x accepted share / capacity); visitors conserved in the retry
run (`lost_visitors` = 0)."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import simpy
from scipy import stats

from simulations import queueing
from simulations.national.day import OpeningDay
from simulations.national.opening_day import STREAMS, arrive, queue, serve
from simulations.national.records import build_result
from simulations.national.slots import Slots
from simulations.national.waiting_room import WaitingRoom
from simulations.national.web_tier import Tier
from simulations.scenario.scenario import Scenario, Supply, load_scenario
from simulations.validation.checks import Case

__all__ = ["national_cases", "retry_scenario", "ticked_room_chain", "tier_chain"]


# -- the event-driven waiting room ----------------------------------------------------------------
def _erlang_a_room(rng, *, lam, mu, c, theta, horizon, warmup) -> dict[str, float]:
    """M/M/c+M: the national WaitingRoom admitting FIFO whenever one of c servers frees up."""
    env = simpy.Environment()
    room = WaitingRoom(1, 1 / theta, rng, exact_renege_times=True)
    state = {"busy": 0, "arrived": 0, "waited": 0, "seen": 0}
    one = np.ones(1, dtype=np.int64)
    snapshot: dict[str, float] = {}

    def serve_one():
        yield env.timeout(rng.exponential(1 / mu))
        if room.admit(env.now, 1).sum():
            env.process(serve_one())
        else:
            state["busy"] -= 1

    def arrivals():
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
                env.process(serve_one())
            else:
                room.join(env.now, one)
                state["waited"] += counting
            state["arrived"] += counting

    env.process(arrivals())
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


# -- the ticked waiting room ----------------------------------------------------------------------
def ticked_room_chain(lam: float, budget: int, patience: float, dt: float, n_max: int = 120):
    """Stationary (P(abandon), mean wait) of the ticked room: lam arrivals per unit time,
    `budget` admissions a tick of `dt`, exponential patience."""
    stay = math.exp(-dt / patience)
    arrivals = stats.poisson.pmf(np.arange(n_max + 1), lam * dt)
    matrix = np.zeros((n_max + 1, n_max + 1))
    for q in range(n_max + 1):
        survivors = stats.binom.pmf(np.arange(q + 1), q, stay)
        before = np.zeros(n_max + budget + 1)  # queue before admission
        joint = np.convolve(survivors, arrivals)[: len(before)]
        before[: len(joint)] = joint
        after = np.zeros(n_max + 1)
        after[0] = before[: budget + 1].sum()
        after[1:] = before[budget + 1 : budget + 1 + n_max]
        matrix[q] = after / after.sum()
    pi = _stationary(matrix)
    q = np.arange(n_max + 1)
    return float(pi @ q * (1 - stay) / (lam * dt)), float(pi @ q / lam)


def _ticked_room(rng, *, lam, budget, patience, dt, ticks, warmup) -> dict[str, float]:
    room = WaitingRoom(1, patience, rng)
    for t in range(ticks):
        now = t * dt
        if t == warmup:
            start = (room.joined, room.reneged, room.waited_s + room.queued_age_s(now))
        room.renege(now)
        room.join(now, np.array([rng.poisson(lam * dt)]))
        room.admit(now, budget)
    end = ticks * dt
    room.renege(end)
    joined, reneged, waited = (
        room.joined - start[0],
        room.reneged - start[1],
        room.waited_s + room.queued_age_s(end) - start[2],
    )
    return {"p_abandon": reneged / joined, "wq": waited / joined}


# -- the web / DB tier ----------------------------------------------------------------------------
def tier_chain(lam: float, servers: int, timeout_s: int, dt: float = 1.0, a_max: int = 200):
    """Stationary (rejected share, mean wait s) of a `Tier` fed Poisson(lam dt) one-second
    requests a tick (servers x dt and servers x timeout_s must be whole seconds)."""
    capacity, cap = round(servers * dt), round(servers * timeout_s)
    a = np.arange(a_max + 1)
    pa = stats.poisson.pmf(a, lam * dt)
    matrix = np.zeros((cap + 1, cap + 1))
    rejected = np.zeros(cap + 1)
    for b in range(cap + 1):
        remaining = np.maximum(b + a - capacity, 0)
        nxt = np.minimum(remaining, cap)
        np.add.at(matrix[b], nxt, pa)
        rejected[b] = pa @ np.maximum(remaining - cap, 0)
    pi = _stationary(matrix)
    backlog = pi @ matrix @ np.arange(cap + 1)
    return float(pi @ rejected / (lam * dt)), float(backlog / servers)


def _tier(rng, *, lam, servers, timeout_s, ticks, warmup) -> dict[str, float]:
    tier = Tier(servers, timeout_s)
    offered = rejected = served = wait = 0.0
    for t in range(ticks):
        step = tier.step(float(rng.poisson(lam)), 1.0)
        if t >= warmup:
            offered += step.offered_s
            rejected += step.rejected_s
            served += step.served_s
            wait += step.wait_s
    n = ticks - warmup
    share = rejected / offered
    return {
        "reject_share": share,
        "wait_s": wait / n,
        "utilisation": (served / (servers * n)) / (offered / n * (1 - share) / servers),
    }


# -- the retry loop -------------------------------------------------------------------------------
def retry_scenario() -> Scenario:
    """Bookers only, 200 a minute for 10 min, every checkout failing on a saturated web tier."""
    base = load_scenario("smoke").model_dump()
    base["duration_min"] = 40.0
    base["demand"] |= {"table_min": [0.0, 10.0, 10.01, 40.0], "table_per_min": [200, 200, 0, 0]}
    base["demand"] |= {"book_share": 1.0}
    base["behaviour"] |= {
        "retry_max": 3, "retry_share": 0.6, "refresher_share": 0.5, "retry_backoff_s": 20.0,
        "refresher_backoff_s": 5.0, "defer_share": 0.5, "defer_mean_min": 1.0,
        "checkout_completion": 1.0,
    }  # fmt: skip
    base["platform"] |= {
        "waiting_room": False, "web_workers": 1, "web_timeout_s": 0.001, "search_mean_min": 0.5,
        "checkout_s": 10.0, "requests_per_booking": {"search": 200.0, "book": 1.0},
        "service_ms": {**base["platform"]["service_ms"], "search": 1e6},
    }  # fmt: skip
    base["supply"] |= {"initial_fill_share": 0.0}
    base["model"] |= {"visitor_sample": 0}
    return Scenario.model_validate(base)


def _retry_loop(rng, *, scenario: Scenario) -> dict[str, float]:
    seed = np.random.SeedSequence(int(rng.integers(2**63)))
    rngs = {
        n: np.random.default_rng(s) for n, s in zip(STREAMS, seed.spawn(len(STREAMS)), strict=True)
    }
    day = OpeningDay(scenario, rngs)
    env = simpy.Environment()
    for process in (arrive, queue, serve):
        env.process(process(env, day))
    env.run(until=day.n_ticks * day.tick_s)
    kpis, _, _ = build_result(day)
    bookers = max(day.count["bookers"], 1)
    return {
        "retries_per_booker": day.count["retries"] / bookers,
        "deferrals_per_booker": day.count["deferrals"] / bookers,
        "lost_visitors": kpis["lost_visitors"],
    }


def _retry_exact(sc: Scenario) -> dict[str, float]:
    b = sc.behaviour
    q = b.retry_share + (1 - b.retry_share) * b.defer_share
    attempts = sum(q**j for j in range(b.retry_max))
    return {
        "retries_per_booker": b.retry_share * attempts,
        "deferrals_per_booker": (1 - b.retry_share) * b.defer_share * attempts,
    }


# -- slot choice ----------------------------------------------------------------------------------
def _slot_choice(rng, *, popularity_cv, full, tries, n) -> dict[str, float]:
    supply = Supply(centers=50, popularity_cv=popularity_cv, initial_fill_share=0.0)
    slots = Slots(supply, rng)
    full_centres = np.argsort(slots.popularity)[-full:]  # the most popular ones are full
    slots.free[full_centres] = 0
    share_full = float(slots.popularity[full_centres].sum())
    _, _, no_slot = slots.choose(n, tries)
    return {"no_slot_vs_exact": no_slot / (n * share_full**tries)}


def _stationary(matrix: np.ndarray) -> np.ndarray:
    n = len(matrix)
    system = np.vstack([matrix.T - np.eye(n), np.ones(n)])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def national_cases(warmup: float, horizon: float) -> list[Case]:
    """The national components' cases; `warmup` and `horizon` in model time units (mean
    service times) for the Erlang A rooms, scaled for the others."""
    a = queueing.erlang_a(9, 1, 10, 0.5)
    a_over = queueing.erlang_a(12, 1, 10, 0.5)
    room = partial(_erlang_a_room, mu=1, c=10, theta=0.5, horizon=horizon, warmup=warmup)
    ticks, first = int(20 * horizon), int(20 * warmup)  # ticks of the tier
    ticked = {"lam": 9.0, "budget": 8, "patience": 5.0, "dt": 1.0}
    p_ticked, w_ticked = ticked_room_chain(**ticked)
    tiers = [(3.6, 4, 2), (5.0, 4, 2)]
    retry = retry_scenario()
    cases = [
        Case(
            f"waiting room, event-driven, c=10 lam={lam} theta=0.5",
            "waiting_room",
            partial(room, lam=lam),
            {"p_wait": e.p_wait, "p_abandon": e.p_abandon, "wq": e.wq},
            {"littles_law": 1.0},
        )
        for lam, e in ((9, a), (12, a_over))
    ]
    cases.append(
        Case(
            "waiting room, ticked, lam=9 R=8 a tick, patience 5 ticks",
            "waiting_room",
            partial(_ticked_room, **ticked, ticks=int(4 * horizon), warmup=int(4 * warmup)),
            {"p_abandon": p_ticked, "wq": w_ticked},
        )
    )
    for lam, servers, timeout in tiers:
        share, wait = tier_chain(lam, servers, timeout)
        cases.append(
            Case(
                f"tier {servers} servers timeout {timeout} s, {lam} s of work a s",
                "web_tier",
                partial(
                    _tier, lam=lam, servers=servers, timeout_s=timeout, ticks=ticks, warmup=first
                ),
                {"reject_share": share, "wait_s": wait},
                {"utilisation": 1.0},
            )
        )
    cases.append(
        Case(
            "retry loop: OpeningDay, every checkout failing",
            "retry_loop",
            partial(_retry_loop, scenario=retry),
            _retry_exact(retry),
            {"lost_visitors": 0.0},
        )
    )
    cases.append(
        Case(
            "slot choice: 10 most popular of 50 centres full, 2 tries",
            "slots",
            partial(_slot_choice, popularity_cv=1.0, full=10, tries=2, n=5000),
            {"no_slot_vs_exact": 1.0},
        )
    )
    return cases
