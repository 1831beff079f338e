"""Patient classes with their own routes, walk-ins and asymmetric punctuality."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.center.config import CenterConfigError, parse_center
from simulations.center.report import run_kpis
from simulations.center.simulation import simulate_center

CONSTANT = {"dist": "constant", "value": 2.0}


def center(**extra) -> dict:
    data = {
        "arrivals": {"kind": "poisson", "rate_per_hour": 120, "open_minutes": 600},
        "stations": [
            {"name": name, "servers": "infinite", "service": CONSTANT}
            for name in ("check-in", "assessment", "vaccination", "observation")
        ],
    }
    data.update(extra)
    return data


CLASSES = [
    {"name": "dose-1", "share": 0.5},
    {
        "name": "dose-2",
        "share": 0.3,
        "route": ["check-in", "vaccination", "observation"],
    },
    {
        "name": "long-observation",
        "share": 0.2,
        "service": {"observation": {"dist": "constant", "value": 30}},
    },
]


def test_each_class_follows_its_route_with_its_own_service_times():
    run = simulate_center(parse_center(center(classes=CLASSES)), 3)
    time_in_system = run.departure_min - run.arrival_min
    expected = np.array([8.0, 6.0, 36.0])[run.class_index]
    assert np.allclose(time_in_system, expected)
    shares = np.bincount(run.class_index, minlength=3) / len(run.class_index)
    assert shares == pytest.approx([0.5, 0.3, 0.2], abs=0.03)  # about 1,200 patients
    kpis = run_kpis(run)
    assert kpis["stations.assessment.reached"] == (run.class_index != 1).sum()
    assert kpis["stations.vaccination.reached"] == len(run.arrival_min)


def test_walk_ins_come_beside_appointments():
    data = center()
    data["arrivals"] = {
        "kind": "appointments",
        "block_minutes": 10,
        "per_block": 5,
        "blocks": 48,
        "walk_ins": {"rate_per_hour": 30, "from_min": 60, "to_min": 360},
    }
    runs = [simulate_center(parse_center(data), seed) for seed in range(20)]
    walk_ins = np.array([run.booked - 240 for run in runs])
    assert walk_ins.mean() == pytest.approx(150, rel=0.05)  # 30/h over 5 h
    for run in runs:
        assert len(run.arrival_min) == run.booked
        assert run_kpis(run)["served"] == run.booked


def test_asymmetric_punctuality_shifts_arrivals_early():
    data = center()
    data["arrivals"] = {
        "kind": "appointments",
        "block_minutes": 600,
        "per_block": 4000,
        "blocks": 1,
        "first_block_min": 60,
        "punctuality": {
            "early_share": 0.7,
            "early": {"dist": "uniform", "low": 0, "high": 20},
            "late": {"dist": "exponential", "mean": 5},
        },
    }
    config = parse_center(data)
    assert config.arrivals.punctuality.mean_lateness_min == pytest.approx(-0.7 * 10 + 0.3 * 5)
    lateness = simulate_center(config, 2).arrival_min - 60
    assert (lateness < 0).mean() == pytest.approx(0.7, abs=0.03)
    assert lateness.mean() == pytest.approx(-5.5, abs=0.4)
    assert lateness.min() >= -20


def test_classes_keep_common_random_numbers_across_staffing():
    data = center(classes=CLASSES)
    data["stations"][2]["servers"] = 3
    config = parse_center(data)
    a = simulate_center(config, 5)
    b = simulate_center(config.with_servers({"vaccination": 5}), 5)
    assert np.array_equal(a.arrival_min, b.arrival_min)
    assert np.array_equal(a.class_index, b.class_index)


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([{"name": "a", "share": 0.5}], "shares must sum to 1"),
        ([{"name": "a", "share": 1, "route": ["nowhere"]}], "unknown station 'nowhere'"),
        (
            [
                {
                    "name": "a",
                    "share": 1,
                    "route": ["check-in"],
                    "service": {"observation": CONSTANT},
                }
            ],
            "not on its route",
        ),
        ([{"name": "a", "share": 1, "colour": "red"}], "unexpected key"),
        ([{"name": "a", "share": 1, "route": ["check-in", "check-in"]}], "visits a station twice"),
        ([], "non-empty list"),
    ],
)
def test_bad_classes_are_refused_in_one_line(classes, message):
    with pytest.raises(CenterConfigError, match=message) as info:
        parse_center(center(classes=classes))
    assert "\n" not in str(info.value)
