"""Centre sizing: exact Erlang C answers, simulation search, target parsing."""

from __future__ import annotations

import math

import pytest

from simulations.center.config import parse_center
from simulations.queueing import erlang_a, erlang_c
from simulations.sizing.center import TargetError, mmc_metric, parse_target, size_center


def mmc(rate_per_min, mean_service_min, open_minutes=600, patience=None):
    station = {
        "name": "desk",
        "servers": 1,
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


@pytest.mark.parametrize(
    ("servers", "load", "p_wait"),
    [  # exact values: docs/sources.md#erlang-c, docs/sources.md#halfin-whitt
        (10, 9.0, 0.668732),
        (3, 2.0, 0.444444),
        (14, 10.0, 0.174132),
        (110, 100.0, 0.237008),
        (120, 100.0, 0.033196),
        (1064, 1000.0, 0.027246),
    ],
)
def test_erlang_c_matches_published_values(servers, load, p_wait):
    assert erlang_c(servers, load) == pytest.approx(p_wait, abs=1e-6)


def brute_force_smallest(rate, mean, metric, threshold):
    c = math.floor(rate * mean) + 1
    while mmc_metric(metric, c, rate, mean) > threshold:
        c += 1
    return c


@pytest.mark.parametrize(
    ("rate", "mean", "target", "expected"),
    [
        # just above / just below C(10, 9) = 0.668732: the answer moves by one server
        (9.0, 1.0, "p_wait<=0.66874", 10),
        (9.0, 1.0, "p_wait<=0.66873", 11),
        # C(110, 100) = 0.237008, C(120, 100) = 0.033196 (Halfin-Whitt table)
        (100.0, 1.0, "p_wait<=0.23701", 110),
        (100.0, 1.0, "p_wait<=0.23700", 111),
        (100.0, 1.0, "p_wait<=0.033196", 120),
        # M/M/3, lambda 0.2, mu 0.1: Wq = 4.444444 (Ciw README setup)
        (0.2, 10.0, "mean_wait_min<=4.4445", 3),
        (0.2, 10.0, "mean_wait_min<=4.4444", 4),
        # service level: P(Wq > 1) = 0.246013 for c=10, lambda 9, mu 1
        (9.0, 1.0, "p_wait_over_1<=0.24602", 10),
        (9.0, 1.0, "p_wait_over_1<=0.24601", 11),
        # 20 vaccinations/h per line at 8 patients a minute: 24 Erlangs
        (8.0, 3.0, "p_wait<=0.2", None),
        (8.0, 3.0, "p_wait_over_2<=0.05", None),
    ],
)
def test_exact_sizing_gives_the_smallest_erlang_c_staffing(rate, mean, target, expected):
    parsed = parse_target(target)
    result = size_center(mmc(rate, mean), [parsed])
    assert result.method == "erlang-c (exact)"
    answer = result.servers["desk"]
    if expected is None:
        expected = brute_force_smallest(rate, mean, parsed.metric, parsed.threshold)
    assert answer == expected
    assert mmc_metric(parsed.metric, answer, rate, mean) <= parsed.threshold
    assert mmc_metric(parsed.metric, answer - 1, rate, mean) > parsed.threshold


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Erlang A, c=10, lambda 9, mu 1, theta 0.5: P(abandon) = 0.067012
        # (docs/sources.md#erlang-a)
        ("abandonment<=0.067013", 10),
        ("abandonment<=0.067011", 11),
        ("p_wait<=0.468943", 10),
        ("p_wait<=0.468941", 11),
    ],
)
def test_exact_sizing_with_exponential_patience_uses_erlang_a(target, expected):
    parsed = parse_target(target)
    result = size_center(mmc(9.0, 1.0, patience=2.0), [parsed])
    assert result.method == "erlang-a (exact)"
    assert result.servers["desk"] == expected
    below = erlang_a(9.0, 1.0, expected - 1, 0.5)
    name = "p_abandon" if parsed.metric == "abandonment" else "p_wait"
    assert getattr(below, name) > parsed.threshold


def test_several_exact_targets_take_the_strictest():
    targets = [parse_target("p_wait<=0.5"), parse_target("mean_wait_min<=0.05")]
    result = size_center(mmc(9.0, 1.0), targets)
    c = result.servers["desk"]
    assert all(mmc_metric(t.metric, c, 9.0, 1.0) <= t.threshold for t in targets)
    assert any(mmc_metric(t.metric, c - 1, 9.0, 1.0) > t.threshold for t in targets)


def test_simulation_search_agrees_with_erlang_c_away_from_the_boundary():
    # C(11, 8) = 0.245 and C(12, 8) = 0.140: a 0.2 target is far from both.
    config = mmc(8.0, 1.0, open_minutes=300)
    target = parse_target("p_wait<=0.2")
    exact = size_center(config, [target])
    simulated = size_center(config, [target], method="simulate", replications=5, seed=3)
    assert simulated.method == "simulation"
    assert simulated.servers == exact.servers == {"desk": 12}


def test_two_station_search_meets_targets_and_cannot_drop_a_server():
    config = parse_center(
        {
            "arrivals": {"kind": "poisson", "rate_per_hour": 120, "open_minutes": 240},
            "stations": [
                {"name": "desk", "servers": 1, "service": {"dist": "constant", "value": 1.5}},
                {"name": "jab", "servers": 1, "service": {"dist": "lognormal", "mean": 4, "sd": 1}},
            ],
        }
    )
    targets = [parse_target("mean_wait_min<=1"), parse_target("median_time_min<=8")]
    result = size_center(config, targets, method="simulate", replications=4, seed=2)
    rows = {tuple(r[k] for k in ("servers.desk", "servers.jab")): r for r in result.evaluations}
    answer = (result.servers["desk"], result.servers["jab"])
    assert rows[answer]["meets_targets"]
    for i in range(2):
        fewer = list(answer)
        fewer[i] -= 1
        assert tuple(fewer) in rows, f"{fewer} was never tried"
        assert not rows[tuple(fewer)]["meets_targets"]
    assert answer[1] >= 9  # 2/min x 4 min = 8 Erlangs at the jab station


def test_unreachable_target_reports_no_answer():
    result = size_center(mmc(9.0, 1.0), [parse_target("p_wait<=1e-12")], max_servers=15)
    assert not result.reachable
    assert len(result.evaluations) == 6  # 10..15


@pytest.mark.parametrize("text", ["p_wait<0.2", "p_wait<=abc", "<=3", "p_wait <= nan"])
def test_malformed_targets_are_refused(text):
    with pytest.raises(TargetError):
        parse_target(text)


def test_unknown_metric_is_refused():
    with pytest.raises(TargetError, match="unknown"):
        size_center(mmc(1.0, 1.0), [parse_target("happiness>=3")], replications=2)
