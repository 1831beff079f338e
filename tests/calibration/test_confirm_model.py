"""The predict-then-confirm model: the visit mix, demands by the utilisation law, rate search."""

import numpy as np
import pandas as pd
import pytest

from simulations.calibration.confirm import ConfirmModel, VisitMix, find_rate, verdict
from simulations.calibration.profile import PlatformProfile, RouteProfile
from simulations.calibration.service_time import fit_family
from simulations.calibration.usl import UslModel

JOURNEY = ["register", "register", "queue_join", "queue_poll", "search", "availability", "book"]


def _profile(means_s: dict[str, float]) -> PlatformProfile:
    rng = np.random.default_rng(np.random.SeedSequence(3))
    share = 1.0 / len(means_s)
    return PlatformProfile(
        usl=UslModel(lambda_per_s=50.0, sigma=0.0, kappa=0.0),
        routes=tuple(
            RouteProfile(name, share, fit_family(rng.exponential(mean, 400), "gamma"))
            for name, mean in means_s.items()
        ),
    )


@pytest.fixture
def mix() -> VisitMix:
    return VisitMix.from_requests(pd.Series(JOURNEY * 50))


def test_visit_mix_counts_requests_per_queued_visitor_and_what_a_leaver_sends(mix):
    assert mix.per_admitted["register"] == 2.0
    assert mix.per_admitted["book"] == 1.0
    assert mix.per_abandoned == {"queue_join": 1.0, "register": 1.0, "queue_poll": 1.0}
    rates = mix.route_rates(admission_per_s=10.0, arrival_per_s=12.0)
    assert rates["book"] == pytest.approx(10.0)
    assert rates["register"] == pytest.approx(2 * 10.0 + 2.0)
    assert rates["queue_join"] == pytest.approx(12.0)


def test_visit_mix_needs_a_run_where_visitors_queued():
    with pytest.raises(ValueError, match="waiting room on"):
        VisitMix.from_requests(pd.Series(["search", "book"] * 30))


def test_demands_are_capped_by_the_utilisation_law_and_keep_their_ratios(mix):
    profile = _profile({r: 0.010 for r in set(JOURNEY)} | {"book": 0.030})
    client = {r.name: r.service.mean_s for r in profile.routes}
    mean_client = sum(r.share * r.service.mean_s for r in profile.routes)
    peak = 2.0 / mean_client  # the measured peak says a request can use half its client time
    model = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=peak, cores=2)
    mean = sum(r.share * model.demands_s[r.name] for r in profile.routes)
    assert mean == pytest.approx(1 / peak)  # min(cores, workers) = 1 server
    assert model.demands_s["book"] / model.demands_s["search"] == pytest.approx(
        client["book"] / client["search"]
    )
    slow = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=0.1, cores=2)
    assert slow.demands_s == pytest.approx(client)  # the bound does not bind: client times
    assert slow.demand_source == "client"
    cpu = ConfirmModel.from_profile(
        profile, mix, peak_throughput_per_s=peak, cores=2, cpu_s_per_request=0.002
    )
    assert cpu.demand_source == "telemetry"
    assert sum(r.share * cpu.demands_s[r.name] for r in profile.routes) == pytest.approx(0.002)


def test_capacity_is_one_over_the_mean_demand_with_one_worker(mix):
    profile = _profile({r: 0.010 for r in set(JOURNEY)})
    model = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=1.0, cores=2)
    net, _ = model.network(5.0, 6.0)
    assert model.capacity_per_s(5.0, 6.0) == pytest.approx(1 / float(net.mean_demands_s.sum()))


@pytest.mark.slow
def test_find_rate_brackets_the_slo_below_and_above(mix):
    profile = _profile({r: 0.020 for r in set(JOURNEY)})
    model = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=1.0, cores=2)
    kwargs = {"arrival_multiple": 1.2, "duration_s": 30.0, "replications": 2, "seed": 1}
    rate_ok, p95_ok = find_rate(model, 0.75 * 1000.0, tolerance=0.02, **kwargs)
    rate_bad, p95_bad = find_rate(model, 1.3 * 1000.0, tolerance=0.02, **kwargs)
    assert rate_ok < rate_bad
    assert p95_ok == pytest.approx(750.0, rel=0.25)
    assert p95_bad == pytest.approx(1300.0, rel=0.25)
    capacity = model.capacity_per_s(1.0, 1.2) / model.network(1.0, 1.2)[1]
    assert 0.5 * capacity < rate_ok < 1.2 * capacity


