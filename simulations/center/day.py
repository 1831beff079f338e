"""One day at a vaccination centre as SimPy processes: patients, the roster and breaks.

`CenterDay` owns the stations (servers on duty, queues, places) and applies the rules of
`simulations.center.simulation` at the instant they happen; its generator processes only wait:
`visit` (a patient walking the route), `follow_roster` (staffing changes), `take_break` (one
server's break). Same-instant order is SimPy's: roster and break events are scheduled URGENT,
so they run before patient events at the same instant, and events of equal priority run in the
order they were created. Every timeout is created at the moment its cause happens (a service
starts, a walk begins, a patient joins a queue), so that order is the order of causes. A
patient waiting for a server or a place is called by scheduling the event it waits on; one
waiting on its patience when a desk serves it is interrupted (`Process.interrupt`, URGENT, so
it switches to its service before any patient event of that instant).
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable, Generator

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from simulations.center.config import CenterConfig
from simulations.center.roster import changes

__all__ = ["CenterDay"]

_Step = tuple["_Call", Callable[[int, int], None] | None, int]


class _StaffTimeout(simpy.Event):
    """A timeout that runs before patient events at the same instant (SimPy's URGENT)."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


class _Call(simpy.Event):
    """A patient's next step: a timeout scheduled when its cause happens (`ring`), or a wait.

    A waiting patient is woken by scheduling the very event it waits on, which costs no extra
    event; once scheduled it runs like `env.timeout(delay)` created at that moment.
    """

    @property
    def pending(self) -> bool:
        return not self.triggered

    def ring(self, delay: float) -> None:
        self._ok = True
        self._value = None
        self.env.schedule(self, NORMAL, delay)


class _Rest:
    """A break waiting for a server: it ends at `end_min` whenever it starts."""

    __slots__ = ("back", "end_min", "process")

    def __init__(self, end_min: float, process: simpy.Process | None) -> None:
        self.end_min, self.process = end_min, process
        self.back: simpy.Event | None = None


class CenterDay:
    """The stations of one day and the processes that move patients and staff through them."""

    def __init__(self, config: CenterConfig, routes: list[list[int]], draws: dict) -> None:
        self.config, self.routes, self.draws = config, routes, draws
        self.env = env = simpy.Environment()
        stations = config.stations
        k, n = len(stations), len(routes)
        self.finite = [s.servers is not None for s in stations]
        self.free = [0] * k
        self.on_duty = [0] * k
        self.claims: list[deque[_Rest | None]] = [deque() for _ in range(k)]  # None: removal
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
        self.next_step: list[_Step | None] = [None] * n
        self.patients: list[simpy.Process] = []
        for j, station in enumerate(stations):
            if station.servers is None:
                continue
            env.process(self.follow_roster(j, changes(station.roster, station.servers)))
            for brk in station.breaks:
                for _ in range(brk.servers):
                    env.process(self.take_break(j, brk.start_min, brk.end_min))

    @property
    def now(self) -> float:
        return self.env.now

    def run(self, arrivals: list[float]) -> None:
        """Admit the patients at their instants and run until no event is left."""
        env = self.env
        for i, t in enumerate(arrivals):
            self.next_step[i] = (arrival := _Call(env), self.arrive_at_center, -1)
            arrival.ring(t)
            self.patients.append(env.process(self.visit(i)))
        env.run()

    # processes
    def visit(self, i: int) -> Generator[simpy.Event, None, None]:
        """Patient i: wait for the next step the stations set, then take it, until out."""
        while (step := self.next_step[i]) is not None:
            event, action, k = step
            try:
                yield event
            except simpy.Interrupt:
                continue  # called: a desk or a place changed the next step
            if action is not None:
                action(i, k)

    def follow_roster(
        self, k: int, steps: list[tuple[float, int]]
    ) -> Generator[simpy.Event, None, None]:
        """Station k's servers on duty: every change of the roster, all scheduled at opening."""
        changes_at = [_StaffTimeout(self.env, t) for t, _ in steps]  # all scheduled now
        for change, (_, count) in zip(changes_at, steps, strict=True):
            yield change
            self.shift(k, count)

    def take_break(self, k: int, start: float, end: float) -> Generator[simpy.Event, None, None]:
        """One server of station k rests until `end`: from `start`, or when one comes free."""
        yield _StaffTimeout(self.env, start)
        rest = _Rest(end, self.env.active_process)
        self.start_break(k, rest)
        if rest.back is None:  # every server busy: called when one comes free in time
            with contextlib.suppress(simpy.Interrupt):
                yield self.env.event()  # never triggered; a skipped break waits here for ever
        yield rest.back
        self.server_free(k)

    def set_step(self, i: int, delay: float | None, action: Callable | None, k: int) -> None:
        """Patient i's next step, `delay` from now (None: until called).

        A patient waiting on a call not yet scheduled gets that call scheduled for the step; a
        patient waiting on anything else is interrupted to wait on the new step instead.
        """
        patient = self.patients[i]
        step = self.next_step[i]
        if patient is not self.env.active_process and step is not None and step[0].pending:
            call = step[0]
        else:
            call = _Call(self.env)
            if patient is not self.env.active_process:
                patient.interrupt()
        if delay is not None:
            call.ring(delay)
        self.next_step[i] = (call, action, k)

    # staff
    def shift(self, k: int, count: int) -> None:
        delta = count - self.on_duty[k]
        self.on_duty[k] = count
        claims = self.claims[k]
        while delta > 0 and None in claims:  # cancel pending removals first
            claims.remove(None)
            delta -= 1
        if delta > 0:
            self.free[k] += delta
            self.serve_next(k)
        for _ in range(-delta):
            if self.free[k] > 0:
                self.free[k] -= 1
            else:
                claims.append(None)

    def start_break(self, k: int, rest: _Rest) -> None:
        if self.free[k] > 0:
            self.free[k] -= 1
            self.rest(k, rest)
        else:
            self.claims[k].append(rest)

    def rest(self, k: int, rest: _Rest) -> None:
        self.on_break[k] += rest.end_min - self.now
        rest.back = _StaffTimeout(self.env, rest.end_min - self.now)
        if rest.process is not self.env.active_process:
            rest.process.interrupt()

    def server_free(self, k: int) -> None:
        claims = self.claims[k]
        while claims:
            rest = claims.popleft()
            if rest is None:
                return  # removed from the roster
            if rest.end_min > self.now:
                self.rest(k, rest)
                return
        self.free[k] += 1
        self.serve_next(k)

    # patients
    def note_queue(self, k: int) -> None:
        self.queue_log[k].append((self.now, self.queued[k]))

    def arrive_at_center(self, i: int, _: int) -> None:
        self.next_step[i] = None
        self.to_station(i, None)

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
            self.set_step(i, None, None, -1)  # until a place or a desk calls

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
            self.set_step(i, walk, self.enter, k)
        else:
            self.enter(i, k)

    def release(self, k: int) -> None:
        """The patient leaves station k: its server and its place free up."""
        if self.finite[k]:
            self.server_free(k)
        self.present[k] -= 1
        self.admit_waiting(k)

    def admit_waiting(self, k: int) -> None:
        waiting = self.waiting_place[k]
        while waiting and self.present[k] < self.capacity[k]:
            i, holding = waiting.popleft()
            self.take_place(i, k, None if holding < 0 else holding)

    def enter(self, i: int, k: int) -> None:
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
            self.set_step(i, patience, self.leave_queue, k)
        else:
            self.set_step(i, None, None, -1)  # until a place or a desk calls
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
        self.set_step(i, service, self.end_service, k)

    def end_service(self, i: int, k: int) -> None:
        self.next_step[i] = None
        self.step[i] += 1
        if self.step[i] < len(self.routes[i]):
            self.to_station(i, k)
            return
        self.departure[i] = self.exit[i] = self.now
        self.done += 1
        self.release(k)

    def leave_queue(self, i: int, k: int) -> None:
        self.next_step[i] = None
        self.in_queue[i] = False
        self.queued[k] -= 1
        self.note_queue(k)
        self.wait[k, i] = self.now - self.arrive[k, i]
        self.left[k, i] = True
        self.abandoned_at[i] = k
        self.exit[i] = self.now
        self.done += 1
        self.present[k] -= 1
        self.admit_waiting(k)
