"""The national model's rules played one visitor (and one request) at a time: a cross-check.

`simulations.national.opening_day` counts visitors in cohorts and steps them in ticks of
`model.tick_s`; this module runs the same rules with one SimPy process per visitor and exact
event times, for scenarios small enough to hold every visitor (`surge sim crosscheck` runs it on
a scenario scaled down 1:100). It reads the same `Scenario` and reuses only the slot inventory's
construction and its supply events (`Slots`: centre sizes, popularity, releases, cancellations);
everything a visitor does is written here, one visitor at a time:

- arrivals: the scenario's curve integrated over each `model.tick_s` interval
  (`arrivals_per_tick`), a Poisson number of visitors in each interval at uniform times, each a
  booker with probability `demand.book_share`;
- waiting room: a FIFO line; each visitor has an exponential patience and leaves when it runs
  out; the room admits one visitor every 1 / `admission_rate_at(now)` seconds while anyone waits
  (no burst), and never beyond `max_active_sessions`; on a numbered line a departed visitor's
  turn still uses its admission;
- sessions: browse Exp(`browse_mean_min`) or search Exp(`search_mean_min`), then checkout
  (`checkout_s`); each phase issues its requests (`requests_per_browse`, the search and checkout
  parts of `requests_per_booking`; a fractional count is rounded at random) at uniform times;
- web and DB tiers: `web_workers` (`db_connections`) first-come first-served servers; a request
  costs `service_ms[route]` (`db_ms[route]`) and is rejected if it would wait longer than
  `web_timeout_s` (`db_timeout_s`); its DB part arrives when a worker starts it. A booking fails
  with an error when any of its requests was rejected;
- slots: up to `center_tries` centres drawn by popularity; a centre shown full (free minus held)
  sends the visitor to another; `hold_slots_per_session` held during checkout; at commit the slot
  is booked if the centre still has one (else "taken");
- failures: error or taken -> retry (`retry_share`; refreshers faster), else give up; no slot or
  queue patience -> give up; giving up -> defer (`defer_share`, back through the queue) or
  abandon; each costs one of `retry_max + 1` attempts. A retry back within the pass lifetime
  (`pass_lifetime_min`, counted from admission) skips the queue.

The KPIs carry the count model's names and definitions (`records.build_result`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from simulations.national.request_tier import Attempt, RequestQueue, RequestTiers
from simulations.national.slots import Slots
from simulations.scenario.arrivals import arrivals_per_tick
from simulations.scenario.platform import Platform
from simulations.scenario.scenario import Scenario

__all__ = ["PerVisitorResult", "simulate_visitors"]

STREAMS = ("arrivals", "queue", "sessions", "slots", "outcomes", "requests")
COUNTS = (
    *("visitors", "bookers", "joined", "reneged", "returns", "scheduled", "bookings", "browsed"),
    *("browser_reneges", "retries", "deferrals", "commit_errors", "abandon_queue"),
    *("abandon_error", "abandon_taken", "abandon_no_slot", "abandon_checkout"),
)


@dataclass(frozen=True)
class PerVisitorResult:
    kpis: dict[str, float]


@dataclass
class _Ticket:
    event: simpy.Event
    joined_s: float
    gone: bool = False


class _Day:
    def __init__(self, sc: Scenario, seed: int | np.random.SeedSequence) -> None:
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rng = {n: np.random.default_rng(s) for n, s in zip(STREAMS, seq.spawn(6), strict=True)}
        self.sc, self.b, self.p = sc, sc.behaviour, sc.platform
        self.env = simpy.Environment()
        self.end_s = sc.duration_min * 60.0
        self.slots = Slots(sc.supply, self.rng["slots"])
        self.cum_popularity = np.cumsum(self.slots.popularity)
        self.last_attempt = self.b.retry_max + 1
        self.tiers = RequestTiers(
            RequestQueue(self.p.web_workers, self.p.web_timeout_s),
            RequestQueue(self.p.db_connections, self.p.db_timeout_s),
        )
        search, checkout = self.p.split_checkout()
        self.mixes = {
            "browse": _mix(self.p, self.p.requests_per_browse),
            "search": _mix(self.p, search),
            "checkout": _mix(self.p, checkout),
        }
        self.line: deque[_Ticket] = deque()
        self.waiting = 0
        self.active = 0
        self.wakeup: simpy.Event | None = None
        self.session_ended: simpy.Event | None = None
        minutes = int(math.ceil(sc.duration_min)) + 1
        self.per_min = {k: np.zeros(minutes) for k in ("bookings", "admitted", "wait_s", "sold")}
        self.count = dict.fromkeys(COUNTS, 0)

    # -- processes ------------------------------------------------------------------------------
    def arrivals(self):
        rng, tick = self.rng["arrivals"], self.sc.model.tick_s
        expected = arrivals_per_tick(
            self.sc.demand, self.sc.duration_min, tick, self.sc.clock_start_min
        )
        for i, mean in enumerate(expected):
            times = np.sort(rng.uniform(i * tick, (i + 1) * tick, rng.poisson(mean)))
            for t in times:
                if t > self.env.now:
                    yield self.env.timeout(t - self.env.now)
                booker = rng.random() < self.sc.demand.book_share
                self.count["visitors"] += 1
                self.count["bookers"] += booker
                self.env.process(self.visitor(1 if booker else 0))
            if (i + 1) * tick > self.env.now:
                yield self.env.timeout((i + 1) * tick - self.env.now)

    def admitter(self):
        env, p, last = self.env, self.p, -math.inf
        while True:
            if not self.line or (self.waiting == 0 and not self._numbered):
                self.wakeup = env.event()
                yield self.wakeup
                continue
            rate = p.admission_rate_at(env.now)
            if rate <= 0:
                yield env.timeout(1.0)
                continue
            due = last + 1.0 / rate
            if due > env.now:
                yield env.timeout(due - env.now)
                continue
            if p.max_active_sessions and self.active >= p.max_active_sessions:
                self.session_ended = env.event()
                yield self.session_ended
                continue
            ticket = self.line.popleft()
            if ticket.gone:
                if self._numbered:
                    last = env.now  # the departed visitor's number uses its admission
                continue
            self.waiting -= 1
            last = env.now
            ticket.event.succeed()

    def supply(self):
        s, tick = self.sc.supply, self.sc.model.tick_s
        while True:
            self.slots.cancel(s.cancel_share_per_h * tick / 3600.0)
            self.slots.release(self.env.now / 60.0, tick)
            yield self.env.timeout(tick)

    def monitor(self):
        for minute in range(len(self.per_min["sold"])):
            yield self.env.timeout(60.0)
            self.per_min["sold"][minute] = self.slots.sold_out_share()

    # -- one visitor ----------------------------------------------------------------------------
    def visitor(self, k: int):
        """Class 0 browses; k >= 1 is a booker on attempt k."""
        env = self.env
        bypass = False
        while True:
            if bypass:
                admitted_s = env.now
            else:
                admitted = yield from self._queue()
                if not admitted:
                    if k == 0:
                        self.count["browser_reneges"] += 1
                        return
                    delay = self._give_up(k, "abandon_queue")
                    if delay is None:
                        return
                    yield from self._away(delay)
                    k += 1
                    continue
                admitted_s = env.now
            self._session_started()
            if k == 0:
                duration = self.rng["sessions"].exponential(self.p.browse_mean_min * 60.0)
                self._requests("browse", duration, None)
                yield env.timeout(duration)
                self._session_over()
                self.count["browsed"] += 1
                return
            outcome = yield from self._book()
            if outcome == "booked" or outcome == "dropped":
                return
            if outcome == "abandon_no_slot":
                delay, bypass = self._give_up(k, outcome), False
            else:
                delay, bypass = self._fail(k, outcome, env.now - admitted_s)
            if delay is None:
                return
            yield from self._away(delay)
            k += 1

    def _queue(self):
        env = self.env
        minute = int(env.now // 60)
        if not self.p.waiting_room:  # everyone walks in
            self.count["joined"] += 1
            self.per_min["admitted"][minute] += 1
            return True
        ticket = _Ticket(env.event(), env.now)
        self.line.append(ticket)
        self.waiting += 1
        self.count["joined"] += 1
        if self.wakeup is not None and not self.wakeup.triggered:
            self.wakeup.succeed()
        patience = self.rng["queue"].exponential(self.b.wr_patience_mean_min * 60.0)
        yield ticket.event | env.timeout(patience)
        if not ticket.event.triggered:
            ticket.gone = True
            self.waiting -= 1
            self.count["reneged"] += 1
            return False
        minute = int(env.now // 60)
        self.per_min["admitted"][minute] += 1
        self.per_min["wait_s"][minute] += env.now - ticket.joined_s
        return True

    def _book(self):
        env, rng = self.env, self.rng["outcomes"]
        attempt = Attempt()
        search = self.rng["sessions"].exponential(self.p.search_mean_min * 60.0)
        self._requests("search", search, attempt)
        yield env.timeout(search)
        center, held = self._choose()
        if center is None:
            self._session_over()
            return "abandon_no_slot"
        self._requests("checkout", self.p.checkout_s, attempt)
        yield env.timeout(self.p.checkout_s)
        self._session_over()
        self.slots.held[center] -= held
        self.tiers.drain(env.now)
        if attempt.failed:
            self.count["commit_errors"] += 1
            return "abandon_error"
        if rng.random() >= self.b.checkout_completion:
            self.count["abandon_checkout"] += 1
            return "dropped"
        if self.slots.free[center] <= 0:
            return "abandon_taken"
        self.slots.free[center] -= 1
        self.slots.booked[center] += 1
        self.count["bookings"] += 1
        self.per_min["bookings"][int(env.now // 60)] += 1
        return "booked"

    def _choose(self) -> tuple[int | None, int]:
        slots, hold, rng = self.slots, self.sc.supply.hold_slots_per_session, self.rng["slots"]
        for _ in range(self.b.center_tries):
            i = int(np.searchsorted(self.cum_popularity, rng.random() * self.cum_popularity[-1]))
            i = min(i, slots.n_centers - 1)
            room = int(slots.free[i] - slots.held[i])
            if room > 0:
                grab = min(hold, room)
                slots.held[i] += grab
                return i, grab
        return None, 0

    def _fail(self, k: int, cause: str, since_admitted_s: float) -> tuple[float | None, bool]:
        b, rng = self.b, self.rng["outcomes"]
        if k < self.last_attempt and rng.random() < b.retry_share:
            self.count["retries"] += 1
            refresher = rng.random() < b.refresher_share
            mean = b.refresher_backoff_s if refresher else b.retry_backoff_s
            delay = float(rng.exponential(mean))
            return delay, delay + since_admitted_s < self.p.pass_lifetime_min * 60.0
        return self._give_up(k, cause), False

    def _give_up(self, k: int, cause: str) -> float | None:
        rng = self.rng["outcomes"]
        if k < self.last_attempt and rng.random() < self.b.defer_share:
            self.count["deferrals"] += 1
            return float(rng.exponential(self.b.defer_mean_min * 60.0))
        self.count[cause] += 1
        return None

    def _away(self, delay: float):
        self.count["scheduled"] += 1
        yield self.env.timeout(delay)
        self.count["returns"] += 1

    def _requests(self, phase: str, duration_s: float, attempt: Attempt | None) -> None:
        rng, now = self.rng["requests"], self.env.now
        for count, web_s, db_s in self.mixes[phase]:
            n = int(count) + int(rng.random() < count - int(count))
            for t in rng.uniform(now, now + duration_s, n):
                self.tiers.schedule(float(t), web_s, db_s, attempt)

    def _session_started(self) -> None:
        self.active += 1

    def _session_over(self) -> None:
        self.active -= 1
        if self.session_ended is not None and not self.session_ended.triggered:
            self.session_ended.succeed()

    @property
    def _numbered(self) -> bool:
        return self.p.waiting_room_line == "numbered"

    # -- run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        env = self.env
        for process in (self.arrivals, self.admitter, self.supply, self.monitor):
            env.process(process())
        drain_every = self.sc.model.tick_s

        def drain():
            while True:
                yield env.timeout(drain_every)
                self.tiers.drain(env.now)

        env.process(drain())
        env.run(until=self.end_s)
        return self.kpis()

    def kpis(self) -> dict[str, float]:
        c, m = self.count, self.per_min
        n = int(math.ceil(self.sc.duration_min))
        bookings, admitted, wait_s, sold = (
            m[k][:n] for k in ("bookings", "admitted", "wait_s", "sold")
        )
        busiest = admitted > 0
        mean_wait = np.where(busiest, wait_s / np.maximum(admitted, 1), 0.0) / 60.0
        full = np.flatnonzero(sold >= 0.5)
        abandoned = sum(v for key, v in c.items() if key.startswith("abandon_"))
        web, db = self.tiers.web, self.tiers.db
        return {
            "visitors": float(c["visitors"]),
            "bookings": float(c["bookings"]),
            "peak_bookings_per_min": float(bookings.max()),
            "wr_wait_peak_min": float(mean_wait[busiest].max()) if busiest.any() else 0.0,
            "wr_renege_share": c["reneged"] / max(c["joined"], 1),
            "abandonment": abandoned / max(c["bookers"], 1),
            "sellout_min": float(full[0]) if len(full) else math.nan,
            "retries": float(c["retries"]),
            "web_utilisation": web.busy_s / (web.servers * self.end_s),
            "db_utilisation": db.busy_s / (db.servers * self.end_s),
            "request_error_rate": web.rejected / max(web.offered, 1),
            "booking_success": c["bookings"] / max(c["bookings"] + c["commit_errors"], 1),
        }


def _mix(p: Platform, requests: dict[str, float]) -> list[tuple[float, float, float]]:
    """(requests per session, web seconds, DB seconds) per route."""
    return [
        (n, p.service_ms.get(route, 0.0) / 1000.0, p.db_ms.get(route, 0.0) / 1000.0)
        for route, n in requests.items()
        if n > 0
    ]


def simulate_visitors(scenario: Scenario, seed: int | np.random.SeedSequence) -> PerVisitorResult:
    """One replication, one SimPy process per visitor (use on scaled-down scenarios)."""
    return PerVisitorResult(kpis=_Day(scenario.scaled(), seed).run())