def test_verdict_is_ok_met_then_bad_missed():
    assert verdict([{"slo_met": True}, {"slo_met": False}])
    assert not verdict([{"slo_met": True}, {"slo_met": True}])
    assert not verdict([{"slo_met": False}, {"slo_met": False}])
    with pytest.raises(ValueError):
        verdict([{"slo_met": True}])


def test_the_numbered_line_admits_fewer_visitors_than_the_room_rate_when_patience_is_short(mix):
    profile = _profile({r: 0.010 for r in set(JOURNEY)})
    patient = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=1.0, cores=2)
    assert patient.admitted_per_s(4.0, 4.8, 60.0) == 4.0
    hurried = ConfirmModel.from_profile(
        profile, mix, peak_throughput_per_s=1.0, cores=2, patience_s=10.0
    )
    admitted = hurried.admitted_per_s(4.0, 4.8, 60.0)
    assert 0.3 * 4.0 < admitted < 0.95 * 4.0
    assert hurried.admitted_per_s(4.0, 4.8, 60.0) == admitted  # seeded


def test_a_core_share_slows_the_app_station_and_the_generator_is_a_station_of_its_own(mix):
    profile = _profile({r: 0.010 for r in set(JOURNEY)})
    full = ConfirmModel.from_profile(profile, mix, peak_throughput_per_s=1.0, cores=2)
    half = full.with_shares(0.5, None)
    assert half.capacity_per_s(5.0, 6.0) == pytest.approx(0.5 * full.capacity_per_s(5.0, 6.0))
    # A generator pinned apart: its own station, whose capacity binds once it is the slower one.
    rig = ConfirmModel.from_profile(
        profile, mix, peak_throughput_per_s=1.0, cores=2, loadgen_cpu_s=0.004,
        loadgen_share=0.2, loadgen_servers=1,
    )  # fmt: skip
    net, _ = rig.network(5.0, 6.0)
    assert [s.name for s in net.stations] == ["cpu", "writer", "loadgen"]
    assert rig.capacity_per_s(5.0, 6.0) == pytest.approx(1 / 0.020)  # 4 ms / 0.2 of a core
    assert rig.with_shares(None, 1.0).capacity_per_s(5.0, 6.0) == pytest.approx(
        full.capacity_per_s(5.0, 6.0)
    )
    with pytest.raises(ValueError, match="app_share"):
        full.with_shares(0.0, None)


def test_the_line_admits_all_of_r_at_first_then_fewer_as_waits_outgrow_patience(mix):
    profile = _profile({r: 0.010 for r in set(JOURNEY)})
    model = ConfirmModel.from_profile(
        profile, mix, peak_throughput_per_s=1.0, cores=2, patience_s=10.0
    )
    steps = model.admission_profile(10.0, 12.0, 60.0)
    rates = [rate for _, rate in steps]
    assert steps[-1][0] == 60.0 and len(steps) == 12
    assert 0.9 * 10.0 < rates[0] <= 10.0 and rates == sorted(rates, reverse=True)
    admitted = sum(rate * 5.0 for rate in rates)
    assert admitted == pytest.approx(model.admitted_per_s(10.0, 12.0, 60.0) * 60.0, rel=0.03)
    # Near capacity (about 11.5 admissions/s here), front-loaded admissions build a backlog
    # early: a much higher p95 than the same mean admissions spread evenly.
    mean = model.admitted_per_s(14.0, 16.8, 60.0)
    even = model.predict_p95_ms_at(mean, 16.8, 60.0, replications=1)
    assert model.predict_p95_ms(14.0, 16.8, 60.0, replications=1) > 1.5 * even
