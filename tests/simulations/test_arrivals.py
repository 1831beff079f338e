import numpy as np
import pytest

from simulations.scenario.arrivals import (
    arrival_rate_per_min,
    arrival_rates_per_min,
    arrivals_per_tick,
    cumulative_arrivals,
)
from simulations.scenario.demand import Demand
from simulations.scenario.scenario import load_scenario


def test_surge_adds_exactly_surge_visitors_over_an_unbounded_horizon():
    demand = Demand(surge_visitors=1e6, delay_min=5, ramp_min=10, decay_fast_min=10)
    assert cumulative_arrivals(demand, [1e6])[0] == pytest.approx(1e6)
    assert arrival_rate_per_min(demand, 4.9) == 0.0


def test_vectorised_rates_match_the_scalar_function():
    demand = load_scenario("france-2021-07-12").demand
    t = np.linspace(0, 240, 97)
    assert arrival_rates_per_min(demand, t) == pytest.approx(
        [arrival_rate_per_min(demand, x) for x in t]
    )


def test_cumulative_arrivals_integrate_the_rate():
    demand = load_scenario("france-2021-07-12").demand
    t = np.linspace(0, 240, 240_001)
    rates = arrival_rates_per_min(demand, t)
    trapezoid = np.sum((rates[1:] + rates[:-1]) / 2 * np.diff(t))
    assert cumulative_arrivals(demand, [240.0])[0] == pytest.approx(trapezoid, rel=1e-6)


def test_ticks_partition_the_scenario(smoke_scenario):
    scenario = smoke_scenario
    ticks = arrivals_per_tick(scenario.demand, scenario.duration_min, 7.0)
    total = cumulative_arrivals(scenario.demand, [scenario.duration_min])[0]
    assert ticks.sum() == pytest.approx(total)
    assert (ticks >= 0).all()


def test_a_table_replaces_the_curve_by_linear_interpolation():
    demand = Demand(table_min=[0, 10, 20], table_per_min=[0, 100, 0])
    assert arrival_rate_per_min(demand, 5) == pytest.approx(50)
    assert cumulative_arrivals(demand, [20])[0] == pytest.approx(1000)


def test_france_curve_matches_the_public_ramp():
    """1.6M new visitors between 20:15 and 20:30 (500k -> 2.1M), 7.5M by midnight."""
    demand = load_scenario("france-2021-07-12").demand
    at_2015, at_2030, at_midnight = cumulative_arrivals(demand, [15, 30, 240])
    assert at_2030 - at_2015 == pytest.approx(1.6e6, rel=0.01)
    assert at_midnight == pytest.approx(7.5e6, rel=0.01)
