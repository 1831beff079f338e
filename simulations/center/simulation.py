"""One day at a vaccination centre: patients walk their class's route through stations.

A discrete-event simulation on a binary heap (the semantics below are exact and tie-broken
deterministically; a SimPy version of the same network was too slow for a 2,000-patient day in
under a second). Events at the same instant run roster and break changes first, then patient
events in the order they were scheduled.

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

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from simulations.center.arrivals import arrival_times
from simulations.center.config import CenterConfig, Station, load_center
from simulations.center.roster import changes

__all__ = ["CenterRun", "StationLog", "load_center", "simulate_center"]

_STREAMS_PER_STATION = 3  # service, patience, walk
_SHIFT, _BREAK, _BACK, _ARRIVE, _ENTER, _END, _LEAVE = range(7)
_STAFF, _PATIENT = 0, 1  # same-instant order: staff changes first


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


class _Day:
    """The event loop and the state of one run (see the module docstring for the rules)."""

    def __init__(self, config: CenterConfig, routes: list[list[int]], draws: dict) -> None:
        self.config, self.routes, self.draws = config, routes, draws
        stations = config.stations
        k, n = len(stations), len(routes)
        self.heap: list[tuple] = []
        self.seq = 0
        self.now = 0.0
        self.finite = [s.servers is not None for s in stations]
        self.free = [0] * k
        self.claims: list[deque[float]] = [deque() for _ in range(k)]  # inf: removal
        self.queue: list[deque[int]] = [deque() for _ in range(k)]
        self.queued = [0] * k
        self.capacity = [s.capacity if s.capacity is not None else math.inf for s in stations]
        self.present = [0] * k
        self.waiting_place: list[deque[tuple[int, int]]] = [deque() for _ in range(k)]
        self.step = [0] * n  # position in the route
        self.in_queue = [False] * n
        self.blocked_since = [math.nan] * n
        self.arrive = np.full((k, n), np.nan)
        self.wait = np.zeros((k, n))
        self.left = np.zeros((k, n), dtype=bool)
        self.served = np.zeros((k, n))
        self.queue_log: list[list[tuple[float, int]]] = [[(0.0, 0)] for _ in range(k)]
        self.blocked = [0.0] * k
        self.on_break = [0.0] * k
        self.departure = np.full(n, np.nan)
        self.exit = np.full(n, np.inf)  # departure or abandonment; inf while inside
        self.abandoned_at = np.full(n, -1)
        self.done = 0
        self._staffing(stations)

    def push(self, t: float, priority: int, kind: int, a: int, b: float = 0.0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, priority, self.seq, kind, a, b))

    def _staffing(self, stations: tuple[Station, ...]) -> None:
        for k, station in enumerate(stations):
            if station.servers is None:
                continue
            for t, count in changes(station.roster, station.servers):
                self.push(t, _STAFF, _SHIFT, k, count)
            for brk in station.breaks:
                for _ in range(brk.servers):
                    self.push(brk.start_min, _STAFF, _BREAK, k, brk.end_min)
        self.on_duty = [0] * len(stations)

    def run(self, arrivals: list[float]) -> None:
        for i, t in enumerate(arrivals):
            self.push(t, _PATIENT, _ARRIVE, i)
        handlers = {
            _SHIFT: self.shift,
            _BREAK: self.start_break,
            _BACK: lambda k, _: self.server_free(k),
            _ARRIVE: lambda i, _: self.to_station(i, None),
            _ENTER: self.enter,
            _END: self.end_service,
            _LEAVE: self.leave_queue,
        }
        heap = self.heap
        while heap:
            t, _, _, kind, a, b = heapq.heappop(heap)
            self.now = t
            handlers[kind](a, b)

    # staff
    def shift(self, k: int, count: float) -> None:
        delta = int(count) - self.on_duty[k]
        self.on_duty[k] = int(count)
        claims = self.claims[k]
        while delta > 0 and math.inf in claims:  # cancel pending removals first
            claims.remove(math.inf)
            delta -= 1
        if delta > 0:
            self.free[k] += delta
            self.serve_next(k)
        for _ in range(-delta):
            if self.free[k] > 0:
                self.free[k] -= 1
            else:
                claims.append(math.inf)

    def start_break(self, k: int, end: float) -> None:
        if self.free[k] > 0:
            self.free[k] -= 1
            self.rest(k, end)
        else:
            self.claims[k].append(end)

    def rest(self, k: int, end: float) -> None:
        self.on_break[k] += end - self.now
        self.push(end, _STAFF, _BACK, k)

    def server_free(self, k: int) -> None:
        claims = self.claims[k]
        while claims:
            end = claims.popleft()
            if end == math.inf:
                return  # removed from the roster
            if end > self.now:
                self.rest(k, end)
                return
        self.free[k] += 1
        self.serve_next(k)

    # patients
    def note_queue(self, k: int) -> None:
        self.queue_log[k].append((self.now, self.queued[k]))

    def to_station(self, i: int, holding: int | None) -> None:
        """Patient i wants a place at its next station; `holding` is the station it blocks."""
        k = self.routes[i][self.step[i]]
        if holding is None:
            self.arrive[k, i] = self.now
        if self.present[k] < self.capacity[k] and not self.waiting_place[k]:
            self.take_place(i, k, holding)
        else:
            if holding is not None:
                self.blocked_since[i] = self.now
            self.waiting_place[k].append((i, -1 if holding is None else holding))

    def take_place(self, i: int, k: int, holding: int | None) -> None:
        self.present[k] += 1
        if holding is None:
            self.enter(i, k)
            return
        if not math.isnan(self.blocked_since[i]):
            self.blocked[holding] += self.now - self.blocked_since[i]
            self.blocked_since[i] = math.nan
        self.release(holding)
        walk = self.draws["walk"][k][i]
        if walk > 0:
            self.push(self.now + walk, _PATIENT, _ENTER, i, k)
        else:
            self.enter(i, k)

    def release(self, k: int) -> None:
        """The patient leaves station k: its server and its place free up."""
        if self.finite[k]:
            self.server_free(k)
        self.present[k] -= 1
        waiting = self.waiting_place[k]
        while waiting and self.present[k] < self.capacity[k]:
            i, holding = waiting.popleft()
            self.take_place(i, k, None if holding < 0 else holding)

    def enter(self, i: int, k: float) -> None:
        k = int(k)
        if math.isnan(self.arrive[k, i]):
            self.arrive[k, i] = self.now
        if not self.finite[k]:
            self.start_service(i, k)
            return
        self.queue[k].append(i)
        self.queued[k] += 1
        self.in_queue[i] = True
        self.note_queue(k)
        patience = self.draws["patience"][k][i]
        if patience < math.inf:
            self.push(self.now + patience, _PATIENT, _LEAVE, i, k)
        self.serve_next(k)

    def serve_next(self, k: int) -> None:
        queue = self.queue[k]
        while self.free[k] > 0 and queue:
            i = queue.popleft()
            if not self.in_queue[i]:
                continue  # left earlier
            self.in_queue[i] = False
            self.queued[k] -= 1
            self.note_queue(k)
            self.free[k] -= 1
            self.start_service(i, k)

    def start_service(self, i: int, k: int) -> None:
        self.wait[k, i] = self.now - self.arrive[k, i]
        service = self.draws["service"][k][i]
        self.served[k, i] = service
        self.push(self.now + service, _PATIENT, _END, i, k)

    def end_service(self, i: int, k: float) -> None:
        k = int(k)
        self.step[i] += 1
        if self.step[i] < len(self.routes[i]):
            self.to_station(i, k)
            return
        self.departure[i] = self.exit[i] = self.now
        self.done += 1
        self.release(k)

    def leave_queue(self, i: int, k: float) -> None:
        k = int(k)
        if not self.in_queue[i] or self.routes[i][self.step[i]] != k:
            return
        self.in_queue[i] = False
        self.queued[k] -= 1
        self.note_queue(k)
        self.wait[k, i] = self.now - self.arrive[k, i]
        self.left[k, i] = True
        self.abandoned_at[i] = k
        self.exit[i] = self.now
        self.done += 1
        self.present[k] -= 1
        waiting = self.waiting_place[k]
        while waiting and self.present[k] < self.capacity[k]:
            j, holding = waiting.popleft()
            self.take_place(j, k, None if holding < 0 else holding)


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
    day = _Day(config, routes, {key: value.tolist() for key, value in draws.items()})
    day.run(arrivals.tolist())
    return _collect(config, day, arrivals, booked, no_shows, turned_away, classes)


def _collect(
    config: CenterConfig,
    day: _Day,
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
