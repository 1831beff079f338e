"""Departments of a regional opening day (`[regions]`): who lives where, which centres they reach.

`Departments` holds, for one replication, each department's weight, the centres that belong to
it and the centres its visitors search (its own and its neighbours' within `travel_km`), plus
per-department counters. Visitor classes are flattened as `department * attempts + attempt`
(attempt 0 = browsers, 1.. = bookers on their k-th attempt), so a cohort keeps its department
through the waiting room, sessions, retries and deferrals (`simulations.national.day`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from simulations.national.slots import Slots
from simulations.scenario.regions import Regions

__all__ = ["Departments", "centers_per_department"]

COUNTERS = ("visitors", "bookers", "bookings", "no_slot", "abandoned")


def centers_per_department(n_centers: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Centres per department in proportion to `weights` (largest remainder); a department with
    weight > 0 gets one first when there are enough centres; weight 0 gets none."""
    supplied = weights > 0
    counts = np.zeros(len(weights), dtype=np.int64)
    if n_centers >= supplied.sum():
        counts[supplied] = 1
    left = n_centers - int(counts.sum())
    share = weights / weights.sum() * left
    counts += np.floor(share).astype(np.int64)
    remainder = n_centers - int(counts.sum())
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    counts[order[:remainder]] += 1
    return counts


