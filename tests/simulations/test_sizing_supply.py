"""Supply sizing: enough slots for everyone's doses, and not one slot a day more than needed."""

from __future__ import annotations

import pytest

from simulations.center.config import load_center
from simulations.sizing.supply import SupplySizingError, plan_doses, size_supply, staff_for

MIX = {"pfizer": 0.7, "moderna": 0.3}
WINDOWS = {"pfizer": [21, 49], "moderna": [28, 42]}


@pytest.mark.parametrize("policy", ["planned", "earliest"])
def test_answer_vaccinates_everyone_and_one_slot_less_does_not(policy):
    plan = size_supply(100_000, 10, MIX, WINDOWS, 0.05, 10, policy)
    days = 70
    daily, left = plan_doses(100_000, days, plan.slots_per_day, MIX, WINDOWS, 0.05, policy)
    assert left == 0
    _, left_short = plan_doses(100_000, days, plan.slots_per_day - 1, MIX, WINDOWS, 0.05, policy)
    assert left_short > 0
    # booked slots = doses / (1 - no_show): two doses for everyone
    assert daily["dose1_slots"].sum() == pytest.approx(100_000 / 0.95, rel=1e-9)
    assert daily["dose2_slots"].sum() == pytest.approx(100_000 / 0.95, rel=1e-9)
    used = daily["dose1_slots"] + daily["dose2_slots"]
    assert (used <= plan.slots_per_day + 1e-6).all()


def test_planned_policy_reaches_the_flat_lower_bound_when_the_window_allows():
    # 8 weeks: a 28-day gap fits both windows, so 2 doses x N / 56 days is enough.
    plan = size_supply(200_000, 8, MIX, WINDOWS, 0.0, 20, "planned")
    assert plan.slots_per_day == pytest.approx(2 * 200_000 / 56, abs=1)


def test_dose_two_never_comes_before_the_window_opens():
    daily, left = plan_doses(10_000, 60, 600, {"az": 1.0}, {"az": [40, 50]}, 0.0, "earliest")
    assert left == 0
    first_dose2 = daily.index[daily["dose2_slots"] > 0][0]
    assert first_dose2 >= 40


def test_single_dose_vaccine_needs_half_the_slots():
    two = size_supply(50_000, 12, {"v": 1.0}, {"v": [21, 42]}, 0.0, 5)
    one = size_supply(50_000, 12, {"v": 1.0}, {"v": []}, 0.0, 5)
    assert one.slots_per_day == pytest.approx(50_000 / 84, abs=1)
    assert two.slots_per_day >= 2 * one.slots_per_day - 2


def test_campaign_shorter_than_the_dose_gap_is_refused():
    with pytest.raises(SupplySizingError, match="too short"):
        size_supply(1_000, 3, MIX, WINDOWS, 0.0, 1)


def test_staff_scales_with_daily_volume():
    hub = load_center("mass-hub")  # 992 bookings a day, 10 vaccination lines
    assert staff_for(hub, 992)["vaccination"] == 10
    assert staff_for(hub, 1984)["vaccination"] == 20
    assert "observation" not in staff_for(hub, 992)
