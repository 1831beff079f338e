import math

import pytest

from loadtests import shapes


def test_ramp_rises_linearly_then_holds_and_ends():
    p = shapes.ramp(100, duration_s=60, ramp_s=30)
    assert p.level_at(0) == 0
    assert p.level_at(15) == pytest.approx(50)
    assert p.level_at(45) == 100
    assert p.level_at(60) is None
    assert p.duration_s == 60


def test_steps_hold_each_level_and_expose_windows():
    p = shapes.steps([5, 10, 20, 40], hold_s=30)
    assert [p.level_at(t) for t in (0, 29.9, 30, 61, 119)] == [5, 5, 10, 20, 40]
    assert p.duration_s == 120
    assert [(w.start_s, w.end_s, w.level) for w in p.windows()] == [
        (0, 30, 5),
        (30, 60, 10),
        (60, 90, 20),
        (90, 120, 40),
    ]


def test_spike_jumps_to_peak_and_back():
    p = shapes.spike(base=10, peak=100, duration_s=90, spike_at_s=30, spike_s=20)
    assert [p.level_at(t) for t in (0, 29, 30, 49, 50, 89)] == [10, 10, 100, 100, 10, 10]


def test_soak_is_constant():
    p = shapes.soak(25, duration_s=600)
    assert p.level_at(0) == p.level_at(599) == 25
    assert p.integral() == 25 * 600


def test_replay_turns_three_hours_and_two_million_visitors_into_three_minutes_and_a_thousand():
    rate_per_min = 2_000_000 / 180  # a flat 3-hour evening, for the arithmetic
    p = shapes.replay(lambda t_min: rate_per_min, 180, scale=0.0005, compress=60)
    assert p.duration_s == 180
    assert p.integral() == pytest.approx(1000, rel=1e-6)
    assert p.unit == "arrivals_per_s"


def test_replay_follows_the_scenario_curve_in_compressed_time():
    from simulations.scenario.arrivals import arrival_rate_per_min
    from simulations.scenario.scenario import load_scenario

    s = load_scenario("france-2021-07-12").scaled()
    p = shapes.replay(lambda t: arrival_rate_per_min(s.demand, t), s.duration_min, 0.001, 60)
    assert p.duration_s == pytest.approx(s.duration_min)
    # wall second 100 plays real minute 100
    expected = arrival_rate_per_min(s.demand, 100) * 0.001
    assert p.level_at(100) == pytest.approx(expected, rel=1e-9)


def test_parse_duration_accepts_units_and_rejects_garbage():
    assert shapes.parse_duration_s("30s") == 30
    assert shapes.parse_duration_s("2m") == 120
    assert shapes.parse_duration_s("1h") == 3600
    assert shapes.parse_duration_s("45") == 45
    for bad in ("", "abc", "-3s", "0s", "3 parsecs"):
        with pytest.raises(ValueError):
            shapes.parse_duration_s(bad)


def test_invalid_levels_are_rejected():
    for build in (
        lambda: shapes.steps([], 30),
        lambda: shapes.steps([5, -1], 30),
        lambda: shapes.ramp(math.nan, 60),
        lambda: shapes.soak(0, 60),
    ):
        with pytest.raises(ValueError):
            build()