class Departments:
    """Per-replication regional state: home weights, centre departments, reach, counters."""

    def __init__(self, regions: Regions, slots: Slots, n_attempts: int) -> None:
        table = regions.table()
        self.codes = [d.code for d in table]
        self.n = len(table)
        self.n_attempts = n_attempts
        weights = np.array([d.weight for d in table], dtype=np.float64)
        self.home_weights = weights / weights.sum()
        supply_weights = weights.copy()
        supply_weights[[self.codes.index(c) for c in regions.no_supply]] = 0.0
        if supply_weights.sum() <= 0:
            supply_weights = (weights > 0).astype(np.float64)
        per_dept = centers_per_department(slots.n_centers, supply_weights)
        self.center_department = np.repeat(np.arange(self.n), per_dept)
        self.reach = regions.reach()
        self.among = []  # per department: the centres its visitors reach
        self.popularity = []  # ... and their popularity (None: no centre within reach)
        for near in self.reach:
            among = np.flatnonzero(np.isin(self.center_department, near))
            pop = slots.popularity[among]
            self.among.append(among)
            self.popularity.append(pop / pop.sum() if pop.sum() > 0 else None)
        self.count = {name: np.zeros(self.n, dtype=np.int64) for name in COUNTERS}
        self.sellout_tick = np.full(self.n, -1, dtype=np.int64)
        self.n_centers = per_dept

    def block(self, d: int) -> slice:
        """The flattened classes of department `d`."""
        return slice(d * self.n_attempts, (d + 1) * self.n_attempts)

    def per_department(self, classes: NDArray[np.int64]) -> NDArray[np.int64]:
        """Bookers (attempt >= 1) per department in a flattened class vector."""
        return classes.reshape(self.n, self.n_attempts)[:, 1:].sum(axis=1)

    def arrive(self, rng: np.random.Generator, new: int, book_share: float) -> NDArray[np.int64]:
        """New visitors by flattened class: homes drawn by weight, then bookers by share."""
        homes = rng.multinomial(new, self.home_weights)
        bookers = rng.binomial(homes, book_share)
        cohort = np.zeros((self.n, self.n_attempts), dtype=np.int64)
        cohort[:, 0], cohort[:, 1] = homes - bookers, bookers
        self.count["visitors"] += homes
        self.count["bookers"] += bookers
        return cohort.ravel()

    def choose(
        self, slots: Slots, ending: NDArray[np.int64], tries: int, rng: np.random.Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Searches ending now, each within its department's reach. Returns (visitors per
        department and centre, slots held per centre, no-slot visitors by flattened class)."""
        by_dept = self.per_department(ending)
        chosen = np.zeros((self.n, slots.n_centers), dtype=np.int64)
        held = np.zeros(slots.n_centers, dtype=np.int64)
        no_slot = np.zeros_like(ending)
        for d in np.flatnonzero(by_dept):
            pop = self.popularity[d]
            if pop is None:
                left = int(by_dept[d])
            else:
                chosen[d], held_d, left = slots.choose(int(by_dept[d]), tries, self.among[d], pop)
                held += held_d
            if left:
                block = self.block(d)
                no_slot[block] = rng.multivariate_hypergeometric(ending[block], left)
                self.count["no_slot"][d] += left
        return chosen, held, no_slot

    def check_out(
        self,
        slots: Slots,
        chosen: NDArray[np.int64],
        held: NDArray[np.int64],
        p_error: float,
        completion: float,
        rng: np.random.Generator,
    ) -> NDArray[np.int64]:
        """Outcomes of the checkouts due now, per department: rows booked, errors, taken, dropped."""
        cells = np.nonzero(chosen)  # sparse: each department reaches few centres
        errors = np.zeros_like(chosen)
        completing = np.zeros_like(chosen)
        errors[cells] = rng.binomial(chosen[cells], p_error)
        completing[cells] = rng.binomial(chosen[cells] - errors[cells], completion)
        total = completing.sum(axis=0)
        booked_c = slots.commit(total, held)
        booked = completing.copy()
        for c in np.flatnonzero(booked_c < total):
            booked[:, c] = rng.multivariate_hypergeometric(completing[:, c], int(booked_c[c]))
        taken = completing - booked
        dropped = chosen - errors - completing
        outcomes = np.stack([m.sum(axis=1) for m in (booked, errors, taken, dropped)])
        self.count["bookings"] += outcomes[0]
        return outcomes

    def give_up(self, classes: NDArray[np.int64]) -> None:
        """Bookers (by flattened class) who abandon for good."""
        self.count["abandoned"] += self.per_department(classes)

    def note_sellout(self, slots: Slots, tick: int) -> None:
        """Remember the first tick at which half of each department's centres are sold out."""
        full = np.bincount(self.center_department, weights=slots.free <= 0, minlength=self.n)
        half = full >= 0.5 * self.n_centers
        self.sellout_tick[(self.sellout_tick < 0) & half] = tick

    def frame(self, day) -> pd.DataFrame:
        """One row per department of a finished day (`simulations.national.day.OpeningDay`):
        visitors, bookers, bookings, no-slot failures, abandoned, still in the system, unmet
        demand (abandoned + still in the system), sell-out minute, centres and their state."""
        t = day.tick
        in_system = (
            day.wr.queued_by_class()
            + day.returns[t:].sum(axis=0)
            + day.pass_returns[t:].sum(axis=0)
            + day.overflow.sum(axis=0)
            + day.search_end[t:].sum(axis=0)
            + day.cut_search
            + day.ck_classes.sum(axis=0)
        )
        slots = day.slots
        dept = self.center_department
        free = np.bincount(dept, weights=np.maximum(slots.free, 0), minlength=self.n)
        sold_out = np.bincount(dept, weights=slots.free <= 0, minlength=self.n)
        df = pd.DataFrame({"department": self.codes, "home_weight": self.home_weights})
        for name, values in self.count.items():
            df[name] = values
        df["in_system"] = self.per_department(in_system)
        df["unmet"] = df["abandoned"] + df["in_system"]
        df["sellout_min"] = np.where(
            self.sellout_tick >= 0, self.sellout_tick * day.tick_s // 60, np.nan
        )
        df["centers"] = self.n_centers
        df["centers_sold_out_share"] = np.where(
            self.n_centers > 0, sold_out / np.maximum(self.n_centers, 1), 1.0
        )
        df["slots_left"] = free.astype(np.int64)
        df["reach"] = [len(near) for near in self.reach]
        return df

    def kpis(self, frame: pd.DataFrame) -> dict[str, float]:
        """Flat regional KPIs of a `frame`: departments sold out (share), first and median
        sell-out minute over those, and the worst department's unmet share of its bookers."""
        sold = frame["sellout_min"].dropna()
        unmet = frame["unmet"] / frame["bookers"].clip(lower=1)
        return {
            "departments_sold_out_share": len(sold) / max(len(frame), 1),
            "departments_sellout_min_first": float(sold.min()) if len(sold) else math.nan,
            "departments_sellout_min_median": float(sold.median()) if len(sold) else math.nan,
            "departments_unmet_share_max": float(unmet.max()),
        }
