import numpy as np
import pytest

from simulations.national.opening_day import run_replications, simulate
from simulations.scenario.scenario import load_scenario


@pytest.fixture(scope="module")
def smoke_run(smoke_scenario):
    return simulate(smoke_scenario, 11)


def test_no_visitor_is_lost(smoke_run):
    """arrivals = booked + browsed + abandoned + still queued, active or due back."""
    assert smoke_run.kpis["lost_visitors"] == 0
    assert smoke_run.kpis["visitors"] > 10_000


def test_time_series_adds_up_to_the_kpis(smoke_run):
    ts = smoke_run.timeseries
    assert ts["arrivals"].sum() == smoke_run.kpis["visitors"]
    assert ts["bookings"].sum() == smoke_run.kpis["bookings"]
    assert ts["bookings"].max() == smoke_run.kpis["peak_bookings_per_min"]
    assert len(ts) == 60


def test_utilisations_and_shares_stay_in_range(smoke_run):
    ts = smoke_run.timeseries
    for column in ("web_utilisation", "db_utilisation", "centers_sold_out_share"):
        assert ts[column].between(0, 1).all(), column
    for kpi in ("abandonment", "booking_success", "conversion", "wr_renege_share"):
        assert 0 <= smoke_run.kpis[kpi] <= 1, kpi
    assert (ts["in_queue"] >= 0).all()
    assert (ts["slots_left"].diff().dropna() <= 0).all()  # no cancellations in smoke


def test_littles_law_holds_for_the_waiting_room(smoke_run):
    assert smoke_run.kpis["littles_law_gap"] < 1e-9
    assert smoke_run.kpis["wr_queue_max"] > 0  # the identity is not vacuous


def test_bookings_never_exceed_the_slots_on_offer(smoke_variant):
    scenario = smoke_variant("supply.slots_per_center_per_day=10")
    run = simulate(scenario, 3)
    assert run.kpis["slots_left_share"] == 0
    assert run.timeseries["slots_left"].min() == 0
    assert run.kpis["centers_sold_out_share"] == 1.0


def test_same_seed_gives_the_same_run_and_another_seed_does_not(smoke_variant):
    scenario = smoke_variant("duration_min=30")
    a, b, c = simulate(scenario, 5), simulate(scenario, 5), simulate(scenario, 6)
    assert a.kpis == b.kpis
    assert a.kpis["visitors"] != c.kpis["visitors"]


def test_the_same_seed_sequence_object_passed_twice_gives_the_same_run(smoke_variant):
    scenario = smoke_variant("duration_min=30")
    seq = np.random.SeedSequence(5)
    first, second = simulate(scenario, seq), simulate(scenario, seq)
    assert first.kpis == second.kpis
    assert first.timeseries.equals(second.timeseries)
    assert seq.n_children_spawned == 0  # not mutated: common random numbers survive reuse
    assert simulate(scenario, 5).kpis == first.kpis


def test_variants_share_arrivals_through_common_random_numbers(smoke_variant):
    base = smoke_variant("duration_min=30")
    faster = smoke_variant("duration_min=30", "platform.admission_rate_per_s=50")
    a, b = simulate(base, 9), simulate(faster, 9)
    assert a.timeseries["arrivals"].tolist() == b.timeseries["arrivals"].tolist()
    assert b.kpis["wr_wait_max_min"] < a.kpis["wr_wait_max_min"]


def test_without_a_waiting_room_nobody_waits_and_the_web_tier_overloads():
    scenario = load_scenario(
        "smoke", ["platform.waiting_room=false", "platform.web_workers=1", "duration_min=30"]
    )
    run = simulate(scenario, 2)
    assert run.kpis["wr_wait_max_min"] == 0
    assert run.kpis["web_utilisation_peak"] == pytest.approx(1.0)
    assert run.kpis["request_error_rate"] > 0.05
    assert run.kpis["retries"] > 0
    assert run.kpis["booking_success"] < 1


def test_more_patience_means_fewer_reneges(smoke_variant):
    impatient = simulate(smoke_variant("behaviour.wr_patience_mean_min=2", "duration_min=30"), 4)
    patient = simulate(smoke_variant("behaviour.wr_patience_mean_min=60", "duration_min=30"), 4)
    assert impatient.kpis["wr_renege_share"] > 2 * patient.kpis["wr_renege_share"]


def test_holds_during_checkout_prevent_taken_slots(smoke_variant):
    tight = ["supply.slots_per_center_per_day=20", "duration_min=30"]
    no_hold = simulate(smoke_variant(*tight, "supply.hold_slots_per_session=0"), 8)
    hold = simulate(smoke_variant(*tight, "supply.hold_slots_per_session=1"), 8)
    assert no_hold.timeseries["taken"].sum() > 0
    assert hold.timeseries["taken"].sum() == 0


def test_visitor_records_are_sampled_waiting_room_episodes(smoke_run, smoke_scenario):
    visitors = smoke_run.visitors
    assert len(visitors) == smoke_scenario.model.visitor_sample
    assert set(visitors["outcome"]) <= {"admitted", "reneged"}
    assert (visitors["wr_wait_min"] >= 0).all()
    assert visitors["wr_wait_min"].max() <= smoke_run.kpis["wr_wait_max_min"] + 1e-9


def test_replications_give_confidence_intervals(smoke_variant):
    reps = run_replications(smoke_variant("duration_min=20"), 3, seed=1)
    summary = reps.summary()
    assert len(reps.kpis) == 3
    row = summary.loc["bookings"]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert np.isfinite(row["ci_high"])
