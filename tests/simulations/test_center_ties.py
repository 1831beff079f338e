"""Same-instant rules of the SimPy centre engine, on deterministic days solved by hand.

Events at one instant: roster and break events first (SimPy's URGENT priority), then patient
events in the order they were scheduled; arrivals are all scheduled at opening.
"""

from __future__ import annotations

import math

import pytest

from simulations.center.config import parse_center
from simulations.center.simulation import simulate_center


def one_desk(block_min: float, per_block: int, blocks: int, **station) -> dict:
    return {
        "arrivals": {
            "kind": "appointments",
            "block_minutes": block_min,
            "per_block": per_block,
            "blocks": blocks,
        },
        "stations": [{"name": "jab", "servers": 1, **station}],
    }


def test_patience_scheduled_before_a_service_end_at_the_same_instant_wins():
    # Arrivals at 0, 0.5, 1; 1-min service; 1-min patience. A is served over [0, 1). B queues at
    # 0.5 and is served at 1 (its patience ends at 1.5), until 2. C's arrival at 1 runs before
    # A's service end at 1 (arrivals were scheduled first), so C's patience, ending at 2, was
    # scheduled before B's service end at 2: C leaves at 2 after waiting 1, just as a server
    # frees.
    data = one_desk(
        0.5,
        1,
        3,
        service={"dist": "constant", "value": 1},
        patience={"dist": "constant", "value": 1},
    )
    run = simulate_center(parse_center(data), 1)
    (jab,) = run.stations
    assert jab.wait_min.tolist() == [0.0, 0.5, 1.0]
    assert jab.abandoned.tolist() == [False, False, True]
    assert run.departure_min[:2].tolist() == [1.0, 2.0]
    assert math.isnan(run.departure_min[2]) and run.exit_min[2] == 2.0


def test_a_removal_and_a_break_due_together_take_the_first_two_servers_to_come_free():
    # Two patients every 2 min, 1.5-min service, two servers then one from 59, and a break of
    # one server over [59, 69). At 59 both servers are busy until 59.5: the roster removal
    # (a staff event scheduled first) claims the first server to come free, the break the
    # second, which rests until 69 (9.5 min, shortened, not moved). Nobody serves over
    # [59.5, 69): the first patient of 60 starts at 69.
    data = one_desk(2, 2, 40, service={"dist": "constant", "value": 1.5})
    data["stations"][0]["roster"] = [
        {"from_min": 0, "to_min": 59, "servers": 2},
        {"from_min": 59, "to_min": 120, "servers": 1},
    ]
    data["stations"][0]["breaks"] = [{"start_min": 59, "minutes": 10, "servers": 1}]
    (jab,) = simulate_center(parse_center(data), 1).stations
    assert jab.break_min == pytest.approx(9.5)
    first_at_60 = int((jab.arrive_min < 60).sum())
    assert jab.arrive_min[first_at_60] == 60
    assert jab.wait_min[first_at_60] == pytest.approx(9.0)
    assert jab.wait_min[first_at_60 + 1] == pytest.approx(10.5)


def test_a_break_with_no_server_free_before_its_end_is_skipped():
    # One patient at 0 served for 10 min; a break over [2, 7) finds the server busy and no
    # server comes free before 7: no break is taken, and the patient at 10 is served at once.
    data = one_desk(10, 1, 2, service={"dist": "constant", "value": 10})
    data["stations"][0]["breaks"] = [{"start_min": 2, "minutes": 5, "servers": 1}]
    run = simulate_center(parse_center(data), 1)
    (jab,) = run.stations
    assert jab.break_min == 0
    assert jab.wait_min.tolist() == [0.0, 0.0]
    assert run.departure_min.tolist() == [10.0, 20.0]


def test_zero_service_times_pass_through_at_the_same_instant():
    # Service 0 at the first station, 1 at the second: patients at 0, 1, 2 (two a block) leave
    # the first at once and queue at the second in arrival order.
    data = one_desk(1, 2, 3, service={"dist": "constant", "value": 0})
    data["stations"].append(
        {"name": "obs", "servers": 1, "service": {"dist": "constant", "value": 1}}
    )
    run = simulate_center(parse_center(data), 1)
    desk, obs = run.stations
    assert desk.wait_min.tolist() == [0.0] * 6
    assert run.departure_min.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert obs.wait_min.tolist() == [0.0, 1.0, 1.0, 2.0, 2.0, 3.0]
    assert run.stranded == 0 and run.end_min == 6.0
