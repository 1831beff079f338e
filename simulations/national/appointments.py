"""A campaign's appointment book: dose-1 appointments by day, no-shows, dose-2 recalls.

Counts by campaign day (day 0 is the first; negative days come before the campaign). A day's
bookings are spread over the following days by a geometric lead time of mean
`campaign.lead_time_days_mean`, truncated at `supply.days_ahead`. Appointments booked before the
campaign arrive at `recall_dose1_per_day_before` a day (the same lead times, from bookings made
before day 0). Each day, `supply.no_show_share` of the day's dose-1 appointments are missed
(binomial); the others are dose-1 injections. Of the injections, `recall_rebook_share` book
their dose 2 separately: vaccine by `supply.vaccines`, booking day uniform on
[d1 + min - L, d1 + max - L] (L = `recall_lead_days`, the window from
`supply.dose2_window_days`), so that the appointment, L days after the booking, lies in
[d1 + min, d1 + max]. `recalls` keeps every such booking that falls within the campaign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from simulations.scenario.campaign import Campaign
from simulations.scenario.supply import Supply

__all__ = ["AppointmentBook", "lead_time_shares"]


def lead_time_shares(mean_days: float, days_ahead: int) -> NDArray[np.float64]:
    """P(appointment `o` days after the booking), o = 0..days_ahead - 1 (geometric, truncated)."""
    q = mean_days / (1.0 + mean_days)
    shares = q ** np.arange(days_ahead)
    return shares / shares.sum()


class AppointmentBook:
    def __init__(
        self, campaign: Campaign, supply: Supply, days: int, rng: np.random.Generator
    ) -> None:
        self.c, self.supply, self.days, self.rng = campaign, supply, days, rng
        self.lead = lead_time_shares(campaign.lead_time_days_mean, supply.days_ahead)
        windows = [w for w in supply.dose2_window_days.values() if w]
        self.reach = max([w[1] for w in windows], default=0)
        horizon = days + supply.days_ahead + 1
        self.dose1 = np.zeros(horizon, dtype=np.int64)  # appointments by day
        self.no_shows = np.zeros(days, dtype=np.int64)
        self.recall_bookers = np.zeros(days, dtype=np.int64)
        self._recalls: list[dict] = []
        before = campaign.recall_dose1_per_day_before
        if before:
            # appointments booked before day 0 that fall on day d >= 0: bookings of day -j with
            # a lead of at least d + j days
            tail = np.cumsum(self.lead[::-1])[::-1]  # P(lead >= o)
            for d in range(min(days, supply.days_ahead - 1)):
                self.dose1[d] += int(rng.poisson(before * tail[d + 1]))
            for d1 in range(-self.reach, 0):
                self._recall(d1, int(rng.poisson(before)))

    def book(self, d: int, bookings: int) -> None:
        """Day `d`'s bookings get their dose-1 appointments."""
        spread = self.rng.multinomial(bookings, self.lead)
        self.dose1[d : d + len(spread)] += spread

    def close_day(self, d: int) -> int:
        """The day's appointments happen: no-shows drawn, injections recalled. Returns the
        no-shows."""
        missed = int(self.rng.binomial(self.dose1[d], self.supply.no_show_share))
        self.no_shows[d] = missed
        self._recall(d, int(self.dose1[d]) - missed)
        return missed

    def _recall(self, d1: int, injections: int) -> None:
        share = self.c.recall_rebook_share
        if share <= 0 or injections <= 0:
            return
        names = list(self.supply.vaccines)
        per_vaccine = self.rng.multinomial(injections, [self.supply.vaccines[v] for v in names])
        lead = round(self.c.recall_lead_days)
        for vaccine, n in zip(names, per_vaccine, strict=True):
            window = self.supply.dose2_window_days[vaccine]
            if not window or n == 0:
                continue
            separate = int(self.rng.binomial(n, share))
            first, last = d1 + window[0] - lead, d1 + window[1] - lead
            spread = self.rng.multinomial(
                separate, np.full(last - first + 1, 1 / (last - first + 1))
            )
            for b, count in zip(range(first, last + 1), spread, strict=True):
                if 0 <= b < self.days and count:
                    self.recall_bookers[b] += count
                    self._recalls.append(
                        {
                            "dose1_day": d1,
                            "booking_day": b,
                            "appointment_day": b + lead,
                            "vaccine": vaccine,
                            "bookers": int(count),
                        }
                    )

    @property
    def recalls(self) -> pd.DataFrame:
        """Dose-2 recall bookings within the campaign, one row per (dose-1 day, booking day)."""
        columns = ["dose1_day", "booking_day", "appointment_day", "vaccine", "bookers"]
        return pd.DataFrame(self._recalls, columns=columns)
