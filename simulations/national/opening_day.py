"""The national opening day: a SimPy model of visitors, waiting room, web tier, DB and slots.

Time advances in ticks of `model.tick_s` seconds driven by three SimPy processes, `arrive`,
`queue` and `serve`, over one `OpeningDay` that owns the state and the tick steps
(`simulations.national.day`); this module runs it and collects its `RunResult` (KPIs and time
series from `simulations.national.records`). Visitors are counted, not instantiated: arrivals are non-homogeneous Poisson counts per tick; the waiting room is a FIFO of
cohorts (`simulations.national.waiting_room`); sessions, retries and deferrals are counts scheduled into
future ticks with exponentially distributed delays; the web tier and database are fluid queues
with finite capacity (`simulations.national.web_tier`); slots sell out centre by centre
(`simulations.national.slots`). So the cost grows with ticks and visitor-events, not with visitors held.

Visitor classes: 0 = browsers (look and leave), k = 1..retry_max+1 = bookers on their k-th attempt.
A booker who fails (platform error, slot taken at commit, nothing free nearby, queue patience)
retries (`behaviour.retry_share`, refreshers faster) or defers (comes back later), each costing
an attempt; after the last attempt, or by choice, they abandon.

KPIs (`RunResult.kpis`, stable names):
- `visitors` new arrivals; `visitors_max_15min` most new arrivals in any 15-min window;
  `returns` re-entries (retries and deferrals); `bookings`; `peak_bookings_per_min`;
  `conversion` bookings / visitors.
- `wr_wait_p50_min`, `wr_wait_p95_min`, `wr_wait_max_min`: waits of admitted visitors (resolution
  one tick); `wr_wait_peak_min` the highest per-minute mean wait of admitted visitors;
  `wr_queue_max` most visitors queued; `wr_renege_share` queue leavers / joiners.
- `abandonment` bookers who left without booking for good (queue, errors, slot taken, no slot,
  checkout), as a share of the visitors who came to book; `deferred_pending` still to come back at the end; `retries`.
- `sellout_min` first minute at which half the centres are sold out (NaN: never);
  `centers_sold_out_share`, `slots_left_share` at the end; `slots_released` during the run;
  `lead_time_days_mean`; `expected_no_shows` (bookings x `supply.no_show_share`).
- `web_utilisation`, `db_utilisation` (mean over the run) and `*_peak` (busiest minute);
  `request_error_rate`; `booking_success` bookings / (bookings + commits lost to errors);
  `origin_requests_peak_per_s`, `edge_requests_peak_per_s`.
- `littles_law_gap` |L - lambda W| / L for the waiting room (an identity: ~0); `lost_visitors`
  visitors unaccounted for (must be 0); `visitor_events` state changes simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from simulations.national.day import OpeningDay
from simulations.national.records import build_result
from simulations.replications import Replications, run_replications_with
from simulations.scenario.scenario import Scenario, ScenarioError

__all__ = ["RunResult", "run_day", "run_replications", "simulate", "streams"]

STREAMS = ("arrivals", "queue", "sessions", "slots", "outcomes", "records")


@dataclass(frozen=True)
class RunResult:
    kpis: dict[str, float]
    timeseries: pd.DataFrame = field(repr=False)
    visitors: pd.DataFrame = field(repr=False)
    regions: pd.DataFrame | None = field(default=None, repr=False)


def simulate(
    scenario: Scenario, seed: int | np.random.SeedSequence, progress: bool = False
) -> RunResult:
    """One replication. Each model component draws from its own stream of `seed`, so variants
    run with the same seed share arrivals and behaviour (common random numbers). `progress`
    shows a bar over simulated minutes."""
    if scenario.campaign is not None:
        raise ScenarioError(
            f"scenario {scenario.name}: a campaign runs day by day "
            "(simulations.national.campaign.simulate_campaign, or surge sim run)"
        )
    rngs = {name: np.random.default_rng(s) for name, s in zip(STREAMS, streams(seed), strict=True)}
    day = OpeningDay(scenario.scaled(), rngs)
    run_day(day, progress)
    kpis, timeseries, visitors = build_result(day)
    regions = None
    if day.depts is not None:
        regions = day.depts.frame(day)
        kpis.update(day.depts.kpis(regions))
    return RunResult(kpis=kpis, timeseries=timeseries, visitors=visitors, regions=regions)


def run_day(day: OpeningDay, progress: bool = False) -> OpeningDay:
    """Step `day` through all its ticks with SimPy (the three processes below); returns it."""
    env = simpy.Environment()
    env.process(arrive(env, day))
    env.process(queue(env, day))
    env.process(serve(env, day))
    if progress:
        env.process(report(env, day))
    env.run(until=day.n_ticks * day.tick_s)
    return day


def streams(seed: int | np.random.SeedSequence) -> list[np.random.SeedSequence]:
    """One child per entry of `STREAMS`, derived without spawning: `seed` is not mutated, so the
    same SeedSequence passed twice gives the same streams (what `seq.spawn` would give first)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i), pool_size=seq.pool_size)
        for i in range(len(STREAMS))
    ]


def run_replications(
    scenario: Scenario, replications: int, seed: int, progress: bool = False
) -> Replications:
    """`replications` independent runs from `SeedSequence(seed).spawn(replications)`."""
    return run_replications_with(simulate, scenario, replications, seed, progress)


def arrive(env: simpy.Environment, day: OpeningDay):
    """New visitors (browsers or bookers) and the ones coming back reach the site."""
    while True:
        day.arrive()
        yield env.timeout(day.tick_s)


def queue(env: simpy.Environment, day: OpeningDay):
    """The waiting room loses the impatient and admits FIFO at its rate."""
    while True:
        day.queue()
        yield env.timeout(day.tick_s)


def serve(env: simpy.Environment, day: OpeningDay):
    """Sessions load the web tier and DB, search, hold, check out and book or fail."""
    while True:
        day.serve()
        day.tick += 1
        yield env.timeout(day.tick_s)


def report(env: simpy.Environment, day: OpeningDay):
    """Advance a progress bar once per simulated minute."""
    from tqdm import tqdm

    minutes = int(day.sc.duration_min)
    with tqdm(total=minutes, desc=day.sc.name, unit="sim-min") as bar:
        for _ in range(minutes):
            yield env.timeout(60.0)
            bar.update(1)
