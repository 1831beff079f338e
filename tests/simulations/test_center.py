"""Centre model against exact queueing theory, plus invariants and common random numbers.

Theory values are steady state; each run starts empty and stops admitting after
`open_minutes`, so the checks use long days and 99% intervals over replications.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.center.config import CenterConfigError, builtin_centers, load_center, parse_center
from simulations.center.report import run_center_replications, run_kpis
from simulations.center.simulation import simulate_center
from simulations.queueing import erlang_a, erlang_c, mmc_wait_mean
from simulations.replications import confidence_interval


def single_station(rate_per_min, mean_service_min, servers, open_minutes=600, patience=None):
    station = {
        "name": "desk",
        "servers": servers,
        "service": {"dist": "exponential", "mean": mean_service_min},
    }
    if patience is not None:
        station["patience"] = {"dist": "exponential", "mean": patience}
    return parse_center(
        {
            "arrivals": {
                "kind": "poisson",
                "rate_per_hour": rate_per_min * 60,
                "open_minutes": open_minutes,
            },
            "stations": [station],
        }
    )


def interval(reps, column, confidence=0.99):
    return confidence_interval(reps.kpis[column].to_numpy(), confidence)


def test_mmc_mean_wait_and_p_wait_match_erlang_c():
    reps = run_center_replications(single_station(8, 1.0, 10), 10, seed=5, keep_queues=False)
    p_wait = erlang_c(10, 8.0)
    mean_wait = mmc_wait_mean(8.0, 1.0, 10)
    _, low, high = interval(reps, "stations.desk.p_wait")
    assert low <= p_wait <= high
    _, low, high = interval(reps, "stations.desk.mean_wait_min")
    assert low <= mean_wait <= high
    _, low, high = interval(reps, "stations.desk.utilisation_busy")
    assert low <= 0.8 <= high


def test_erlang_a_abandonment_matches_theory():
    config = single_station(9, 1.0, 10, patience=2.0)  # theta = 0.5 per minute
    reps = run_center_replications(config, 10, seed=8, keep_queues=False)
    exact = erlang_a(9.0, 1.0, 10, 0.5)
    p_wait, p_abandon = exact.p_wait, exact.p_abandon
    assert p_wait == pytest.approx(0.468942, abs=1e-6)  # docs/sources.md#erlang-a
    assert p_abandon == pytest.approx(0.067012, abs=1e-6)
    _, low, high = interval(reps, "abandonment")
    assert low <= p_abandon <= high
    _, low, high = interval(reps, "stations.desk.p_wait")
    assert low <= p_wait <= high


def test_infinite_servers_are_a_pure_delay_with_poisson_occupancy():
    config = parse_center(
        {
            "arrivals": {"kind": "poisson", "rate_per_hour": 120, "open_minutes": 600},
            "stations": [
                {
                    "name": "obs",
                    "servers": "infinite",
                    "service": {"dist": "exponential", "mean": 15},
                }
            ],
        }
    )
    reps = run_center_replications(config, 8, seed=3)
    assert reps.kpis["stations.obs.mean_wait_min"].max() == 0
    _, low, high = interval(reps, "time_in_system_min.mean")
    assert low <= 15 <= high
    # M/M/inf: mean number present is lambda * E[S] = 30 once warmed up (after ~5 means).
    steady = reps.mean_queue["obs"][(reps.queue_grid_min > 100) & (reps.queue_grid_min < 600)]
    assert steady.mean() == pytest.approx(30, rel=0.05)


@pytest.fixture(scope="module")
def busy_day():
    config = parse_center(
        {
            "arrivals": {
                "kind": "appointments",
                "block_minutes": 10,
                "per_block": 12,
                "blocks": 30,
                "punctuality_sd_min": 6,
                "no_show": 0.1,
            },
            "stations": [
                {
                    "name": "desk",
                    "servers": 2,
                    "service": {"dist": "lognormal", "mean": 1.5, "sd": 0.5},
                    "patience": {"dist": "uniform", "low": 5, "high": 30},
                },
                {
                    "name": "jab",
                    "servers": 3,
                    "service": {"dist": "normal", "mean": 3, "sd": 1},
                    "patience": {"dist": "exponential", "mean": 20},
                },
                {
                    "name": "obs",
                    "servers": "infinite",
                    "service": {"dist": "constant", "value": 15},
                },
            ],
            "walk": {"dist": "uniform", "low": 0.5, "high": 1.5},
        }
    )
    return config, simulate_center(config, 42)


def test_every_booked_patient_is_served_abandoned_or_a_no_show(busy_day):
    config, run = busy_day
    kpis = run_kpis(run)
    assert kpis["arrived"] == 360
    assert kpis["no_shows"] > 0 and kpis["abandoned"] > 0
    assert kpis["arrived"] == kpis["served"] + kpis["abandoned"] + kpis["no_shows"]
    desk, jab, obs = run.stations
    assert len(jab.arrive_min) == len(desk.arrive_min) - desk.abandoned.sum()
    assert len(obs.arrive_min) == len(jab.arrive_min) - jab.abandoned.sum()


def test_utilisations_are_fractions_and_queue_area_equals_total_wait(busy_day):
    _, run = busy_day
    kpis = run_kpis(run)
    for log in run.stations[:2]:
        assert 0 <= kpis[f"stations.{log.name}.utilisation_busy"] <= 1
        assert 0 <= kpis[f"stations.{log.name}.p_wait"] <= 1
        # Little's law on the queue, exactly: area under Q(t) = sum of waits.
        area = kpis[f"stations.{log.name}.mean_queue_length"] * log.last_departure_min
        assert area == pytest.approx(log.wait_min.sum(), rel=1e-9)
        assert (log.service_min[log.abandoned] == 0).all()


def test_patient_times_do_not_depend_on_server_counts(busy_day):
    config, run = busy_day
    other = simulate_center(config.with_servers({"desk": 4, "jab": 6}), 42)
    assert np.array_equal(run.arrival_min, other.arrival_min)
    served_both = (~run.stations[0].abandoned) & (~other.stations[0].abandoned)
    assert served_both.sum() > 100
    assert np.array_equal(
        run.stations[0].service_min[served_both], other.stations[0].service_min[served_both]
    )
    assert other.stations[0].wait_min.mean() < run.stations[0].wait_min.mean()


def test_same_seed_gives_identical_kpis(busy_day):
    config, run = busy_day
    again = run_kpis(simulate_center(config, 42))
    first = run_kpis(run)
    assert first.keys() == again.keys()
    assert all(
        (math.isnan(first[k]) and math.isnan(again[k])) or first[k] == again[k] for k in first
    )


@pytest.mark.parametrize("name", ["mass-hub", "berlin-messe", "gp-practice", "drive-through"])
def test_builtin_centers_load_and_run(name):
    assert name in builtin_centers()
    config = load_center(name)
    kpis = run_kpis(simulate_center(config, 1))
    assert kpis["served"] > 0
    assert kpis["arrived"] == kpis["served"] + kpis["abandoned"] + kpis["no_shows"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stations": []}, "missing \\[arrivals\\]"),
        ({"arrivals": {"kind": "poisson", "rate_per_hour": 5}}, "open_minutes > 0"),
        ({"arrivals": {"kind": "walkins"}}, "kind must be"),
        (
            {"arrivals": {"kind": "poisson", "rate_per_hour": -5, "open_minutes": 60}},
            "'rate_per_hour' must not be negative",
        ),
        (
            {
                "arrivals": {
                    "kind": "appointments",
                    "block_minutes": 10,
                    "per_block": 3,
                    "blocks": 2,
                    "no_show": 1.5,
                },
                "stations": [],
            },
            "'no_show' is a probability",
        ),
        (
            {
                "arrivals": {"kind": "poisson", "rate_per_hour": 5, "open_minutes": 60},
                "stations": [
                    {"name": "a", "servers": 0, "service": {"dist": "constant", "value": 1}}
                ],
            },
            "'servers' must be a positive integer",
        ),
        (
            {
                "arrivals": {"kind": "poisson", "rate_per_hour": 5, "open_minutes": 60},
                "stations": [{"name": "a", "servers": 1}],
            },
            "missing 'service'",
        ),
        (
            {
                "arrivals": {"kind": "poisson", "rate_per_hour": 5, "open_minutes": 60},
                "stations": [{"name": "a", "servers": 1, "service": {"dist": "weibull"}}],
            },
            "unknown distribution 'weibull'",
        ),
    ],
)
def test_bad_configs_are_refused_in_one_line(data, message):
    with pytest.raises(CenterConfigError, match=message) as info:
        parse_center(data)
    assert "\n" not in str(info.value)


def test_walks_and_pure_delays_add_up_exactly():
    config = parse_center(
        {
            "arrivals": {"kind": "poisson", "rate_per_hour": 300, "open_minutes": 60},
            "stations": [
                {"name": name, "servers": "infinite", "service": {"dist": "constant", "value": v}}
                for name, v in (("a", 2.0), ("b", 3.0), ("c", 15.0))
            ],
            "walk": {"dist": "constant", "value": 1.5},
        }
    )
    run = simulate_center(config, 7)
    time_in_system = run.departure_min - run.arrival_min
    assert len(time_in_system) > 200
    assert np.allclose(time_in_system, 2 + 3 + 15 + 2 * 1.5)
