"""Supply sizing: how many slots a day vaccinate the eligible cohort in N weeks.

The plan mimics 2021 booking systems (source: docs/sources.md#dose-pairs-booked-together): a
first-dose booking also books its dose-2 slot inside the vaccine's window [min, max] days later,
on the earliest day that still has room. Every day offers the same number of booked slots C;
a share `no_show` of booked patients
do not come, so C slots give C·(1 − no_show) doses (no-shows rebook later, which is how the
shortfall is carried). Each day first-dose bookings are opened in proportion to the vaccine mix,
as long as there is room today, a dose-2 slot inside the window, and that dose 2 falls before
the deadline. C is the smallest integer for which the whole cohort has both doses (or its single
dose) by the end of week N; found by bisection over this day-by-day plan.

Staff: a centre config (default the built-in mass hub) says how many servers each station needs
for its booked day; the staff per centre scale with slots per centre per day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulations.center.config import AppointmentArrivals, CenterConfig
from surge.errors import SurgeError

DOSE2_POLICIES = ("planned", "earliest")

__all__ = [
    "SupplyPlan",
    "SupplySizingError",
    "plan_doses",
    "size_scenario_supply",
    "size_supply",
    "staff_for",
]


class SupplySizingError(SurgeError, ValueError):
    """Inputs for which no supply plan exists (e.g. a dose-2 window longer than the campaign)."""


@dataclass(frozen=True)
class SupplyPlan:
    eligible: int
    weeks: float
    no_show: float
    slots_per_day: int  # booked slots per day, dose 1 + dose 2
    dose2: str  # "planned" or "earliest" (see plan_doses)
    daily: pd.DataFrame  # day, dose1_slots, dose2_slots, free_slots
    centers: int
    by_policy: dict[str, int]  # slots per day each dose-2 policy needs

    @property
    def slots_per_center_per_day(self) -> float:
        return self.slots_per_day / self.centers


def plan_doses(
    eligible: int,
    days: int,
    slots_per_day: int,
    mix: dict[str, float],
    windows: dict[str, list[int]],
    no_show: float,
    dose2: str = "planned",
) -> tuple[pd.DataFrame, int]:
    """Day-by-day booked slots for a fixed daily capacity; returns the plan and who is left.

    `dose2="earliest"` books each dose 2 on the earliest day in its window with room (what 2021
    booking flows did). `"planned"` aims every dose 2 at one gap per vaccine, half the campaign
    clamped to the window, and takes the nearest day with room: first doses fill the first half,
    second doses the second, which needs the fewest slots a day when the window allows it.
    """
    if dose2 not in DOSE2_POLICIES:
        raise SupplySizingError(f"dose-2 policy must be one of {DOSE2_POLICIES}, got {dose2!r}")
    doses_per_day = slots_per_day * (1 - no_show)  # effective doses a day
    free = np.full(days, doses_per_day)
    dose1 = np.zeros(days)
    second = np.zeros(days)
    remaining = {v: eligible * share for v, share in mix.items()}
    for day in range(days):
        wanted = {v: r for v, r in remaining.items() if r > 1e-9}
        if not wanted or free[day] <= 1e-9:
            continue
        shares = {v: mix[v] for v in wanted}
        total_share = sum(shares.values()) or 1.0
        budget = free[day]
        for vaccine, left in wanted.items():
            take = min(left, budget * shares[vaccine] / total_share)
            window = windows.get(vaccine) or []
            if window:
                lo, hi = day + window[0], min(day + window[1], days - 1)
                if lo > hi:
                    continue
                room = free[lo : hi + 1]
                take = min(take, float(room.sum()))
                need = take
                order = list(range(len(room)))
                if dose2 == "planned":
                    aim = min(max(round(days / 2), window[0]), window[1]) - window[0]
                    order.sort(key=lambda offset: (abs(offset - aim), offset))
                for offset in order:
                    put = min(need, room[offset])
                    room[offset] -= put
                    second[lo + offset] += put
                    need -= put
                    if need <= 1e-12:
                        break
            free[day] -= take
            dose1[day] += take
            remaining[vaccine] -= take
    left = math.ceil(sum(remaining.values()) - 1e-6)
    scale = 1 / (1 - no_show) if no_show < 1 else math.inf
    daily = pd.DataFrame(
        {
            "day": np.arange(days),
            "dose1_slots": dose1 * scale,
            "dose2_slots": second * scale,
            "free_slots": free * scale,
        }
    )
    return daily, max(left, 0)


def _smallest_capacity(
    eligible: int,
    days: int,
    mix: dict[str, float],
    windows: dict[str, list[int]],
    no_show: float,
    dose2: str,
) -> int:
    doses = sum(eligible * share * (2 if windows.get(v) else 1) for v, share in mix.items())
    low = max(1, math.floor(doses / days / (1 - no_show)))
    high = low
    while plan_doses(eligible, days, high, mix, windows, no_show, dose2)[1] > 0:
        high *= 2
    while low < high:
        middle = (low + high) // 2
        if plan_doses(eligible, days, middle, mix, windows, no_show, dose2)[1] > 0:
            low = middle + 1
        else:
            high = middle
    return high


def size_supply(
    eligible: int,
    weeks: float,
    mix: dict[str, float],
    windows: dict[str, list[int]],
    no_show: float,
    centers: int,
    dose2: str | None = None,
) -> SupplyPlan:
    """Smallest constant daily slot count that fully vaccinates `eligible` in `weeks`.

    With `dose2=None` every policy is tried and the one needing fewest slots is kept; the others'
    answers are in `SupplyPlan.by_policy`.
    """
    if weeks <= 0:
        raise SupplySizingError("--weeks must be positive")
    if not 0 <= no_show < 1:
        raise SupplySizingError(f"no-show share must be in [0, 1), got {no_show}")
    days = int(round(weeks * 7))
    for vaccine, share in mix.items():
        window = windows.get(vaccine) or []
        if share > 0 and window and window[0] >= days:
            raise SupplySizingError(
                f"{weeks:g} weeks is too short: {vaccine} dose 2 comes {window[0]} days after dose 1"
            )
    policies = DOSE2_POLICIES if dose2 is None else (dose2,)
    if eligible == 0:
        by_policy = dict.fromkeys(policies, 0)
    else:
        by_policy = {
            p: _smallest_capacity(eligible, days, mix, windows, no_show, p) for p in policies
        }
    best = min(by_policy, key=lambda p: (by_policy[p], policies.index(p)))
    daily, _ = plan_doses(eligible, days, by_policy[best], mix, windows, no_show, best)
    return SupplyPlan(eligible, weeks, no_show, by_policy[best], best, daily, centers, by_policy)


def staff_for(center: CenterConfig, slots_per_center_per_day: float) -> dict[str, int]:
    """Servers per finite station, scaling the config's staffing to a daily booking volume."""
    arrivals = center.arrivals
    if isinstance(arrivals, AppointmentArrivals):
        booked = arrivals.per_block * arrivals.blocks
    else:
        booked = arrivals.rate_per_hour * center.open_minutes / 60
    factor = slots_per_center_per_day / booked if booked else math.inf
    return {
        s.name: max(1, math.ceil(s.servers * factor))
        for s in center.stations
        if s.servers is not None
    }


