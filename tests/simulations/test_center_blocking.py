"""Finite places and blocking after service, against exact results."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.center.config import CenterConfigError, parse_center
from simulations.center.report import run_center_replications, run_kpis
from simulations.center.simulation import simulate_center
from simulations.replications import confidence_interval


def tandem(patients: int, capacity: int | None) -> dict:
    second = {"name": "b", "servers": 1, "service": {"dist": "exponential", "mean": 1.0}}
    if capacity is not None:
        second["capacity"] = capacity
    return {
        # Everyone is there at opening: the first station is never starved (saturated input).
        "arrivals": {
            "kind": "appointments",
            "block_minutes": 1,
            "per_block": patients,
            "blocks": 1,
        },
        "stations": [
            {"name": "a", "servers": 1, "service": {"dist": "exponential", "mean": 1.0}},
            second,
        ],
    }


def test_two_exponential_stations_without_room_between_give_two_thirds_of_the_rate():
    # Blocking after service, equal rates mu, no buffer before the second server: the states
    # (a busy, b busy), (a blocked, b busy), (a busy, b idle) give throughput 2 mu / 3.
    runs = [simulate_center(parse_center(tandem(4000, 1)), seed) for seed in range(8)]
    throughput = [4000 / np.nanmax(run.departure_min) for run in runs]
    _, low, high = confidence_interval(np.array(throughput), 0.99)
    assert low <= 2 / 3 <= high
    assert high - low < 0.02
    assert all(run.stations[0].blocked_min > 0 for run in runs)
    # Without the limit the line runs at the rate of one server (mu = 1).
    free = simulate_center(parse_center(tandem(4000, None)), 0)
    assert 4000 / np.nanmax(free.departure_min) == pytest.approx(1.0, rel=0.05)


def test_unlimited_capacity_gives_exactly_the_unblocked_run():
    data = tandem(300, None)
    data["arrivals"] = {"kind": "poisson", "rate_per_hour": 50, "open_minutes": 300}
    data["stations"][0]["patience"] = {"dist": "exponential", "mean": 10}
    data["walk"] = {"dist": "uniform", "low": 0.5, "high": 1.5}
    plain = run_kpis(simulate_center(parse_center(data), 4))
    for station in data["stations"]:
        station["capacity"] = 10_000
    roomy = run_kpis(simulate_center(parse_center(data), 4))
    assert plain == roomy
    assert plain["stations.a.blocked_min"] == 0


def test_observation_chairs_block_the_vaccinators():
    def center(chairs: int | None) -> dict:
        observation = {
            "name": "obs",
            "servers": "infinite",
            "service": {"dist": "constant", "value": 15},
        }
        if chairs is not None:
            observation["capacity"] = chairs
        return {
            "arrivals": {"kind": "appointments", "block_minutes": 1, "per_block": 1, "blocks": 120},
            "stations": [
                {"name": "jab", "servers": 2, "service": {"dist": "constant", "value": 1.5}},
                observation,
            ],
        }

    free = run_kpis(simulate_center(parse_center(center(None)), 1))
    # 10 chairs for 15 minutes each take 2 / 3 patient a minute < 1 arriving a minute (and two
    # jab booths could do 4 / 3), so the chairs set the pace: once full, chair c seats patients
    # c, c + 10, c + 20... back to back, and patient c + 10 m leaves at c + 1.5 + 15 (m + 1).
    run = simulate_center(parse_center(center(10)), 1)
    tight = run_kpis(run)
    chair, turn = np.arange(120) % 10, np.arange(120) // 10
    assert np.allclose(run.departure_min, chair + 1.5 + 15 * (turn + 1))
    assert free["stations.jab.blocked_min"] == 0
    assert tight["stations.jab.blocked_min"] > 0
    assert tight["served"] == free["served"] == 120
    assert tight["overtime_min"] == pytest.approx(190.5 - 120)


def test_crossing_routes_deadlock_is_reported_not_hung():
    one = {"dist": "constant", "value": 1.0}
    config = parse_center(
        {
            "arrivals": {"kind": "appointments", "block_minutes": 1, "per_block": 2, "blocks": 1},
            "stations": [
                {"name": "x", "servers": 1, "capacity": 1, "service": one},
                {"name": "y", "servers": 1, "capacity": 1, "service": one},
            ],
            "classes": [
                {"name": "xy", "share": 0.5, "route": ["x", "y"]},
                {"name": "yx", "share": 0.5, "route": ["y", "x"]},
            ],
        }
    )
    for seed in range(40):  # some seed gives one patient of each class: they block each other
        run = simulate_center(config, seed)
        if set(run.class_index.tolist()) == {0, 1}:
            break
    kpis = run_kpis(run)
    assert run.deadlock and kpis["deadlock"] == 1
    assert kpis["stranded"] == 2 and kpis["served"] == 0
    assert run.end_min == 1.0


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True])
def test_bad_capacity_is_refused(capacity):
    data = tandem(3, None)
    data["stations"][1]["capacity"] = capacity
    with pytest.raises(CenterConfigError, match="'capacity' must be a positive integer"):
        parse_center(data)


def test_replications_report_blocking_per_station():
    reps = run_center_replications(parse_center(tandem(200, 1)), 3, seed=2, keep_queues=False)
    assert (reps.kpis["stations.a.blocked_min"] > 0).all()
    assert (reps.kpis["stations.b.blocked_min"] == 0).all()
