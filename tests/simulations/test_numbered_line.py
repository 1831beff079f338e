"""The national waiting room as the app's numbered line, and admission-rate schedules."""

import numpy as np
import pytest

from simulations.national.waiting_room import AdmissionSchedule, WaitingRoom


def _room(numbered: bool, patience_s: float = 10.0, seed: int = 7) -> WaitingRoom:
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    return WaitingRoom(1, patience_s, rng, numbered_line=numbered)


def _run(room: WaitingRoom, arrivals_per_s: float, rate_per_s: float, seconds: int) -> int:
    """Arrivals and admissions once a second for `seconds`; returns visitors admitted."""
    admitted = 0
    for t in range(1, seconds + 1):
        room.join(float(t), np.array([int(arrivals_per_s)]))
        admitted += int(room.admit(float(t), int(rate_per_s)).sum())
    return admitted


def test_a_departed_visitors_ticket_still_uses_its_admission():
    room = _room(numbered=True, patience_s=5.0)
    room.join(0.0, np.array([100]))
    room.renege(5.0)  # about 63% leave
    gone = room.reneged
    assert 0 < gone < 100
    assert room.tickets == 100 and room.length == 100 - gone
    admitted = room.admit(5.0, 50)
    # 50 numbers come up: some belonged to departed visitors, so fewer than 50 get in.
    assert admitted.sum() + room.spent_on_departed == 50
    assert room.spent_on_departed > 0
    assert room.tickets == 50
    admitted_rest = room.admit(5.0, 1000)
    assert room.admitted == 100 - gone == admitted.sum() + admitted_rest.sum()
    assert room.tickets == room.length == 0


def test_the_numbered_line_admits_fewer_visitors_than_the_fifo_of_those_still_there():
    fifo, numbered = _room(numbered=False), _room(numbered=True)
    n_fifo = _run(fifo, arrivals_per_s=12, rate_per_s=10, seconds=300)
    n_numbered = _run(numbered, arrivals_per_s=12, rate_per_s=10, seconds=300)
    assert n_fifo == pytest.approx(10 * 300, rel=0.01)  # the room spends every admission
    assert n_numbered < 0.95 * n_fifo  # some admissions go to tickets whose visitor left
    assert numbered.admitted + numbered.spent_on_departed == pytest.approx(10 * 300, rel=0.01)
    # Everyone accounted for: admitted, reneged, or still waiting.
    assert numbered.admitted + numbered.reneged + numbered.length == numbered.joined


def test_without_departures_both_lines_are_the_same():
    a = _room(numbered=False, patience_s=float("inf"), seed=3)
    b = _room(numbered=True, patience_s=float("inf"), seed=3)
    assert _run(a, 12, 10, 50) == _run(b, 12, 10, 50) == 500
    assert b.spent_on_departed == 0


def test_admission_schedule_rates_and_numbers_due():
    s = AdmissionSchedule([[0, 10.0], [60, 20.0], [120, 0.0]])
    assert s.rate_at(0) == 10.0 and s.rate_at(59.9) == 10.0 and s.rate_at(60) == 20.0
    assert s.rate_at(1e6) == 0.0
    assert s.due(30) == pytest.approx(300)
    assert s.due(90) == pytest.approx(600 + 600)
    assert s.due(500) == pytest.approx(600 + 1200)


@pytest.mark.parametrize(
    "points",
    [[], [[5, 1.0]], [[0, 1.0], [0, 2.0]], [[0, -1.0]], [[0, float("nan")]], [["soon", 1.0]]],
)
def test_bad_schedules_are_one_clear_error(points):
    with pytest.raises(ValueError, match="admission schedule"):
        AdmissionSchedule(points)


def test_the_opening_day_model_follows_the_numbered_line_and_the_schedule():
    from simulations.national.opening_day import simulate
    from simulations.scenario.scenario import load_scenario

    base = ["platform.admission_rate_per_s=4.0", "behaviour.wr_patience_mean_min=3.0"]
    fifo = simulate(load_scenario("smoke", base), seed=1)
    numbered = simulate(
        load_scenario("smoke", [*base, 'platform.waiting_room_line="numbered"']), seed=1
    )
    assert numbered.kpis["abandonment"] > fifo.kpis["abandonment"]
    slow_then_fast = load_scenario(
        "smoke", [*base, "platform.admission_schedule=[[0, 1.0], [1800, 8.0]]"]
    )
    assert slow_then_fast.platform.admission_rate_at(0) == 1.0
    assert slow_then_fast.platform.admission_rate_at(1800) == 8.0
    with pytest.raises(ValueError, match="admission schedule"):
        load_scenario("smoke", ["platform.admission_schedule=[[5, 1.0]]"])


def test_the_expected_admissions_match_the_simulated_line_and_grow_with_the_rate():
    from simulations.national.waiting_room import expected_line_admissions, line_admissions

    seeds = np.random.SeedSequence(11).spawn(20)
    simulated = np.mean(
        [
            line_admissions(
                6.0, AdmissionSchedule([[0, 5.0]]), 10.0, 60.0, np.random.default_rng(s)
            ).admitted  # fmt: skip
            for s in seeds
        ]
    )
    expected = expected_line_admissions(6.0, 5.0, 10.0, 60.0)
    assert expected == pytest.approx(simulated, rel=0.15)
    assert expected < 5.0 * 60
    rates = np.linspace(2.0, 8.0, 25)
    admitted = [expected_line_admissions(1.2 * r, r, 10.0, 60.0) for r in rates]
    assert np.all(np.diff(admitted) > 0)
    assert expected_line_admissions(4.0, 5.0, 10.0, 60.0) == 240  # no line: everyone admitted
