"""Slot inventory: centres selling out one by one, dose-1 plus a dose-2 slot in its window.

Per centre (vectorised over centres): `free` bookable dose-1/dose-2 pairs, `held` slots held by
visitors in checkout, `booked` appointments made during the run. A centre offers one vaccine;
its free pairs are the smaller of its free dose-1 slots over the published agenda and its free
dose-2 slots over the days that dose-2 windows starting in that agenda can reach
(`days_ahead + max - min` days); a single-dose vaccine needs no dose-2 slot. Visitors pick a
centre by catchment (popularity), not by size; a centre shown full sends them to another one,
up to `behaviour.center_tries` choices.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from simulations.scenario.supply import Supply

__all__ = ["Slots"]


def _lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> NDArray[np.float64]:
    if cv <= 0:
        return np.full(n, mean)
    sigma2 = np.log1p(cv**2)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), n)


class Slots:
    def __init__(self, supply: Supply, rng: np.random.Generator) -> None:
        n = supply.centers
        self.supply = supply
        self.rng = rng
        names = list(supply.vaccines)
        self.vaccine = rng.choice(len(names), size=n, p=[supply.vaccines[v] for v in names])
        self.vaccine_names = names
        size = _lognormal(rng, supply.slots_per_center_per_day, supply.center_size_cv, n)
        open_share = 1.0 - supply.initial_fill_share
        self.dose1_per_day = size * supply.dose1_share * open_share
        dose1 = np.floor(self.dose1_per_day * supply.days_ahead)
        pairs = dose1.copy()
        for index, vaccine in enumerate(names):
            window = supply.dose2_window_days[vaccine]
            if not window:
                continue
            reach_days = supply.days_ahead + window[1] - window[0]
            dose2 = np.floor(size * (1.0 - supply.dose1_share) * open_share * reach_days)
            mine = self.vaccine == index
            pairs[mine] = np.minimum(dose1[mine], dose2[mine])
        self.free = pairs.astype(np.int64)
        self.size_share = size / size.sum()
        self.released = 0
        self.initial_free = int(self.free.sum())
        self.held = np.zeros(n, dtype=np.int64)
        self.booked = np.zeros(n, dtype=np.int64)
        popularity = _lognormal(rng, 1.0, supply.popularity_cv, n)
        self.popularity = popularity / popularity.sum()

    @property
    def n_centers(self) -> int:
        return len(self.free)

    def shown_free(self) -> NDArray[np.int64]:
        return self.free - self.held

    def choose(
        self,
        n: int,
        tries: int,
        among: NDArray[np.int64] | None = None,
        popularity: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
        """Send `n` bookers to centres; returns (visitors per centre, slots held, no slot).

        Each try draws centres by popularity; visitors drawn to a centre shown full (or beyond
        what its free slots can hold, when sessions hold slots) try again. `among` restricts
        the draw to those centres (a department's reach), with `popularity` over them.
        """
        hold = self.supply.hold_slots_per_session
        chosen = np.zeros(self.n_centers, dtype=np.int64)
        held = np.zeros(self.n_centers, dtype=np.int64)
        where = slice(None) if among is None else among
        weights = self.popularity if popularity is None else popularity
        left = n
        for _ in range(tries):
            if left == 0:
                break
            drawn = self.rng.multinomial(left, weights)
            room = np.maximum(self.shown_free()[where], 0)
            if hold:
                fits = np.minimum(drawn, -(-room // hold))
                grab = np.minimum(fits * hold, room)
                held[where] += grab
                self.held[where] += grab
            else:
                fits = np.where(room > 0, drawn, 0)
            chosen[where] += fits
            left -= int(fits.sum())
        return chosen, held, left

    def commit(self, completing: NDArray[np.int64], held: NDArray[np.int64]) -> NDArray[np.int64]:
        """Release the checkout's holds and book what is still free; booked per centre."""
        self.held -= held
        booked = np.minimum(completing, np.maximum(self.free, 0))
        self.free -= booked
        self.booked += booked
        return booked

    def cancel(self, share: float) -> int:
        if share <= 0:
            return 0
        cancelled = self.rng.binomial(self.booked, share)
        self.booked -= cancelled
        self.free += cancelled
        return int(cancelled.sum())

    def release(self, minutes_since_start: float, tick_s: float) -> int:
        """New pairs opened during one tick (Poisson, spread over centres by size)."""
        s = self.supply
        since_min = minutes_since_start - s.new_slots_start_min
        if s.new_slots_per_min <= 0 or since_min < 0:
            return 0
        if s.new_slots_stop_min and minutes_since_start >= s.new_slots_stop_min:
            return 0
        rate = s.new_slots_per_min * (1.0 + s.new_slots_growth_per_day * since_min / 1440)
        n = int(self.rng.poisson(rate * tick_s / 60.0))
        if n:
            self.free += self.rng.multinomial(n, self.size_share)
            self.released += n
        return n

    def sold_out_share(self) -> float:
        return float(np.mean(self.free <= 0))

    def lead_time_days_mean(self) -> float:
        """Mean days to the first-dose appointment of this run's bookings (agendas fill in order)."""
        total = self.booked.sum()
        if total == 0:
            return float("nan")
        per_day = np.maximum(self.dose1_per_day, 1e-9)
        return float((self.booked * (self.booked / (2 * per_day) + 1.0)).sum() / total)
