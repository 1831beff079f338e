"""One day at a vaccination centre: patients walk through stations in order (SimPy).

Every random quantity of patient i is drawn up front, in arrival order, from its own stream
(arrivals, no-shows, punctuality, and per station: service, patience, walk). Patient i therefore
gets the same times whatever the server counts, which gives common random numbers when sizing
compares staffing levels. Stations with `servers = None` are pure delays (no queue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from simulations.center.config import (
    AppointmentArrivals,
    CenterConfig,
    PoissonArrivals,
    load_center,
)

__all__ = ["CenterRun", "StationLog", "load_center", "simulate_center"]

_STREAMS_PER_STATION = 3  # service, patience, walk


@dataclass(frozen=True)
class StationLog:
    """What happened at one station: one entry per patient who reached it."""

    name: str
    servers: int | None
    arrive_min: np.ndarray
    wait_min: np.ndarray  # time queued until service or until leaving
    abandoned: np.ndarray  # bool
    service_min: np.ndarray  # 0 for patients who left the queue
    queue_times_min: np.ndarray  # instants the queue length changed
    queue_lengths: np.ndarray  # queue length from that instant on

    @property
    def last_departure_min(self) -> float:
        ends = self.arrive_min + self.wait_min + self.service_min
        return float(ends.max()) if ends.size else 0.0


@dataclass(frozen=True)
class CenterRun:
    """One simulated day. Times are minutes after opening."""

    config: CenterConfig
    booked: int  # patients expected (Poisson arrivals + appointment bookings)
    no_shows: int
    arrival_min: np.ndarray  # per patient who came
    departure_min: np.ndarray  # NaN for patients who abandoned
    abandoned_at: np.ndarray  # station index where the patient left, -1 if served
    stations: tuple[StationLog, ...]


def _arrival_times(
    config: CenterConfig, streams: list[np.random.Generator]
) -> tuple[np.ndarray, int]:
    """Arrival instants of patients who come, sorted, and the number of no-shows."""
    arrivals = config.arrivals
    if isinstance(arrivals, PoissonArrivals):
        rate = arrivals.rate_per_hour / 60
        if rate == 0:
            return np.empty(0), 0
        expected = rate * config.open_minutes
        gaps = streams[0].exponential(1 / rate, int(expected + 10 * np.sqrt(expected) + 20))
        times = np.cumsum(gaps)
        while times[-1] < config.open_minutes:
            more = np.cumsum(streams[0].exponential(1 / rate, len(gaps))) + times[-1]
            times = np.concatenate([times, more])
        return times[times < config.open_minutes], 0
    if not isinstance(arrivals, AppointmentArrivals):
        raise TypeError(f"unknown arrivals model: {type(arrivals).__name__}")
    booked = arrivals.per_block * arrivals.blocks
    block = np.repeat(np.arange(arrivals.blocks), arrivals.per_block)
    scheduled = arrivals.first_block_min + block * arrivals.block_minutes
    shows = streams[1].random(booked) >= arrivals.no_show
    lateness = streams[2].normal(0.0, arrivals.punctuality_sd_min, booked)
    times = np.maximum(scheduled + lateness, 0.0)[shows]
    return np.sort(times), int(booked - shows.sum())


class _Centre:
    """Owns the SimPy resources and the records of one run."""

    def __init__(self, env: simpy.Environment, config: CenterConfig, n: int) -> None:
        self.env = env
        self.config = config
        self.resources = [
            simpy.Resource(env, capacity=s.servers) if s.servers is not None else None
            for s in config.stations
        ]
        k = len(config.stations)
        self.arrive = np.full((k, n), np.nan)
        self.wait = np.zeros((k, n))
        self.left = np.zeros((k, n), dtype=bool)
        self.served_time = np.zeros((k, n))
        self.queue_log: list[list[tuple[float, int]]] = [[(0.0, 0)] for _ in range(k)]
        self.departure = np.full(n, np.nan)
        self.abandoned_at = np.full(n, -1)

    def note_queue(self, k: int) -> None:
        resource = self.resources[k]
        self.queue_log[k].append((self.env.now, len(resource.queue)))


def _visit(centre: _Centre, i: int, arrive: float, draws: dict[str, list[list[float]]]):
    """Patient i: arrive, then queue and get served at each station in order."""
    env = centre.env
    yield env.timeout(arrive)
    for k, station in enumerate(centre.config.stations):
        if k > 0 and centre.config.walk is not None:
            yield env.timeout(draws["walk"][k][i])
        centre.arrive[k, i] = env.now
        service = draws["service"][k][i]
        resource = centre.resources[k]
        if resource is None:
            centre.served_time[k, i] = service
            yield env.timeout(service)
            continue
        request = resource.request()
        centre.note_queue(k)
        if station.patience is None:
            yield request
        else:
            yield request | env.timeout(draws["patience"][k][i])
        centre.wait[k, i] = env.now - centre.arrive[k, i]
        if not request.triggered:
            request.cancel()
            centre.left[k, i] = True
            centre.abandoned_at[i] = k
            centre.note_queue(k)
            return
        centre.note_queue(k)
        centre.served_time[k, i] = service
        yield env.timeout(service)
        resource.release(request)
    centre.departure[i] = env.now


def simulate_center(config: CenterConfig, seed: int | np.random.SeedSequence) -> CenterRun:
    """Simulate one day; the same seed gives the same patients whatever the server counts."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    k = len(config.stations)
    # The children `root.spawn` would give a fresh sequence, without mutating `root` (spawn
    # counts its children, so reusing one SeedSequence object would otherwise break CRN).
    children = [
        np.random.SeedSequence(
            root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
        )
        for i in range(3 + _STREAMS_PER_STATION * k)
    ]
    streams = [np.random.default_rng(c) for c in children]
    arrivals, no_shows = _arrival_times(config, streams)
    n = len(arrivals)
    draws = {
        "service": np.zeros((k, n)),
        "patience": np.full((k, n), np.inf),
        "walk": np.zeros((k, n)),
    }
    for j, station in enumerate(config.stations):
        base = 3 + _STREAMS_PER_STATION * j
        draws["service"][j] = station.service.sample(streams[base], n)
        if station.patience is not None:
            draws["patience"][j] = station.patience.sample(streams[base + 1], n)
        if config.walk is not None:
            draws["walk"][j] = config.walk.sample(streams[base + 2], n)
    env = simpy.Environment()
    centre = _Centre(env, config, n)
    plain = {key: value.tolist() for key, value in draws.items()}  # Python floats: faster heap
    for i, arrive in enumerate(arrivals.tolist()):
        env.process(_visit(centre, i, arrive, plain))
    env.run()
    logs = []
    for j, station in enumerate(config.stations):
        reached = ~np.isnan(centre.arrive[j])
        queue = np.array(centre.queue_log[j], dtype=float).reshape(-1, 2)
        logs.append(
            StationLog(
                name=station.name,
                servers=station.servers,
                arrive_min=centre.arrive[j][reached],
                wait_min=centre.wait[j][reached],
                abandoned=centre.left[j][reached],
                service_min=centre.served_time[j][reached],
                queue_times_min=queue[:, 0],
                queue_lengths=queue[:, 1].astype(int),
            )
        )
    return CenterRun(
        config=config,
        booked=n + no_shows,
        no_shows=no_shows,
        arrival_min=arrivals,
        departure_min=centre.departure,
        abandoned_at=centre.abandoned_at,
        stations=tuple(logs),
    )
