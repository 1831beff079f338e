"""A national waiting room: counters and a FIFO of cohorts, not a SimPy Resource.

Millions of waiting visitors as individual SimPy requests make every grant O(queue length)
(docs/sources.md#simpy-resource-queues). Here a cohort is "n visitors of each class who joined
at time s": one row of a growing 2-D count array, admitted strictly first-in first-out. Patience is
exponential, so between two updates at times u < t each waiting visitor is still there with
probability exp(-(t - u) / patience): reneging is one binomial draw for the whole queue and one
multivariate hypergeometric draw for who leaves, and it is exact whatever the step (event-driven with cohorts of one visitor in validation, fixed ticks
at national scale).

With `numbered_line=True` the room behaves like the app's numbered line
(`reference_app.room_line`): every visitor holds a ticket number and the room admits numbers, not
visitors, so a ticket whose visitor reneged still uses its admission when its number comes up
(`spent_on_departed` counts those). `AdmissionSchedule` gives the room's rate over time
(`[[t_s, rate_per_s], ...]`, as an operator changes it through `PUT /admin/waiting-room`) and
the ticket numbers due between two times.

Bookkeeping is exact: `waited_s` is the total time spent in the queue by everyone who left it
(admitted or reneged), so Little's law L = lambda W holds as an identity once the visitors still
queued are counted (`queued_age_s`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["AdmissionSchedule", "WaitingRoom", "expected_line_admissions", "line_admissions"]


class AdmissionSchedule:
    """A piecewise-constant admission rate: `[[t_s, rate_per_s], ...]`, each rate holding from
    its time until the next (the first time must be 0; times strictly increasing; rates >= 0)."""

    def __init__(self, points: list[tuple[float, float]] | list[list[float]]) -> None:
        if not points:
            raise ValueError("an admission schedule needs at least one [t_s, rate_per_s] point")
        try:
            times = np.array([float(t) for t, _ in points])
            rates = np.array([float(r) for _, r in points])
        except (TypeError, ValueError):
            raise ValueError("admission schedule points must be [t_s, rate_per_s] pairs") from None
        if times[0] != 0 or np.any(np.diff(times) <= 0):
            raise ValueError("admission schedule times must start at 0 and increase")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0) or not np.all(np.isfinite(times)):
            raise ValueError("admission schedule rates must be finite and >= 0")
        self.times_s, self.rates_per_s = times, rates
        # admissions due by each breakpoint
        self._due = np.concatenate([[0.0], np.cumsum(np.diff(times) * rates[:-1])])

    def rate_at(self, t_s: float) -> float:
        return float(self.rates_per_s[np.searchsorted(self.times_s, t_s, side="right") - 1])

    def due(self, t_s: float) -> float:
        """Ticket numbers due for admission between time 0 and `t_s`."""
        if t_s <= 0:
            return 0.0
        i = int(np.searchsorted(self.times_s, t_s, side="right") - 1)
        return float(self._due[i] + (t_s - self.times_s[i]) * self.rates_per_s[i])


class WaitingRoom:
    """FIFO of cohorts with exponential patience (`patience_mean_s = inf`: nobody reneges).

    Set `log` to a list to record cohort movements as (joined_s per row, left_s, counts per row and
    class, outcome) for per-visitor samples.

    `exact_renege_times`: draw each reneging visitor's departure time within the last step (for
    event-driven validation); otherwise a visitor who reneges during a step is counted as having
    waited until the end of that step (fixed ticks: consistent with a queue length sampled once a
    tick).

    `cellwise_renege`: thin every (cohort, class) cell by its own binomial instead of one total
    and a multivariate hypergeometric split: the same distribution (each visitor leaves
    independently), much cheaper with many classes (regions), but another random stream.
    """

    def __init__(
        self,
        n_classes: int,
        patience_mean_s: float,
        rng: np.random.Generator,
        exact_renege_times: bool = False,
        wait_bin_s: float = 60.0,
        numbered_line: bool = False,
        cellwise_renege: bool = False,
    ) -> None:
        self.n_classes = n_classes
        self.cellwise_renege = cellwise_renege
        self.patience_mean_s = patience_mean_s
        self.rng = rng
        self.exact_renege_times = exact_renege_times
        self.wait_bin_s = wait_bin_s
        self.numbered_line = numbered_line
        self._departed = np.zeros(1024, dtype=np.int64)  # tickets of reneged visitors, per row
        self.spent_on_departed = 0
        self._counts = np.zeros((1024, n_classes), dtype=np.int64)
        self._joined_s = np.zeros(1024, dtype=np.float64)
        self._head = 0
        self._tail = 0
        self._updated_s = 0.0
        self.length = 0
        self.joined = 0
        self.admitted = 0
        self.reneged = 0
        self.waited_s = 0.0
        self.admitted_wait_s = 0.0
        self.max_wait_s = 0.0
        self.log: list[tuple[NDArray, float, NDArray[np.int64], str]] | None = None
        self.log_fold = 0  # > 0: log counts summed over classes modulo this (regions' attempts)
        self.wait_hist = np.zeros(64, dtype=np.int64)  # admitted visitors per wait bin

    def join(self, now_s: float, counts: NDArray[np.int64]) -> None:
        """`counts[k]` visitors of class k join the back of the queue at `now_s`."""
        total = int(counts.sum())
        if total == 0:
            return
        self.renege(now_s)
        if self._tail == len(self._joined_s):
            self._grow()
        self._counts[self._tail] = counts
        self._departed[self._tail] = 0
        self._joined_s[self._tail] = now_s
        self._tail += 1
        self.length += total
        self.joined += total

    def renege(self, now_s: float) -> NDArray[np.int64]:
        """Remove the visitors whose patience ran out since the last update; counts by class."""
        elapsed = now_s - self._updated_s
        self._updated_s = now_s
        gone = np.zeros(self.n_classes, dtype=np.int64)
        if self.length == 0 or elapsed <= 0 or math.isinf(self.patience_mean_s):
            return gone
        p_leave = -math.expm1(-elapsed / self.patience_mean_s)
        # Each visitor leaves independently with p_leave: draw how many leave in total, then
        # which ones (a uniform random subset, i.e. multivariate hypergeometric over cells).
        rows = self._counts[self._head : self._tail]
        if self.cellwise_renege:
            leaving = self.rng.binomial(rows, p_leave)
            n_leaving = int(leaving.sum())
            if n_leaving == 0:
                return gone
        else:
            n_leaving = int(self.rng.binomial(self.length, p_leave))
            if n_leaving == 0:
                return gone
            flat = self.rng.multivariate_hypergeometric(rows.ravel(), n_leaving)
            leaving = flat.reshape(rows.shape)
        rows -= leaving
        per_row = leaving.sum(axis=1)
        if self.numbered_line:
            self._departed[self._head : self._tail] += per_row
        if self.log is not None:
            hit = np.flatnonzero(per_row)
            joined = self._joined_s[self._head : self._tail][hit]
            self.log.append((joined, now_s, self._fold(leaving[hit]), "reneged"))
        ages = now_s - self._joined_s[self._head : self._tail]
        if self.exact_renege_times:
            waited = self._renege_waits(per_row, ages, elapsed)
        else:
            waited = float(per_row @ ages)
        self.waited_s += waited
        self.length -= n_leaving
        self.reneged += n_leaving
        self._drop_empty_head()
        return leaving.sum(axis=0)

    def _fold(self, counts: NDArray[np.int64]) -> NDArray[np.int64]:
        if not self.log_fold:
            return counts
        return counts.reshape(len(counts), -1, self.log_fold).sum(axis=1)

    @property
    def tickets(self) -> int:
        """Ticket numbers still ahead of the room: waiting visitors (and, on a numbered line,
        the tickets of those who left, until their number comes up)."""
        return self.length + int(self._departed[self._head : self._tail].sum())

    def admit(self, now_s: float, n: int) -> NDArray[np.int64]:
        """Admit up to `n` visitors from the front (on a numbered line: spend up to `n` ticket
        numbers, a departed visitor's number included); counts by class."""
        self.renege(now_s)
        taken = np.zeros(self.n_classes, dtype=np.int64)
        n = min(int(n), self.tickets)
        while n > 0:
            row = self._counts[self._head]
            joined_s = self._joined_s[self._head]
            departed = int(self._departed[self._head])
            size = int(row.sum())
            if size + departed <= n:
                part = row.copy()
                row[:] = 0
                self._departed[self._head] = 0
                self._head += 1
                spent = departed
            elif departed == 0:
                part, spent = self.rng.multivariate_hypergeometric(row, n), 0
                row -= part
            else:  # which of the row's tickets come up: a uniform subset, departed ones included
                pick = self.rng.multivariate_hypergeometric(np.append(row, departed), n)
                part, spent = pick[:-1], int(pick[-1])
                row -= part
                self._departed[self._head] -= spent
            self.spent_on_departed += spent
            n -= spent
            moved = int(part.sum())
            self._record_wait(now_s - joined_s, moved)
            if self.log is not None and moved:
                self.log.append(
                    (np.array([joined_s]), now_s, self._fold(part[None, :]), "admitted")
                )
            taken += part
            n -= moved
        admitted = int(taken.sum())
        self.length -= admitted
        self.admitted += admitted
        self._drop_empty_head()
        return taken

    def queued_by_class(self) -> NDArray[np.int64]:
        """Visitors still queued, per class."""
        return self._counts[self._head : self._tail].sum(axis=0)

    def queued_age_s(self, now_s: float) -> float:
        """Total time already spent in the queue by the visitors still in it."""
        rows = self._counts[self._head : self._tail].sum(axis=1)
        return float(rows @ (now_s - self._joined_s[self._head : self._tail]))

    def oldest_wait_s(self, now_s: float) -> float:
        return now_s - self._joined_s[self._head] if self.length else 0.0

    def wait_quantile_s(self, q: float) -> float:
        """Quantile of the admitted visitors' waits, to `wait_bin_s` resolution (upper bin edge)."""
        total = int(self.wait_hist.sum())
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self.wait_hist), q * total, side="left"))
        return min((index + 1) * self.wait_bin_s, self.max_wait_s) if index else 0.0

    def _record_wait(self, wait_s: float, n: int) -> None:
        if n <= 0:
            return
        self.waited_s += wait_s * n
        self.admitted_wait_s += wait_s * n
        self.max_wait_s = max(self.max_wait_s, wait_s)
        index = int(math.ceil(wait_s / self.wait_bin_s)) if wait_s > 0 else 0
        if index >= len(self.wait_hist):
            self.wait_hist = np.concatenate([self.wait_hist, np.zeros(index + 1, dtype=np.int64)])
        self.wait_hist[index] += n

    def _renege_waits(self, per_row: NDArray[np.int64], ages: NDArray, elapsed: float) -> float:
        """Total wait of reneging visitors, each leaving at its exact (truncated-exp) time."""
        n = int(per_row.sum())
        u = self.rng.random(n)
        # departure time before `now`, given it happened within the last `elapsed` seconds
        theta = self.patience_mean_s
        back = -theta * np.log1p(-u * -math.expm1(-elapsed / theta))
        back = elapsed - back  # time between departure and now
        return float(per_row @ ages - back.sum())

    def _drop_empty_head(self) -> None:
        while (
            self._head < self._tail
            and not self._counts[self._head].any()
            and not self._departed[self._head]
        ):
            self._head += 1
        if self._head == self._tail:
            self._head = self._tail = 0

    def _grow(self) -> None:
        live = self._tail - self._head
        size = max(1024, 2 * live)
        counts = np.zeros((size, self.n_classes), dtype=np.int64)
        joined = np.zeros(size, dtype=np.float64)
        departed = np.zeros(size, dtype=np.int64)
        counts[:live] = self._counts[self._head : self._tail]
        joined[:live] = self._joined_s[self._head : self._tail]
        departed[:live] = self._departed[self._head : self._tail]
        self._counts, self._joined_s, self._departed = counts, joined, departed
        self._head, self._tail = 0, live


