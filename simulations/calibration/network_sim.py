"""A SimPy model of the platform network: the same stations and limits as the analytic model.

A request picks its route by share, then waits FIFO for a slot (a worker thread with its pooled
connection, `net.concurrency_limit` of them; `limit=False` removes the cap) and holds it for its
whole stay, during which it visits the stations once each, in order: its `cpu` work, then its
database work on `db` or `writer` (if any). Each station is processor sharing with `servers`
servers (with k requests inside, each progresses at min(k, c) / k), the model of time slicing
on cores. Work at each visit is gamma distributed with the route's demand as its mean and its
`work_cv` as coefficient of variation (1, the default: exponential); means do not depend on it
(processor sharing is insensitive), percentiles do. So far this is
the analytic model's network. One addition: when PostgreSQL shares the cores and there are fewer
workers than cores (`net.gil_not_in_stations`), the analytic `cpu` station cannot express the
GIL; here a request's Python work (`cpu_demand_s`) then waits FIFO for one of `workers` GIL
tokens (requests balance perfectly over workers) and the rest of its `cpu` work (PostgreSQL,
the load generator) runs without one.

A load generator with a station of its own (`net.loadgen_servers`) is visited before the slot:
its work is the client's, and it holds no worker thread.

Closed (`users`, `think_s`: exponential thinks, like Locust with a random wait) or open (Poisson
arrivals at `rate_per_s`, or piecewise constant: `rate_steps`, (until_s, multiple of
`rate_per_s`) pairs, the last multiple kept after its end). Each completed request is one flat record; the first
`warmup_fraction` of completions are dropped. Randomness comes from the replication's
`numpy.random.SeedSequence` (one child stream each for routes, work and arrivals), so the same
seed gives the same run. `summarise` turns records into per-route throughput and p50/p95/p99.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from simulations.calibration.closed_loop import SharedStation
from simulations.calibration.platform_network import PlatformNetwork

__all__ = ["NetworkRun", "simulate_network", "simulate_replications", "summarise"]


class _MultiServerSpeed:
    """speed[k] for `SharedStation`: each of k requests gets min(k, c) / k of a server, slowed
    by `stretch(k)` (the app's occupancy-dependent cost, `PlatformNetwork.cpu_stretch`)."""

    def __init__(self, servers: int, stretch: Callable[[int], float] | None = None) -> None:
        self.servers = servers
        self.stretch = stretch

    def __getitem__(self, k: int) -> float:
        if not k:
            return 0.0
        speed = min(k, self.servers) / k
        return speed / self.stretch(k) if self.stretch is not None else speed


class _Chunked:
    """Draws made in blocks (numpy is fast per block, slow per call), handed out one by one."""

    def __init__(self, draw: Callable[[int], np.ndarray], block: int = 4096) -> None:
        self._draw = draw
        self._block = block
        self._values = draw(block)
        self._next = 0

    def take(self) -> np.ndarray:
        if self._next == len(self._values):
            self._values = self._draw(self._block)
            self._next = 0
        self._next += 1
        return self._values[self._next - 1]


@dataclass(frozen=True, eq=False)
class NetworkRun:
    """One replication: kept request records and the window (seconds) they completed in."""

    records: pd.DataFrame  # replication, route, arrival_s, admitted_s, end_s, response_s, ...
    window_s: float


def simulate_network(
    net: PlatformNetwork,
    *,
    seed: np.random.SeedSequence,
    users: int | None = None,
    think_s: float = 0.0,
    rate_per_s: float | None = None,
    requests: int = 20_000,
    warmup_fraction: float = 0.1,
    limit: bool = True,
    replication: int = 0,
    rate_steps: tuple[tuple[float, float], ...] = (),
) -> NetworkRun:
    """Run until `requests` complete: closed with `users`, or open with `rate_per_s`."""
    if (users is None) == (rate_per_s is None):
        raise ValueError("give exactly one of users (closed) or rate_per_s (open)")
    if users is not None and users < 1:
        raise ValueError(f"users must be >= 1 (got {users})")
    if rate_per_s is not None and rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be > 0 (got {rate_per_s})")
    if think_s < 0 or requests < 10 or not 0 <= warmup_fraction < 1:
        raise ValueError("need think_s >= 0, requests >= 10 and 0 <= warmup_fraction < 1")
    route_rng, work_rng, arrival_rng = (np.random.default_rng(s) for s in seed.spawn(3))
    demands = net.demands_s  # columns: stations
    station_of = list(range(len(net.stations)))
    names = [s.name for s in net.stations]
    client = names.index("loadgen") if "loadgen" in names else None
    gil_binds = net.gil_not_in_stations
    if gil_binds:  # split the cpu column: Python work under the GIL, then the rest
        app_s = np.array([r.cpu_demand_s for r in net.routes])
        rest_s = demands[:, 0] - app_s  # PostgreSQL on the same cores, the load generator
        demands = np.column_stack([app_s, rest_s, demands[:, 1:]])
        station_of = [0, *station_of]
    shares = net.shares
    routes = _Chunked(lambda n: route_rng.choice(len(shares), size=n, p=shares))

    def unit_draws(cv: float) -> Callable[[int], np.ndarray]:
        if cv == 1.0:
            return lambda n: work_rng.standard_exponential((n, demands.shape[1]))
        shape = 1.0 / cv**2
        return lambda n: work_rng.standard_gamma(shape, (n, demands.shape[1])) / shape

    unit_work = [_Chunked(unit_draws(r.work_cv)) for r in net.routes]
    unit_gap = _Chunked(lambda n: arrival_rng.standard_exponential(n))

    env = simpy.Environment()
    app_stretch = (lambda k: float(net.cpu_stretch(k))) if net.cpu_slowdown > 0 else None
    stations = [
        SharedStation(env, _MultiServerSpeed(s.servers, app_stretch if m == 0 else None))
        for m, s in enumerate(net.stations)
    ]
    slots = simpy.Resource(env, capacity=net.concurrency_limit) if limit else None
    gil = simpy.Resource(env, capacity=net.workers)
    rows: list[tuple[int, float, float, float]] = []
    finished = env.event()

    def visit(route: int, work: np.ndarray, at_client: bool):
        for column, station in enumerate(station_of):
            if work[column] <= 0 or (station == client) != at_client:
                continue
            if column == 0 and gil_binds:
                with gil.request() as held:
                    yield held
                    yield stations[station].serve(float(work[column]))
            else:
                yield stations[station].serve(float(work[column]))

    def request():
        route = int(routes.take())
        work = unit_work[route].take() * demands[route]  # one draw per visit
        arrival = env.now
        if client is not None:
            yield env.process(visit(route, work, at_client=True))
        if slots is None:
            admitted = env.now
            yield env.process(visit(route, work, at_client=False))
        else:
            with slots.request() as slot:
                yield slot
                admitted = env.now
                yield env.process(visit(route, work, at_client=False))
        rows.append((route, arrival, admitted, env.now))
        if len(rows) >= requests and not finished.triggered:
            finished.succeed()

    def user():
        while True:
            if think_s > 0:
                yield env.timeout(float(unit_gap.take()) * think_s)
            yield env.process(request())

    def multiple() -> float:
        for until_s, factor in rate_steps:
            if env.now < until_s:
                return factor
        return rate_steps[-1][1] if rate_steps else 1.0

    def source():
        while True:
            rate = rate_per_s * multiple()
            gap = float(unit_gap.take()) / rate if rate > 0 else np.inf
            ends = [u for u, _ in rate_steps if u > env.now]
            if ends and env.now + gap > ends[0]:  # memoryless: draw again at the step's end
                yield env.timeout(ends[0] - env.now)
                continue
            yield env.timeout(gap)
            env.process(request())

    if users is not None:
        for _ in range(users):
            env.process(user())
    else:
        env.process(source())
    env.run(until=finished)

    table = pd.DataFrame(rows, columns=["route", "arrival_s", "admitted_s", "end_s"])
    skip = int(len(table) * warmup_fraction)
    start = float(table["end_s"].iloc[skip - 1]) if skip else 0.0
    kept = table.iloc[skip:].reset_index(drop=True)
    kept["route"] = [net.routes[i].name for i in kept["route"]]
    kept["response_s"] = kept["end_s"] - kept["arrival_s"]
    kept["slot_wait_s"] = kept["admitted_s"] - kept["arrival_s"]
    kept.insert(0, "replication", replication)
    return NetworkRun(records=kept, window_s=float(kept["end_s"].iloc[-1]) - start)


def summarise(run: NetworkRun) -> pd.DataFrame:
    """Per route (and `all`): requests, throughput, mean and p50/p95/p99 response (seconds)."""
    groups = [(name, g) for name, g in run.records.groupby("route", sort=False)]
    groups.append(("all", run.records))
    rows = []
    for name, g in groups:
        response = g["response_s"].to_numpy()
        p50, p95, p99 = np.percentile(response, [50, 95, 99])
        rows.append(
            {
                "replication": int(run.records["replication"].iloc[0]),
                "route": name,
                "requests": len(g),
                "throughput_per_s": len(g) / run.window_s,
                "mean_s": float(response.mean()),
                "slot_wait_s": float(g["slot_wait_s"].mean()),
                "p50_s": float(p50),
                "p95_s": float(p95),
                "p99_s": float(p99),
            }
        )
    return pd.DataFrame(rows)


def simulate_replications(
    net: PlatformNetwork, replications: int, seed: int, **kwargs: object
) -> pd.DataFrame:
    """`summarise` of independent replications from `SeedSequence(seed).spawn(replications)`."""
    if replications < 1:
        raise ValueError(f"replications must be >= 1 (got {replications})")
    seeds = np.random.SeedSequence(seed).spawn(replications)
    frames = [
        summarise(simulate_network(net, seed=s, replication=i, **kwargs))  # type: ignore[arg-type]
        for i, s in enumerate(seeds)
    ]
    return pd.concat(frames, ignore_index=True)