def size_scenario_supply(
    scenario_ref: str, weeks: float, center_ref: str, dose2: str | None = None
) -> tuple[dict, SupplyPlan]:
    """`size_supply` for a scenario (name or TOML) with staff scaled from a reference centre:
    the flat record of `supply_sizing.json` and the plan (its `daily` frame)."""
    from simulations.center.config import load_center
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(scenario_ref).scaled()
    supply = scenario.supply
    eligible = scenario.demand.eligible_population
    if eligible <= 0:
        raise SupplySizingError(f"scenario {scenario.name}: demand.eligible_population is 0")
    plan = size_supply(
        eligible,
        weeks,
        supply.vaccines,
        supply.dose2_window_days,
        supply.no_show_share,
        supply.centers,
        dose2,
    )
    center = load_center(center_ref)
    staff = staff_for(center, plan.slots_per_center_per_day)
    daily = plan.daily
    doc = {
        "scenario": scenario.name,
        "eligible": eligible,
        "weeks": weeks,
        "no_show_share": supply.no_show_share,
        "vaccines": supply.vaccines,
        "dose2_window_days": supply.dose2_window_days,
        "dose2_policy": plan.dose2,
        "slots_per_day": plan.slots_per_day,
        "slots_per_day_by_policy": plan.by_policy,
        "dose1_slots_total": float(daily["dose1_slots"].sum()),
        "dose2_slots_total": float(daily["dose2_slots"].sum()),
        "dose1_slots_per_day_peak": float(daily["dose1_slots"].max()),
        "dose2_slots_per_day_peak": float(daily["dose2_slots"].max()),
        "centers": supply.centers,
        "slots_per_center_per_day": plan.slots_per_center_per_day,
        "scenario_slots_per_center_per_day": supply.slots_per_center_per_day,
        "staff_reference_center": center.name,
        "staff_per_center": staff,
        "staff_total": {k: v * supply.centers for k, v in staff.items()},
    }
    return doc, plan
