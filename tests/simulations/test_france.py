"""The france-2021-07-12 defaults, which were FITTED to the public figures of that evening, stay
within +-20% of them (a regression guard on the fit, not a validation).

Figures (docs/sources.md#doctolib-12-july-peak, docs/sources.md#doctolib-12-july-bookings,
docs/sources.md#doctolib-12-july-visitors, docs/sources.md#doctolib-12-july-waiting-room-wait):
peak 20,000 bookings/min; 926,000 bookings by midnight; 500k -> 2.1M vaccination-section
visitors in the 15 min after 20:15, which we count as 1.6M NEW arrivals between 20:15 and
20:30; waits of 15+ min at the peak.
"""

import pytest

from simulations.national.opening_day import simulate
from simulations.scenario.scenario import load_scenario


@pytest.fixture(scope="module")
def france():
    return simulate(load_scenario("france-2021-07-12"), 2021)


def test_peak_bookings_per_minute_is_near_20000(france):
    assert france.kpis["peak_bookings_per_min"] == pytest.approx(20_000, rel=0.2)


def test_bookings_by_midnight_are_near_926000(france):
    assert france.kpis["bookings"] == pytest.approx(926_000, rel=0.2)


def test_new_visitors_between_2015_and_2030_are_near_1_6_million(france):
    ts = france.timeseries
    window = ts[(ts["clock"] >= "20:15") & (ts["clock"] < "20:30")]
    assert window["arrivals"].sum() == pytest.approx(1_600_000, rel=0.2)
    assert france.kpis["visitors"] == pytest.approx(7_500_000, rel=0.05)


def test_waiting_room_waits_reach_15_minutes_at_the_peak(france):
    assert france.kpis["wr_wait_peak_min"] >= 15 * 0.8
    assert france.kpis["lost_visitors"] == 0


def test_the_peak_comes_from_the_admission_rate_not_a_constant(france):
    quarter = ["scale=0.25", "duration_min=60"]  # visitors, capacities, centres all scaled by 1/4
    slower = load_scenario("france-2021-07-12", [*quarter, "platform.admission_rate_per_s=400"])
    run = simulate(slower, 1)  # 400/s at scale 1/4 = 100/s, an eighth of the default rate
    assert run.kpis["peak_bookings_per_min"] < 0.7 * 20_000 / 4
    assert run.kpis["wr_wait_peak_min"] > france.kpis["wr_wait_peak_min"] + 5
