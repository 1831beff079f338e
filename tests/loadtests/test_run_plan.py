from pathlib import Path

import pytest

from loadtests.plan import RunOptions, locust_command, plan_run


def options(**kw) -> RunOptions:
    return RunOptions(scenario="smoke", out_dir=Path("/tmp/out"), start_app="sqlite", **kw)  # noqa: S108 - an option value never written to


def test_no_users_or_rate_replays_the_scenario_scaled_and_compressed(smoke_scenario):
    plan = plan_run(options(scale=0.005, compress=120), smoke_scenario)
    assert plan.model == "open" and plan.profile.kind == "replay"
    assert plan.duration_s == pytest.approx(smoke_scenario.duration_min * 60 / 120)
    assert plan.expected_arrivals == pytest.approx(plan.profile.integral())
    assert plan.waiting_room_rate_per_s == pytest.approx(
        smoke_scenario.platform.admission_rate_per_s * 0.005 * 120
    )
    # patience and back-off are compressed like the clock
    assert plan.behaviour.wr_patience_s == pytest.approx(
        smoke_scenario.behaviour.wr_patience_mean_min * 60 / 120
    )


def test_rate_gives_an_open_soak_and_users_a_closed_ramp(smoke_scenario):
    plan = plan_run(options(rate=12.0, duration="45s"), smoke_scenario)
    assert (plan.model, plan.profile.kind, plan.profile.unit) == ("open", "soak", "arrivals_per_s")
    assert plan.duration_s == 45 and plan.waiting_room_rate_per_s == 0
    plan = plan_run(options(users=20), smoke_scenario)
    assert (plan.model, plan.profile.kind, plan.profile.unit) == ("closed", "ramp", "users")
    assert plan.duration_s == 60 and plan.profile.peak == 20


def test_steps_take_levels_and_hold(smoke_scenario):
    plan = plan_run(
        options(users=1, shape="steps", levels="5,10,20,40", hold="30s"), smoke_scenario
    )
    assert [w.level for w in plan.profile.windows()] == [5, 10, 20, 40]
    assert plan.duration_s == 120


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"users": 5, "rate": 2.0}, "not both"),
        ({"users": 5, "shape": "replay"}, "replay"),
        ({"rate": 2.0, "shape": "steps"}, "--levels"),
        ({"rate": 2.0, "shape": "zigzag"}, "unknown --shape"),
        ({"rate": 2.0, "duration": "soon"}, "invalid duration"),
        ({"workers": -1}, "--locust-workers"),
    ],
)
def test_inconsistent_options_are_rejected_with_a_clear_message(smoke_scenario, kw, message):
    with pytest.raises(ValueError, match=message):
        plan_run(options(**kw), smoke_scenario)


def test_host_and_start_app_are_exclusive(smoke_scenario):
    with pytest.raises(ValueError, match="exactly one"):
        plan_run(RunOptions(scenario="smoke", out_dir=Path("/x")), smoke_scenario)


def test_locust_commands_for_open_closed_and_distributed_runs(smoke_scenario):
    open_plan = plan_run(options(rate=5.0, workers=2), smoke_scenario)
    master = locust_command(open_plan, "http://h", Path("/o"), "master", 5599)
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "2"
    assert master[master.index("--arrival-users") + 1] == "2"
    assert master[master.index("-u") + 1] == "4"  # 2 drivers + CenterAdmin + Practitioner
    worker = locust_command(open_plan, "http://h", Path("/o"), "worker", 5599)
    assert "--worker" in worker and "--headless" not in worker
    closed = locust_command(plan_run(options(users=3), smoke_scenario), "http://h", Path("/o"))
    assert closed[closed.index("-f") + 1].split(",")[0].endswith("loadtests/journeys/locustfile.py")
    assert closed[-3:] == ["CenterAdmin", "Patient", "Practitioner"]
    assert master[-3:] == ["PatientArrivals", "CenterAdmin", "Practitioner"]
    assert "locust_shape.py" in closed[closed.index("-f") + 1]
    assert "-t" not in closed  # the shape ends the run


def test_waiting_room_rate_overrides_the_scenario_and_zero_turns_it_off(smoke_scenario):
    assert (
        plan_run(options(rate=12.0, waiting_room_rate=3.5), smoke_scenario).waiting_room_rate_per_s
        == 3.5
    )
    replay = plan_run(options(scale=0.005, compress=120, waiting_room_rate=0.0), smoke_scenario)
    assert replay.waiting_room_rate_per_s == 0.0
    with pytest.raises(ValueError, match="--waiting-room-rate"):
        plan_run(options(rate=12.0, waiting_room_rate=-1.0), smoke_scenario)


def test_behaviour_fields_override_the_scenario_behaviour(smoke_scenario):
    plan = plan_run(options(users=4, behaviour=(("journey_pause_s", (0.0, 0.0)),)), smoke_scenario)
    assert plan.behaviour.journey_pause_s == (0.0, 0.0)
    assert plan.behaviour.retry_max == smoke_scenario.behaviour.retry_max
