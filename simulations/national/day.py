"""The state of one opening-day replication, and the three steps a tick applies to it.

`OpeningDay` holds the counts (visitors in cohorts by attempt class, sessions, checkouts in
flight, returns scheduled into future ticks), the waiting room, the web and DB tiers and the
slots; `arrive`, `queue` and `serve` advance it by one tick each. It knows nothing of SimPy or
replications: `simulations.national.opening_day` drives it and turns it into a `RunResult`.
"""

from __future__ import annotations

import math

import numpy as np

from simulations.national.departments import Departments
from simulations.national.records import Recorder
from simulations.national.slots import Slots
from simulations.national.waiting_room import WaitingRoom
from simulations.national.web_tier import Tier
from simulations.scenario.arrivals import arrivals_per_tick
from simulations.scenario.scenario import Scenario

__all__ = ["OpeningDay"]


class OpeningDay:
    """State of one replication; `arrive`, `queue`, `serve` advance it by one tick each."""

    def __init__(
        self,
        sc: Scenario,
        rngs: dict[str, np.random.Generator],
        slots: Slots | None = None,
        carry_in: np.ndarray | None = None,
    ) -> None:
        """`slots` continues an inventory from an earlier day (else a new one from
        `sc.supply`); `carry_in[t, k]` visitors of class k come back at tick t (a campaign's
        previous day: see `carry_out`)."""
        self.sc = sc
        self.rng = rngs
        self.tick_s = sc.model.tick_s
        self.expected = arrivals_per_tick(
            sc.demand, sc.duration_min, self.tick_s, sc.clock_start_min
        )
        self.n_ticks = len(self.expected)
        b, p = sc.behaviour, sc.platform
        self.n_attempts = b.retry_max + 2
        self.n_depts = 1 if sc.regions is None else len(sc.regions.table())
        self.n_classes = self.n_depts * self.n_attempts  # department * attempts + attempt
        self.attempt = np.tile(np.arange(self.n_attempts), self.n_depts)
        self.browsers = self.attempt == 0
        self.tick = 0
        horizon = self.n_ticks + 1
        self.returns = np.zeros((horizon, self.n_classes), dtype=np.int64)
        self.pass_returns = np.zeros((horizon, self.n_classes), dtype=np.int64)
        self.browse_end = np.zeros(horizon, dtype=np.int64)
        self.search_end = np.zeros((horizon, self.n_classes), dtype=np.int64)
        self.slots = Slots(sc.supply, rngs["slots"]) if slots is None else slots
        self.slots.supply = sc.supply  # a carried inventory releases as this day's supply says
        self.depts = (
            None if sc.regions is None else Departments(sc.regions, self.slots, self.n_attempts)
        )
        n_centers = self.slots.n_centers
        self.checkout_ticks = max(1, math.ceil(p.checkout_s / self.tick_s))
        ring = self.checkout_ticks + 1
        per_dept = () if sc.regions is None else (self.n_depts,)
        self.ck_centers = np.zeros((ring, *per_dept, n_centers), dtype=np.int64)
        self.ck_held = np.zeros((ring, n_centers), dtype=np.int64)
        self.ck_classes = np.zeros((ring, self.n_classes), dtype=np.int64)
        self.wr = WaitingRoom(
            self.n_classes,
            b.wr_patience_mean_min * 60.0,
            rngs["queue"],
            wait_bin_s=self.tick_s,
            numbered_line=p.waiting_room_line == "numbered",
            cellwise_renege=sc.regions is not None,
        )
        if sc.model.visitor_sample:
            self.wr.log = []
            self.wr.log_fold = self.n_attempts if sc.regions is not None else 0
        self.web = Tier(p.web_workers, p.web_timeout_s)
        self.db = Tier(p.db_connections, p.db_timeout_s)
        search_mix, checkout_mix = p.split_checkout()
        self.search_work = (p.work_s(search_mix, "service_ms"), p.work_s(search_mix, "db_ms"))
        self.search_requests = sum(search_mix.values())
        self.checkout_work = (p.work_s(checkout_mix, "service_ms"), p.work_s(checkout_mix, "db_ms"))
        self.checkout_requests = sum(checkout_mix.values())
        browse = p.requests_per_browse
        self.browse_work = (p.work_s(browse, "service_ms"), p.work_s(browse, "db_ms"))
        self.browse_requests = sum(browse.values())
        self.booking_requests = sum(p.requests_per_booking.values())
        self.tokens = 0.0
        self.incoming = np.zeros(self.n_classes, dtype=np.int64)
        self.bypass = np.zeros(self.n_classes, dtype=np.int64)
        self.active_browse = 0
        self.active_search = 0
        self.active_checkout = 0
        self.request_error = 0.0  # smoothed share of requests failing
        self.rec = Recorder(self.n_ticks, self.tick_s)
        self.count = {
            "visitors": 0,
            "bookers": 0,
            "returns": 0,
            "browser_reneges": 0,
            "bookings": 0,
            "browsed": 0,
            "retries": 0,
            "deferrals": 0,
            "scheduled": 0,
            "abandon_queue": 0,
            "abandon_error": 0,
            "abandon_taken": 0,
            "abandon_no_slot": 0,
            "abandon_checkout": 0,
            "commit_errors": 0,
            "cancellations": 0,
            "events": 0,
            "carried_in": 0,
        }
        self.overflow = np.zeros((self.n_ticks, self.n_classes), dtype=np.int64)
        self.cut_search = np.zeros(self.n_classes, dtype=np.int64)
        if carry_in is not None:
            self._carry(carry_in)

    def _carry(self, carry_in: np.ndarray) -> None:
        """Visitors carried from an earlier day join the returns (beyond the day: overflow)."""
        n = int(carry_in.sum())
        inside = carry_in[: self.n_ticks]
        self.returns[: len(inside)] += inside
        late = carry_in[self.n_ticks :]
        if len(late):
            rows = np.minimum(np.arange(len(late)), self.n_ticks - 1)
            np.add.at(self.overflow, rows, late)
        self.count["scheduled"] += n
        self.count["carried_in"] += n

    def carry_out(self) -> np.ndarray:
        """Everyone still in the system at the end, by tick of the next day and class: the
        queue, the sessions in progress (all back at the next day's first tick, queueing again)
        and the returns scheduled past the end (at their own ticks)."""
        out = self.overflow.copy()
        out[0] += self.wr.queued_by_class()
        out[0, 0] += self.active_browse
        out[0] += self.cut_search + self.search_end[self.n_ticks]
        out[0] += self.ck_classes.sum(axis=0)
        self.slots.held -= self.ck_held.sum(axis=0)
        return out

    @property
    def now_s(self) -> float:
        return self.tick * self.tick_s

    @property
    def active(self) -> int:
        return self.active_browse + self.active_search + self.active_checkout

    # -- arrive ---------------------------------------------------------------------------------
    def arrive(self) -> None:
        t = self.tick
        rng = self.rng["arrivals"]
        new = int(rng.poisson(self.expected[t]))
        if self.depts is None:
            bookers = int(rng.binomial(new, self.sc.demand.book_share))
            cohort = np.zeros(self.n_classes, dtype=np.int64)
            cohort[0], cohort[1] = new - bookers, bookers
        else:
            cohort = self.depts.arrive(rng, new, self.sc.demand.book_share)
            bookers = int(cohort[~self.browsers].sum())
        back, self.bypass = self.returns[t], self.pass_returns[t]
        self.incoming = cohort + back
        n_back = int(back.sum() + self.bypass.sum())
        self.count["visitors"] += new
        self.count["bookers"] += bookers
        self.count["returns"] += n_back
        self.count["events"] += new + n_back
        self.rec.add(t, arrivals=new, returns=n_back)

    # -- queue ----------------------------------------------------------------------------------
    def queue(self) -> None:
        t, now, p = self.tick, self.now_s, self.sc.platform
        gone = self.wr.renege(now)
        self.count["browser_reneges"] += int(gone[self.browsers].sum())
        self._give_up(gone, "abandon_queue")
        self.wr.join(now, self.incoming)
        if p.waiting_room:
            rate = p.admission_rate_at(now)
            self.tokens = min(self.tokens + rate * self.tick_s, rate * self.tick_s + 1.0)
            budget = int(self.tokens)
            if p.max_active_sessions:
                budget = min(budget, max(0, p.max_active_sessions - self.active))
        else:
            budget = self.wr.length
        wait_before = self.wr.admitted_wait_s
        admitted = self.wr.admit(now, budget)
        n_admitted = int(admitted.sum())
        self.tokens -= n_admitted
        self.rec.add(
            t,
            joined=int(self.incoming.sum()),
            admitted=n_admitted,
            admitted_wait_s=self.wr.admitted_wait_s - wait_before,
            reneged=int(gone.sum()),
        )
        admitted += self.bypass
        self.count["events"] += n_admitted + int(gone.sum())
        self._start_sessions(admitted)
        self.rec.set(t, in_queue=self.wr.length, oldest_wait_s=self.wr.oldest_wait_s(now))
        self.rec.queue_area += self.wr.length * self.tick_s

    def _start_sessions(self, admitted: np.ndarray) -> None:
        p, rng = self.sc.platform, self.rng["sessions"]
        browsers = int(admitted[self.browsers].sum())
        if browsers:
            self.active_browse += browsers
            self._schedule(self.browse_end, browsers, p.browse_mean_min * 60.0, rng)
        bookers = admitted.copy()
        bookers[self.browsers] = 0
        for k in np.flatnonzero(bookers):
            beyond = self._schedule(self.search_end, bookers[k], p.search_mean_min * 60.0, rng, k)
            self.cut_search[k] += beyond
        self.active_search += int(bookers.sum())

    def _schedule(self, target, n, mean_s, rng, k=None, delay_ticks=0) -> int:
        """Put `n` visitors into `target` at exponential delays; returns those beyond the end."""
        n = int(n)
        if n == 0:
            return 0
        ticks = self.tick + delay_ticks + np.ceil(rng.exponential(mean_s, n) / self.tick_s)
        inside = ticks[ticks < len(target)].astype(np.int64)
        counts = np.bincount(inside - self.tick, minlength=0)
        window = target[self.tick : self.tick + len(counts)]
        if k is None:
            window += counts
        else:
            window[:, k] += counts
        return n - len(inside)

    # -- serve ----------------------------------------------------------------------------------
    def serve(self) -> None:
        t = self.tick
        self._load_tiers(t)
        ended = int(self.browse_end[t])
        self.active_browse -= ended
        self.count["browsed"] += ended
        self._choose_centers(t)
        self._check_out(t)
        cancelled = self.slots.cancel(self.sc.supply.cancel_share_per_h * self.tick_s / 3600.0)
        self.count["cancellations"] += cancelled
        self.slots.release(self.now_s / 60.0, self.tick_s)
        if self.depts is not None:
            self.depts.note_sellout(self.slots, t)
        self.count["events"] += ended
        self.rec.set(
            t,
            active_sessions=self.active,
            slots_left=int(np.maximum(self.slots.free, 0).sum()),
            centers_sold_out_share=self.slots.sold_out_share(),
        )

    def _load_tiers(self, t: int) -> None:
        p, dt = self.sc.platform, self.tick_s
        browse_rate = self.active_browse * dt / (p.browse_mean_min * 60.0)
        search_rate = self.active_search * dt / (p.search_mean_min * 60.0)
        checkout_rate = self.active_checkout / self.checkout_ticks
        loads = [
            (browse_rate, self.browse_work, self.browse_requests),
            (search_rate, self.search_work, self.search_requests),
            (checkout_rate, self.checkout_work, self.checkout_requests),
        ]
        web_work = sum(r * w[0] for r, w, _ in loads)
        db_work = sum(r * w[1] for r, w, _ in loads)
        requests = sum(r * n for r, _, n in loads)
        web = self.web.step(web_work, dt)
        db = self.db.step(db_work * (1.0 - web.reject_share), dt)
        error = 1.0 - (1.0 - web.reject_share) * (1.0 - db.reject_share)
        smoothing = min(1.0, dt / (p.search_mean_min * 60.0))
        self.request_error += smoothing * (error - self.request_error)
        polls = self.wr.length * dt / p.queue_poll_interval_s + int(self.incoming.sum())
        self.rec.add(
            t,
            web_utilisation=web.utilisation,
            db_utilisation=db.utilisation,
            origin_requests=requests,
            failed_requests=requests * error,
            edge_requests=polls,
            web_wait_s=web.wait_s,
        )

    def _choose_centers(self, t: int) -> None:
        ending = self.search_end[t]
        n = int(ending.sum())
        if n == 0:
            return
        self.active_search -= n
        rng = self.rng["outcomes"]
        if self.depts is None:
            chosen, held, no_slot = self.slots.choose(n, self.sc.behaviour.center_tries)
            no_slot_classes = rng.multivariate_hypergeometric(ending, no_slot)
        else:
            chosen, held, no_slot_classes = self.depts.choose(
                self.slots, ending, self.sc.behaviour.center_tries, rng
            )
            no_slot = int(no_slot_classes.sum())
        self.rec.add(t, no_slot=no_slot)
        self._fail(no_slot_classes, "abandon_no_slot", retry=False)
        slot = (t + self.checkout_ticks) % len(self.ck_centers)
        self.ck_centers[slot] += chosen
        self.ck_held[slot] += held
        self.ck_classes[slot] += ending - no_slot_classes
        self.active_checkout += n - no_slot
        self.count["events"] += n

    def _check_out(self, t: int) -> None:
        slot = t % len(self.ck_centers)
        centers, held, classes = self.ck_centers[slot], self.ck_held[slot], self.ck_classes[slot]
        n = int(centers.sum())
        if n == 0 and not held.any():
            return
        rng = self.rng["outcomes"]
        self.active_checkout -= n
        p_error = 1.0 - (1.0 - self.request_error) ** self.booking_requests
        completion = self.sc.behaviour.checkout_completion
        if self.depts is None:
            errors = rng.binomial(centers, p_error)
            completing = rng.binomial(centers - errors, completion)
            booked = self.slots.commit(completing, held)
            n_booked, n_errors = int(booked.sum()), int(errors.sum())
            n_taken = int(completing.sum()) - n_booked
            n_dropped = n - n_booked - n_errors - n_taken
            parts = [n_booked, n_errors, n_taken, n_dropped]
            booked_c, error_c, taken_c, dropped_c = _split(rng, classes, parts)
        else:
            outcomes = self.depts.check_out(self.slots, centers, held, p_error, completion, rng)
            n_booked, n_errors, n_taken, n_dropped = (int(x) for x in outcomes.sum(axis=1))
            booked_c, error_c, taken_c, dropped_c = (np.zeros_like(classes) for _ in range(4))
            for d in np.flatnonzero(outcomes.sum(axis=0)):
                block = self.depts.block(d)
                split = _split(rng, classes[block], list(outcomes[:, d]))
                for target, part in zip(
                    (booked_c, error_c, taken_c, dropped_c), split, strict=True
                ):
                    target[block] = part
            self.depts.give_up(dropped_c)  # dropped checkouts abandon for good
        self.count["bookings"] += n_booked
        self.count["commit_errors"] += n_errors
        self.count["abandon_checkout"] += n_dropped
        self.rec.add(t, bookings=n_booked, errors=n_errors, taken=n_taken, checkout_drops=n_dropped)
        self._fail(error_c, "abandon_error", retry=True)
        self._fail(taken_c, "abandon_taken", retry=True)
        centers[:] = 0
        held[:] = 0
        classes[:] = 0
        self.count["events"] += n

    # -- failures -------------------------------------------------------------------------------
    def _fail(self, classes: np.ndarray, cause: str, retry: bool) -> None:
        """Bookers who failed: retry (if `retry` and attempts left), else give up."""
        b, rng = self.sc.behaviour, self.rng["outcomes"]
        giving_up = classes.copy()
        if retry and b.retry_share > 0:
            last = self.n_attempts - 1
            for k in np.flatnonzero((self.attempt > 0) & (self.attempt < last) & (classes > 0)):
                n = int(classes[k])
                if n == 0:
                    continue
                again = int(rng.binomial(n, b.retry_share))
                giving_up[k] -= again
                refreshers = int(rng.binomial(again, b.refresher_share))
                self._come_back(refreshers, k + 1, b.refresher_backoff_s)
                self._come_back(again - refreshers, k + 1, b.retry_backoff_s)
                self.count["retries"] += again
                self.rec.add(self.tick, retries=again)
        self._give_up(giving_up, cause)

    def _give_up(self, classes: np.ndarray, cause: str) -> None:
        """Bookers who give up this attempt: defer (attempts left) or abandon for good."""
        b, rng = self.sc.behaviour, self.rng["outcomes"]
        last = self.n_attempts - 1
        gone = np.zeros_like(classes)
        for k in np.flatnonzero((self.attempt > 0) & (classes > 0)):
            n = int(classes[k])
            if n == 0:
                continue
            later = int(rng.binomial(n, b.defer_share)) if self.attempt[k] < last else 0
            gone[k] = n - later
            if later:
                self._come_back(later, k + 1, b.defer_mean_min * 60.0, queue_only=True)
                self.count["deferrals"] += later
                self.rec.add(self.tick, deferrals=later)
            self.count[cause] += n - later
            self.rec.add(self.tick, abandons=n - later)
        if self.depts is not None:
            self.depts.give_up(gone)

    def _come_back(self, n: int, k: int, mean_s: float, queue_only: bool = False) -> None:
        """`n` visitors return as attempt `k` after an exponential delay; within their pass
        lifetime they skip the queue."""
        if n == 0:
            return
        p, rng = self.sc.platform, self.rng["outcomes"]
        self.count["scheduled"] += n
        delays = rng.exponential(mean_s, n)
        ticks = self.tick + 1 + np.floor(delays / self.tick_s).astype(np.int64)
        elapsed_s = p.search_mean_min * 60.0 + p.checkout_s
        with_pass = (delays + elapsed_s < p.pass_lifetime_min * 60.0) & (not queue_only)
        inside = ticks < self.n_ticks
        for target, mask in ((self.pass_returns, with_pass), (self.returns, ~with_pass)):
            np.add.at(target[:, k], ticks[inside & mask], 1)
        if not inside.all():  # past the end: carried to the next day of a campaign
            late = np.minimum(ticks[~inside] - self.n_ticks, self.n_ticks - 1)
            np.add.at(self.overflow[:, k], late, 1)


def _split(rng: np.random.Generator, classes: np.ndarray, parts: list[int]) -> list[np.ndarray]:
    """Split a class vector into groups of the given sizes, at random (sequential hypergeometric)."""
    left = classes.copy()
    out = []
    for size in parts:
        take = rng.multivariate_hypergeometric(left, size) if size else np.zeros_like(left)
        left -= take
        out.append(take)
    return out
