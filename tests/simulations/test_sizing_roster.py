"""Roster sizing: cheapest roster meeting targets, with its local-optimality certificate."""

from __future__ import annotations

import pytest

from simulations.center.config import parse_center
from simulations.sizing.center import TargetError, parse_target
from simulations.sizing.roster import apply_roster, roster_cost, size_roster

TARGETS = [parse_target("mean_wait_min<=2")]


def afternoon_rush() -> dict:
    stations = [
        {"name": "desk", "servers": 1, "service": {"dist": "exponential", "mean": 1.0}},
        {"name": "jab", "servers": 1, "service": {"dist": "lognormal", "mean": 4.0, "sd": 1.5}},
    ]
    return {
        # 12 booked an hour all day, plus 36 walk-ins an hour in the afternoon.
        "arrivals": {
            "kind": "appointments",
            "block_minutes": 10,
            "per_block": 2,
            "blocks": 48,
            "walk_ins": {"rate_per_hour": 36, "from_min": 240, "to_min": 480},
        },
        "stations": stations,
        "closing": {"at_min": 480},
    }


@pytest.fixture(scope="module")
def rostered():
    return size_roster(
        parse_center(afternoon_rush()), TARGETS, period_min=240, replications=8, max_evaluations=100
    )


def test_answer_meets_targets_and_no_single_removal_does(rostered):
    assert rostered.roster is not None and not rostered.budget_exhausted
    mean, low, high = rostered.intervals["mean_wait_min<=2"]
    assert high <= 2
    # The certificate: every count above 1 was tried one lower, and each fails a target.
    removable = sum(c > 1 for counts in rostered.roster.values() for c in counts)
    assert len(rostered.certificate) == removable > 0
    for removal in rostered.certificate:
        assert removal["fails"] and all(f["high"] > 2 for f in removal["fails"])


def test_rosters_follow_demand_and_cost_less_than_a_fixed_count(rostered):
    fixed = size_roster(
        parse_center(afternoon_rush()), TARGETS, period_min=0, replications=8, max_evaluations=100
    )
    morning, afternoon = rostered.roster["jab"]
    assert morning < afternoon
    assert rostered.cost < fixed.cost
    assert rostered.cost == roster_cost(rostered.periods_min, rostered.roster, {})


def test_no_cheaper_passing_roster_was_seen(rostered):
    # The box below the greedy start is searched whole, in increasing cost, and the descent
    # only moves to cheaper rosters: nothing evaluated that passes is cheaper than the answer.
    assert rostered.method.startswith("exhaustive over")
    passing = [row["cost"] for row in rostered.evaluations if row["meets_targets"]]
    assert min(passing) == rostered.cost
    assert any(
        not row["meets_targets"] and row["cost"] < rostered.cost for row in rostered.evaluations
    )


def test_intervals_are_bonferroni_corrected_and_the_budget_is_enforced(rostered):
    assert rostered.confidence == pytest.approx(1 - 0.05 / 100)
    short = size_roster(
        parse_center(afternoon_rush()), TARGETS, period_min=240, replications=8, max_evaluations=3
    )
    assert short.budget_exhausted and short.roster is None and len(short.evaluations) == 3


def test_cost_per_role_changes_the_answer_metric():
    config = parse_center(afternoon_rush())
    periods = [(0.0, 240.0), (240.0, 480.0)]
    roster = {"desk": (1, 2), "jab": (2, 4)}
    assert roster_cost(periods, roster, {}) == (1 * 4 + 2 * 4) + (2 * 4 + 4 * 4)
    assert roster_cost(periods, roster, {"jab": 2.0}) == 12 + 2 * 24
    applied = apply_roster(config, periods, roster)
    assert [s.servers for s in applied.stations[1].roster] == [2, 4]


def test_bad_inputs_are_refused():
    config = parse_center(afternoon_rush())
    with pytest.raises(TargetError, match="at least 2 replications"):
        size_roster(config, TARGETS, replications=1)
    with pytest.raises(ValueError, match="no station named 'nurse'"):
        size_roster(config, TARGETS, costs={"nurse": 2.0})


def test_erlang_c_path_is_kept_only_for_plain_mmc_configs():
    from simulations.sizing.center import is_mmc

    mmc = {
        "arrivals": {"kind": "poisson", "rate_per_hour": 480, "open_minutes": 600},
        "stations": [
            {"name": "desk", "servers": 10, "service": {"dist": "exponential", "mean": 1}}
        ],
    }
    assert is_mmc(parse_center(mmc))
    for extra in (
        {"breaks": [{"start_min": 60, "minutes": 30}]},
        {"roster": [{"from_min": 0, "to_min": 300, "servers": 9}]},
        {"capacity": 20},
    ):
        station = mmc["stations"][0] | extra
        assert not is_mmc(parse_center(mmc | {"stations": [station]}))
    assert not is_mmc(parse_center(mmc | {"closing": {"at_min": 300}}))
