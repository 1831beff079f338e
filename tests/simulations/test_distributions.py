"""Distributions: sample means match analytic means, shifts apply, bad tables are refused."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.distributions import DistributionError, parse_distribution

TABLES = [
    {"dist": "constant", "value": 3},
    {"dist": "exponential", "mean": 2},
    {"dist": "normal", "mean": 4, "sd": 1.3},
    {"dist": "normal", "mean": 1, "sd": 2},  # heavily truncated at 0
    {"dist": "lognormal", "mean": 4, "sd": 1.5},
    {"dist": "triangular", "low": 5, "mode": 5.5, "high": 7},
    {"dist": "uniform", "low": 15, "high": 20},
    {"dist": "empirical", "values": [1, 2, 2, 7]},
    {"dist": "exponential", "mean": 1, "shift": 0.5},
    {"dist": "lognormal", "mean": 3, "sd": 1, "shift": 2},
]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"{t['dist']}-{len(t)}")
def test_sample_mean_matches_analytic_mean(table):
    dist = parse_distribution(table)
    draws = dist.sample(np.random.default_rng(7), 200_000)
    assert draws.min() >= table.get("shift", 0)
    standard_error = max(draws.std(), 1e-9) / np.sqrt(draws.size)
    assert abs(draws.mean() - dist.mean_min) <= 5 * standard_error + 1e-12


def test_lognormal_sd_is_the_sd_of_the_times():
    draws = parse_distribution({"dist": "lognormal", "mean": 4, "sd": 1.5}).sample(
        np.random.default_rng(3), 400_000
    )
    assert draws.std() == pytest.approx(1.5, rel=0.02)


def test_same_generator_state_gives_same_draws():
    dist = parse_distribution({"dist": "triangular", "low": 1, "mode": 2, "high": 4})
    a = dist.sample(np.random.default_rng(11), 50)
    b = dist.sample(np.random.default_rng(11), 50)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dist": "gamma", "mean": 2}, "unknown distribution 'gamma'"),
        ({"mean": 2}, "unknown distribution None"),
        ({"dist": "exponential"}, "needs mean"),
        ({"dist": "exponential", "mean": -1}, "must not be negative"),
        ({"dist": "exponential", "mean": 0}, "needs mean > 0"),
        ({"dist": "normal", "mean": 4}, "needs sd"),
        ({"dist": "uniform", "low": 3, "high": 1}, "low <= high"),
        ({"dist": "triangular", "low": 1, "mode": 5, "high": 4}, "low <= mode <= high"),
        ({"dist": "empirical", "values": []}, "non-empty list"),
        ({"dist": "constant", "value": "three"}, "must be a finite number"),
        ({"dist": "constant", "value": 1, "shift": -2}, "'shift' must not be negative"),
        ({"dist": "constant", "value": 1, "scale": 2}, "unexpected key"),
        ("exponential", "expected a table"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(table, message):
    with pytest.raises(DistributionError, match=message.replace("(", r"\(")) as info:
        parse_distribution(table, "station 'x' service")
    assert str(info.value).startswith("station 'x' service")
    assert "\n" not in str(info.value)
