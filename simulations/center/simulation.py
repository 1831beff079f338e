"""One day at a vaccination centre: patients walk their class's route through stations.

A discrete-event simulation in SimPy (`simulations.center.day`: patients, the roster and
breaks are SimPy processes; the semantics below are exact and tie-broken deterministically).
Events at the same instant run roster and break changes first, then patient events in the
order they were scheduled.

Every random quantity of patient i is drawn up front, in arrival order, from its own stream
(arrivals, no-shows, punctuality, and per station: service, patience, walk; then class, walk-ins
and per-class service). Patient i therefore gets the same times whatever the staffing, which
gives common random numbers when sizing compares staffing levels.

Stations: `servers = None` is a pure delay (no queue). `capacity` counts every patient at the
station, waiting or in service. A patient who finishes service while the next station is full
keeps the server (blocking after service) until a place frees; places go first come, first
served. Patients arriving from outside to a full first station wait at the door (that time
counts as their wait there). A place is taken when the patient leaves the previous station, so
walking to the station occupies it. Patience applies to the queue for a server, not to blocking.
When no event is left but patients are still inside, the run stops and reports them as
`stranded` (with `deadlock` when some of them hold a server while waiting for a place, as Ciw
detects it), instead of hanging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulations.center.arrivals import arrival_times
from simulations.center.config import CenterConfig, load_center
from simulations.center.day import CenterDay

__all__ = ["CenterRun", "StationLog", "load_center", "simulate_center"]

_STREAMS_PER_STATION = 3  # service, patience, walk


@dataclass(frozen=True)
class StationLog:
    """What happened at one station: one entry per patient who reached it."""

    name: str
    servers: int | None  # the most servers ever on duty
    arrive_min: np.ndarray
    wait_min: np.ndarray  # time queued until service or until leaving
    abandoned: np.ndarray  # bool
    service_min: np.ndarray  # 0 for patients who left the queue
    queue_times_min: np.ndarray  # instants the queue length changed
    queue_lengths: np.ndarray  # queue length from that instant on
    blocked_min: float = 0.0  # server (or place) time held by patients blocked after service
    break_min: float = 0.0  # server time actually spent on breaks

    @property
    def last_departure_min(self) -> float:
        ends = self.arrive_min + self.wait_min + self.service_min
        return float(ends.max()) if ends.size else 0.0


@dataclass(frozen=True)
class CenterRun:
    """One simulated day. Times are minutes after opening."""

    config: CenterConfig
    booked: int  # patients expected (Poisson arrivals, walk-ins and appointment bookings)
    no_shows: int
    arrival_min: np.ndarray  # per patient admitted
    departure_min: np.ndarray  # NaN for patients who abandoned or are stranded
    abandoned_at: np.ndarray  # station index where the patient left, -1 if not
    stations: tuple[StationLog, ...]
    exit_min: np.ndarray | None = None  # departure or abandonment; inf for stranded patients
    class_index: np.ndarray | None = None  # per patient, index into config.classes
    turned_away: int = 0  # came at or after closing time
    stranded: int = 0  # still inside when no event was left (see the module docstring)
    deadlock: bool = False
    end_min: float = 0.0  # instant of the last event


def _streams(seed: int | np.random.SeedSequence, count: int) -> list[np.random.Generator]:
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # The children `root.spawn` would give a fresh sequence, without mutating `root` (spawn
    # counts its children, so reusing one SeedSequence object would otherwise break CRN).
    return [
        np.random.default_rng(
            np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
            )
        )
        for i in range(count)
    ]


def simulate_center(config: CenterConfig, seed: int | np.random.SeedSequence) -> CenterRun:
    """Simulate one day; the same seed gives the same patients whatever the staffing."""
    k = len(config.stations)
    extra = 3 + _STREAMS_PER_STATION * k  # class, walk-ins, then one per class
    streams = _streams(seed, extra + 2 + len(config.classes))
    arrivals, no_shows = arrival_times(config, streams)
    booked = len(arrivals) + no_shows
    if config.walk_ins is not None:
        walk_ins = config.walk_ins.sample(streams[extra + 1])
        booked += len(walk_ins)
        arrivals = np.sort(np.concatenate([arrivals, walk_ins]))
    turned_away = 0
    if config.closing is not None:
        admitted = arrivals < config.closing.at_min
        turned_away = int((~admitted).sum())
        arrivals = arrivals[admitted]
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
    index = {s.name: j for j, s in enumerate(config.stations)}
    classes = None
    if config.classes:
        shares = np.array([c.share for c in config.classes])
        classes = streams[extra].choice(len(shares), size=n, p=shares / shares.sum())
        for c, patient_class in enumerate(config.classes):
            mine = classes == c
            for name in sorted(patient_class.service):
                sample = patient_class.service[name].sample(streams[extra + 2 + c], n)
                draws["service"][index[name]][mine] = sample[mine]
        class_routes = [[index[s] for s in c.route] for c in config.classes]
        routes = [class_routes[c] for c in classes.tolist()]
    else:
        routes = [list(range(k))] * n
    for j in range(k):  # a patient's walk to the first station of its route is zero
        draws["walk"][j][[r[0] == j for r in routes]] = 0.0
    day = CenterDay(config, routes, {key: value.tolist() for key, value in draws.items()})
    day.run(arrivals.tolist())
    return _collect(config, day, arrivals, booked, no_shows, turned_away, classes)


def _collect(
    config: CenterConfig,
    day: CenterDay,
    arrivals: np.ndarray,
    booked: int,
    no_shows: int,
    turned_away: int,
    classes: np.ndarray | None,
) -> CenterRun:
    logs = []
    for j, station in enumerate(config.stations):
        reached = ~np.isnan(day.arrive[j])
        queue = np.array(day.queue_log[j], dtype=float).reshape(-1, 2)
        logs.append(
            StationLog(
                name=station.name,
                servers=station.nominal_servers,
                arrive_min=day.arrive[j][reached],
                wait_min=day.wait[j][reached],
                abandoned=day.left[j][reached],
                service_min=day.served[j][reached],
                queue_times_min=queue[:, 0],
                queue_lengths=queue[:, 1].astype(int),
                blocked_min=day.blocked[j],
                break_min=day.on_break[j],
            )
        )
    n = len(arrivals)
    blocked_now = any(not math.isnan(b) for b in day.blocked_since)
    return CenterRun(
        config=config,
        booked=booked,
        no_shows=no_shows,
        arrival_min=arrivals,
        departure_min=day.departure,
        abandoned_at=day.abandoned_at,
        stations=tuple(logs),
        exit_min=day.exit,
        class_index=classes,
        turned_away=turned_away,
        stranded=n - day.done,
        deadlock=blocked_now,
        end_min=day.now,
    )
