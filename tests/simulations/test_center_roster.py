"""Rosters, breaks and closing time: deterministic days whose outcome follows by arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.center.config import CenterConfigError, parse_center
from simulations.center.report import run_kpis
from simulations.center.roster import Break, expand_break_rule, parse_roster, rostered_minutes
from simulations.center.simulation import simulate_center


def every_two_minutes(patients: int, **station) -> dict:
    return {
        "arrivals": {
            "kind": "appointments",
            "block_minutes": 2,
            "per_block": 1,
            "blocks": patients,
        },
        "stations": [
            {"name": "jab", "servers": 1, "service": {"dist": "constant", "value": 1.5}, **station}
        ],
    }


def test_break_backlog_and_drain_follow_from_arithmetic():
    # Arrivals at 0, 2, 4...; 1.5-min service; the vaccinator rests over [120, 150). The patient
    # arriving at 120 comes after the break starts, so patients j = 0, 1... arriving at 120 + 2j
    # start at 150 + 1.5j while that is later than their arrival (j <= 60): wait 30 - j / 2.
    config = parse_center(
        every_two_minutes(150, breaks=[{"start_min": 120, "minutes": 30, "servers": 1}])
    )
    run = simulate_center(config, 1)
    (jab,) = run.stations
    arrive = 2.0 * np.arange(150)
    j = (arrive - 120) / 2
    expected = np.where((j >= 0) & (j <= 60), 30 - j / 2, 0.0)
    assert np.allclose(jab.arrive_min, arrive)
    assert np.allclose(jab.wait_min, expected)
    assert jab.wait_min.sum() == pytest.approx(61 * 30 - 0.5 * 60 * 61 / 2)  # 915 minutes
    assert jab.queue_lengths.max() == 15  # arrivals at 120, 122, ..., 148
    assert jab.break_min == 30
    kpis = run_kpis(run)
    assert kpis["stations.jab.break_hours"] == 0.5
    assert kpis["stations.jab.staff_hours_busy"] == pytest.approx(150 * 1.5 / 60)


def test_a_busy_server_finishes_first_and_the_break_is_shortened_not_moved():
    # At 121 the vaccinator is busy with the patient who came at 120 (until 121.5): the break
    # runs over [121.5, 151), so the patient arriving at 122 starts at 151.
    config = parse_center(
        every_two_minutes(100, breaks=[{"start_min": 121, "minutes": 30, "servers": 1}])
    )
    (jab,) = simulate_center(config, 1).stations
    assert jab.break_min == pytest.approx(29.5)
    assert jab.wait_min[61] == pytest.approx(151 - 122)
    assert jab.wait_min[60] == 0


def test_roster_change_removes_servers_as_they_come_free():
    # Two patients every 2 min; two servers, then one from 59 on. At 59 both servers are busy
    # (until 59.5): the change waits for them, and one goes. From 60 the one server needs 3 min
    # per 2-min block, so the first patient of block b (b = 0 at 60) waits b minutes, the second
    # 1.5 more.
    data = every_two_minutes(60)
    data["arrivals"]["per_block"] = 2
    data["stations"][0]["roster"] = [
        {"from_min": 0, "to_min": 59, "servers": 2},
        {"from_min": 59, "to_min": 120, "servers": 1},
    ]
    run = simulate_center(parse_center(data), 1)
    (jab,) = run.stations
    before = jab.arrive_min < 59
    assert (jab.wait_min[before] == 0).all()
    waits = jab.wait_min[~before]
    block, second = np.arange(len(waits)) // 2, np.arange(len(waits)) % 2
    assert np.allclose(waits, block + 1.5 * second)
    kpis = run_kpis(run)
    assert kpis["stations.jab.staff_hours_rostered"] == pytest.approx((2 * 59 + 1 * 61) / 60)


def test_closing_stops_admissions_and_measures_overtime():
    data = every_two_minutes(100)  # arrivals up to 198
    data["closing"] = {"at_min": 150}
    data["stations"][0]["service"] = {"dist": "constant", "value": 3.0}  # 1.5x overloaded
    run = simulate_center(parse_center(data), 1)
    kpis = run_kpis(run)
    assert kpis["turned_away"] == 25  # arrivals at 150, 152, ..., 198
    assert kpis["served"] == 75
    # One server, 3 min each, back to back from 0: the 75th patient leaves at 225.
    assert kpis["overtime_min"] == pytest.approx(225 - 150)
    # At 150, patients 0..49 have left (the 50th at 150), 25 admitted are still inside.
    assert kpis["inside_at_closing"] == 25
    assert kpis["arrived"] == kpis["served"] + kpis["turned_away"] + kpis["abandoned"]
    assert kpis["stations.jab.staff_hours_rostered"] == pytest.approx(150 / 60)
    assert kpis["stations.jab.staff_hours_overtime"] == pytest.approx(75 / 60)
    assert kpis["stations.jab.overtime_min"] == pytest.approx(75)


def test_break_rule_staggers_one_break_per_server_from_when_they_join():
    roster = parse_roster(
        [
            {"from_min": 0, "to_min": 240, "servers": 2},
            {"from_min": 240, "to_min": 480, "servers": 3},
        ],
        "station 'v'",
    )
    rule = {"after_min": 180, "minutes": 30, "stagger_min": 30}
    breaks = expand_break_rule(rule, "station 'v'", roster, 3)
    assert breaks == (Break(180, 30), Break(210, 30), Break(420, 30))
    assert rostered_minutes(roster, 3, 480) == 2 * 240 + 3 * 240
    assert rostered_minutes(roster, 0, 600) == 2 * 240 + 3 * 240


def test_issue_syntax_with_servers_and_roster_together():
    data = every_two_minutes(10)
    data["stations"][0].update(
        servers=2,
        roster=[
            {"from_min": 0, "to_min": 240, "servers": 2},
            {"from_min": 240, "to_min": 600, "servers": 3},
        ],
        breaks=[{"start_min": 120, "minutes": 30, "servers": 1}],
        capacity=4,
    )
    data["closing"] = {"at_min": 480}
    config = parse_center(data)
    station = config.stations[0]
    assert station.nominal_servers == 3 and station.capacity == 4
    assert config.closing.at_min == 480
    assert run_kpis(simulate_center(config, 1))["served"] == 10


@pytest.mark.parametrize(
    ("station", "message"),
    [
        ({"roster": [{"from_min": 10, "to_min": 5, "servers": 1}]}, "'to_min' must be after"),
        (
            {
                "roster": [
                    {"from_min": 0, "to_min": 60, "servers": 1},
                    {"from_min": 30, "to_min": 90, "servers": 2},
                ]
            },
            "must not overlap",
        ),
        (
            {"roster": [{"from_min": 0, "to_min": 60, "servers": -1}]},
            "'servers' must be an integer",
        ),
        ({"breaks": [{"start_min": 10, "minutes": 0}]}, "'minutes' must be > 0"),
        ({"breaks": [{"start_min": 10, "minutes": 5, "when": 1}]}, "unexpected key"),
        ({"break_rule": {"after_min": 240}}, "missing 'minutes'"),
        ({"roster": "2 then 3"}, "expected a list of tables"),
    ],
)
def test_bad_rosters_are_refused_in_one_line(station, message):
    data = every_two_minutes(3, **station)
    with pytest.raises(CenterConfigError, match=message) as info:
        parse_center(data)
    assert "\n" not in str(info.value)
