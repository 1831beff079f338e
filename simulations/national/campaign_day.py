"""One day of a campaign as an opening-day scenario: its arrival table and its slot release.

Day `d` covers minutes [1440 d, 1440 (d + 1)) after the campaign start (`start_date` at
`clock_start`). Its demand is a table of visitors per minute, one point a minute: the everyday
traffic (`demand.baseline_per_min` x `daily_profile` x `campaign.weekday_factor`) plus every
eligibility wave's surge and its days after (`simulations.scenario.arrivals` evaluates the
curves). Its supply releases the pairs of the date on which its release starts
(`Campaign.pairs_on`) at `release_at` over `release_over_min`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from simulations.scenario.arrivals import arrival_rates_per_min
from simulations.scenario.campaign import Campaign, Wave
from simulations.scenario.demand import Demand
from simulations.scenario.scenario import Scenario

__all__ = [
    "campaign_of",
    "campaign_start",
    "day_date",
    "day_rates",
    "day_scenario",
    "everyday_rates",
    "minutes",
]

DAY_MIN = 1440


def campaign_of(sc: Scenario) -> Campaign:
    """The scenario's `[campaign]` section (ValueError if it has none)."""
    if sc.campaign is None:
        raise ValueError(f"scenario {sc.name}: no [campaign] section")
    return sc.campaign


def campaign_start(sc: Scenario) -> datetime:
    return datetime.fromisoformat(f"{sc.start_date}T{sc.clock_start}")


def day_date(sc: Scenario, d: int) -> date:
    """The local date on which day `d` starts."""
    return (campaign_start(sc) + timedelta(days=d)).date()


def minutes(d: int) -> NDArray[np.float64]:
    """The day's table points, minutes after the campaign start (both ends included)."""
    return np.arange(d * DAY_MIN, (d + 1) * DAY_MIN + 1, dtype=np.float64)


def _weekday(sc: Scenario, t_min: NDArray[np.float64]) -> NDArray[np.int64]:
    """Weekday (0 = Monday; holidays count as Sunday) of the local date at each instant."""
    campaign = campaign_of(sc)
    start = campaign_start(sc)
    day = np.floor((sc.clock_start_min + t_min) / DAY_MIN).astype(np.int64)
    first, last = int(day.min()), int(day.max())
    kinds = np.array(
        [campaign.weekday(start.date() + timedelta(days=k)) for k in range(first, last + 1)]
    )
    return kinds[day - first]


def everyday_rates(sc: Scenario, t_min: NDArray[np.float64]) -> NDArray[np.float64]:
    """Baseline visitors per minute at `t_min` minutes after the start (time of day, weekday)."""
    d = sc.demand
    hour = (np.floor((sc.clock_start_min + t_min) / 60.0) % 24).astype(np.int64)
    profile = np.asarray(d.daily_profile or [1.0] * 24, dtype=float)
    weekday = np.asarray(campaign_of(sc).weekday_factor)[_weekday(sc, t_min)]
    return d.baseline_per_min * profile[hour] * weekday


def _wave_rates(sc: Scenario, wave: Wave, t_min: NDArray[np.float64]) -> NDArray[np.float64]:
    opens = wave.opens_at
    offset = (opens - campaign_start(sc)).total_seconds() / 60.0
    rel = t_min - offset
    surge = Demand(
        surge_visitors=wave.surge_visitors,
        ramp_min=wave.ramp_min,
        peak_hold_min=wave.peak_hold_min,
        decay_fast_min=wave.decay_fast_min,
        decay_slow_min=wave.decay_slow_min,
        slow_share=wave.slow_share,
    )
    rates = arrival_rates_per_min(surge, rel) if wave.surge_visitors else np.zeros_like(rel)
    if wave.after_visitors_per_day:
        after = Demand(
            daily_profile=sc.demand.daily_profile,
            after_visitors_per_day=wave.after_visitors_per_day,
            after_decay_per_day=wave.after_decay_per_day,
        )
        clock = float(opens.hour * 60 + opens.minute)
        weekday = np.asarray(campaign_of(sc).weekday_factor)[_weekday(sc, t_min)]
        rates = rates + arrival_rates_per_min(after, rel, clock) * weekday * (rel >= 0)
    return rates


def day_rates(sc: Scenario, d: int) -> NDArray[np.float64]:
    """Visitors per minute at each point of day `d`'s table."""
    t = minutes(d)
    rates = everyday_rates(sc, t)
    for wave in campaign_of(sc).waves:
        rates = rates + _wave_rates(sc, wave, t)
    return rates


def day_scenario(sc: Scenario, d: int) -> Scenario:
    """Day `d` of campaign `sc` (already scaled) as a one-day scenario without `[campaign]`."""
    c = campaign_of(sc)
    demand = sc.demand.model_copy(
        update={
            "table_min": list(range(DAY_MIN + 1)),
            "table_per_min": day_rates(sc, d).tolist(),
            "daily_profile": [],
            "after_visitors_per_day": 0.0,
        }
    )
    release_start = (c.release_at_min - sc.clock_start_min) % DAY_MIN
    release_date = (campaign_start(sc) + timedelta(days=d, minutes=release_start)).date()
    supply = sc.supply.model_copy(
        update={
            "new_slots_per_min": c.pairs_on(release_date) / c.release_over_min,
            "new_slots_start_min": release_start,
            "new_slots_stop_min": release_start + c.release_over_min,
            "new_slots_growth_per_day": 0.0,
        }
    )
    return sc.model_copy(
        update={
            "duration_min": float(DAY_MIN),
            "start_date": day_date(sc, d).isoformat(),
            "demand": demand,
            "supply": supply,
            "model": sc.model.model_copy(update={"visitor_sample": 0}),
            "campaign": None,
            "heldout": {},
            "priors": {},
        }
    )
