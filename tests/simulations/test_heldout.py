"""Held-out validation machinery: the days-after demand, slot releases from a given minute, the
`time` column, the prior ensemble and the Winkler score. The held-out figures themselves are
pinned (loosely) in test_heldout_france.py."""

import json

import numpy as np
import pytest

from simulations.national.heldout import measure, predict, prior_samples, score, winkler
from simulations.national.opening_day import simulate
from simulations.scenario.arrivals import arrival_rates_per_min, cumulative_arrivals
from simulations.scenario.demand import Demand
from simulations.scenario.scenario import HeldOut, ScenarioError, load_scenario

PROFILE = [0.5] * 8 + [2.0] * 12 + [1.0] * 4


def test_daily_profile_multiplies_the_baseline_by_local_hour():
    demand = Demand(baseline_per_min=100.0, daily_profile=PROFILE)
    # started at 20:00: minute 0 is hour 20 (1.0), minute 300 is 01:00 (0.5), 780 is 09:00 (2.0)
    rates = arrival_rates_per_min(demand, [0.0, 300.0, 780.0], clock_start_min=1200.0)
    assert rates == pytest.approx([100.0, 50.0, 200.0])


def test_after_visitors_arrive_from_the_first_midnight_by_profile_and_decay():
    demand = Demand(after_visitors_per_day=1_440_000.0, after_decay_per_day=0.5)
    start = 1200.0  # 20:00: the first midnight is 240 min in
    cum = cumulative_arrivals(demand, [240.0, 240.0 + 1440.0, 240.0 + 2880.0], start)
    assert cum == pytest.approx([0.0, 1_440_000.0, 1_440_000.0 * 1.5])
    weighted = Demand(after_visitors_per_day=1_000_000.0, daily_profile=PROFILE)
    day = cumulative_arrivals(weighted, [240.0 + 1440.0], start)[0]
    assert day == pytest.approx(1_000_000.0)


def test_hourly_cumulative_integrates_the_rate():
    demand = Demand(
        baseline_per_min=100.0,
        surge_visitors=1e5,
        delay_min=7,
        daily_profile=PROFILE,
        after_visitors_per_day=5e5,
        after_decay_per_day=0.7,
    )
    t = np.linspace(0, 3000, 600_001)
    rates = arrival_rates_per_min(demand, t, 1213.0)
    riemann = np.sum((rates[1:] + rates[:-1]) / 2 * np.diff(t))
    assert cumulative_arrivals(demand, [3000.0], 1213.0)[0] == pytest.approx(riemann, rel=1e-4)


def test_a_profile_must_have_24_hours():
    with pytest.raises(ScenarioError, match="daily_profile"):
        load_scenario("smoke", ["demand.daily_profile=[1.0, 2.0]"])


def test_releases_wait_for_their_start_and_time_is_iso_local():
    base = ["duration_min=30", "start_date=2021-07-12", "supply.new_slots_per_min=50.0"]
    late = simulate(load_scenario("smoke", [*base, "supply.new_slots_start_min=20.0"]), 1)
    early = simulate(load_scenario("smoke", [*base, "supply.new_slots_start_min=0.0"]), 1)
    assert 0 < late.kpis["slots_released"] < early.kpis["slots_released"]
    ts = late.timeseries
    assert ts["time"].iloc[0] == "2021-07-12T20:00" and ts["time"].iloc[-1] == "2021-07-12T20:29"


def test_priors_must_name_parameters_and_be_ordered():
    with pytest.raises(ScenarioError, match="priors"):
        load_scenario("smoke", {"priors": {"demand.nope": {"low": 0, "high": 1, "source": "x"}}})
    with pytest.raises(ScenarioError, match="high"):
        load_scenario(
            "smoke", {"priors": {"demand.book_share": {"low": 0.5, "high": 0.1, "source": "x"}}}
        )


def test_latin_hypercube_fills_every_stratum_of_each_prior():
    sc = load_scenario(
        "smoke",
        {
            "priors": {
                "demand.book_share": {"low": 0.2, "high": 0.6, "source": "assumption"},
                "behaviour.retry_max": {"low": 1, "high": 5, "source": "assumption"},
            }
        },
    )
    points = prior_samples(sc, 8, seed=3)
    strata = np.floor((points["demand.book_share"] - 0.2) / 0.4 * 8)
    assert sorted(strata) == list(range(8))
    assert points["behaviour.retry_max"].dtype.kind == "i"


def test_winkler_charges_width_and_misses():
    assert winkler(10, 20, 15) == 10
    assert winkler(10, 20, 5, alpha=0.1) == 10 + 20 * 5
    wide = winkler(0, 1e9, 100)
    assert wide > winkler(90, 110, 100)


def test_score_reports_error_and_coverage():
    predictions = {"x": {"median": 110.0, "low": 100.0, "high": 120.0}}
    table = score(predictions, {"x": {"low": 80.0, "high": 120.0, "source": "s"}})
    assert table.iloc[0]["error"] == pytest.approx(0.1) and table.iloc[0]["covered"]
    table = score(predictions, {"x": {"low": 80.0, "high": 90.0, "source": "s"}})
    row = table.iloc[0]
    assert row["error"] == pytest.approx(25 / 85) and not row["covered"]
    assert row["winkler"] == pytest.approx(20 + 20 * 15)
    with pytest.raises(ScenarioError, match="no prediction"):
        score(predictions, {"y": {"low": 1, "high": 2}})


OVERRIDES = {"start_date": "2021-07-12", "duration_min": 40}


def test_ensemble_measures_each_figure_in_each_run():
    sc = load_scenario(
        "smoke",
        {
            **OVERRIDES,
            "priors": {"demand.book_share": {"low": 0.2, "high": 0.6, "source": "assumption"}},
            "heldout": {
                "late": {"start": "2021-07-12T20:20", "end": "2021-07-12T20:40", "kind": "bookings"}
            },
        },
    )
    ens = predict(sc, sc.heldout, samples=3, seed=1)
    assert len(ens) == 3 and (ens["late"] > 0).all()
    json.dumps(ens.to_dict(orient="records"))
    # sample 1 is the run of its own parameters with child 1 of the seed
    share = float(ens.loc[1, "demand.book_share"])
    again = simulate(
        load_scenario("smoke", {**OVERRIDES, "demand.book_share": share}),
        np.random.SeedSequence(1).spawn(3)[1],
    )
    assert measure(again.timeseries, sc.heldout["late"]) == ens.loc[1, "late"]
    outside = HeldOut(start="2021-07-12T20:30", end="2021-07-12T21:30", kind="bookings")
    run = again
    with pytest.raises(ScenarioError, match="not inside"):
        measure(run.timeseries, outside)