def line_admissions(
    arrival_per_s: float,
    schedule: AdmissionSchedule,
    patience_mean_s: float,
    duration_s: float,
    rng: np.random.Generator,
    *,
    numbered: bool = True,
    step_s: float = 0.1,
) -> WaitingRoom:
    """One room over `duration_s`: Poisson arrivals, ticket numbers falling due on `schedule`
    (numbers due while the line is empty wait for the next visitors, like the app's anchor),
    exponential patience. Returns the room: `admitted`, `reneged`, `spent_on_departed`."""
    if arrival_per_s < 0 or duration_s <= 0 or step_s <= 0:
        raise ValueError("need arrival_per_s >= 0, duration_s > 0 and step_s > 0")
    room = WaitingRoom(1, patience_mean_s, rng, numbered_line=numbered)
    used = 0
    for i in range(1, int(math.ceil(duration_s / step_s)) + 1):
        t = min(i * step_s, duration_s)
        room.join(t, np.array([rng.poisson(arrival_per_s * step_s)]))
        due = int(schedule.due(t)) - used
        if due > 0:
            before = room.admitted + room.spent_on_departed
            room.admit(t, due)
            used += room.admitted + room.spent_on_departed - before
    return room


def expected_line_admissions(
    arrival_per_s: float, rate_per_s: float, patience_mean_s: float, duration_s: float
) -> float:
    """Expected visitors a numbered line admits in `duration_s` from empty, arrivals evenly
    spaced (the fluid view of `line_admissions`): ticket k joins at k / A and its number is due
    at k / R (A > R), so it waits k (1/R - 1/A) and is still there with probability
    q^k, q = exp(-(1/R - 1/A) / patience). The tickets due within the run are
    n = floor(duration x min(A, R)), and the sum of q^k is geometric. Smooth and increasing in
    R, which a bisection on R needs."""
    if min(arrival_per_s, rate_per_s) <= 0 or duration_s <= 0 or patience_mean_s <= 0:
        raise ValueError("need positive arrival and admission rates, duration and patience")
    n = math.floor(duration_s * min(arrival_per_s, rate_per_s))
    if arrival_per_s <= rate_per_s or math.isinf(patience_mean_s):
        return float(n)
    q = math.exp(-(1 / rate_per_s - 1 / arrival_per_s) / patience_mean_s)
    return q * (1 - q**n) / (1 - q)
