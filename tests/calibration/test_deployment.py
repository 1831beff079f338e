"""The calibrated deployment: demands by the utilisation law, limits as deployed, network levels."""

import numpy as np
import pytest

from simulations.calibration.deployment import Deployment, predict_network_levels, route_demands_s
from simulations.calibration.flow_equivalent import solve_closed
from simulations.calibration.profile import PlatformProfile, RouteProfile
from simulations.calibration.service_time import fit_family
from simulations.calibration.usl import UslModel


@pytest.fixture
def profile() -> PlatformProfile:
    rng = np.random.default_rng(np.random.SeedSequence(5))
    return PlatformProfile(
        usl=UslModel(lambda_per_s=60.0, sigma=0.0, kappa=0.0),
        routes=(
            RouteProfile("search", 0.5, fit_family(rng.exponential(0.010, 400), "gamma")),
            RouteProfile("book", 0.5, fit_family(rng.exponential(0.030, 400), "gamma")),
        ),
    )


def test_the_deployed_pool_is_pool_size_plus_overflow_per_worker():
    d = Deployment(cores=2, workers=3, database="postgresql", pool_size=10, max_overflow=10)
    assert d.db_connections == 60
    assert d.servers == 2
    assert d.as_record()["single_writer"] is False
    assert Deployment(cores=2).as_record()["single_writer"] is True
    with pytest.raises(ValueError, match="workers"):
        Deployment(cores=2, workers=0)


def test_the_network_caps_requests_inside_at_the_pool_or_the_threads(profile):
    demands = route_demands_s(profile, peak_throughput_per_s=1.0, servers=1).demands_s
    shares = {"search": 0.5, "book": 0.5, "unknown": 0.2}
    pg = Deployment(cores=2, workers=2, database="postgresql", pool_size=2, max_overflow=0)
    assert pg.network(demands, shares).concurrency_limit == 4
    assert Deployment(cores=2, workers=2).network(demands, shares).concurrency_limit == 80
    net = pg.network(demands, shares)
    assert [r.name for r in net.routes] == ["book", "search"]  # no demand: left out
    assert net.shares.sum() == pytest.approx(1.0)


def test_client_demands_are_capped_by_the_measured_peak(profile):
    mean_client = sum(r.share * r.service.mean_s for r in profile.routes)
    found = route_demands_s(profile, peak_throughput_per_s=2 / mean_client, servers=1)
    assert found.source == "client"
    net = Deployment(cores=2).network(found.demands_s, {"search": 0.5, "book": 0.5})
    # The flow-equivalent model's saturated throughput is then the measured peak.
    assert solve_closed(net, 200, 0.0).throughput_per_s == pytest.approx(2 / mean_client, 1e-3)
    with pytest.raises(ValueError, match="peak"):
        route_demands_s(profile, peak_throughput_per_s=0.0, servers=1)


def test_network_levels_rise_towards_the_bound_and_p95_grows(profile):
    found = route_demands_s(profile, peak_throughput_per_s=1.0, servers=1)
    net = Deployment(cores=2).network(found.demands_s, {"search": 0.5, "book": 0.5})
    table = predict_network_levels(net, [1, 4, 16], think_s=0.05, replications=1, requests=800)
    x = table["network_throughput_per_s"].to_numpy()
    assert np.all(np.diff(x) > 0) and x[-1] <= 1 / float(net.mean_demands_s.sum()) + 1e-9
    assert np.all(np.diff(table["network_p95_ms"].to_numpy()) > 0)


def test_a_scenario_including_a_profile_adds_no_default_db_time(profile, tmp_path):
    from simulations.calibration.profile import write_profile
    from simulations.scenario.scenario import load_scenario, scenario_path

    write_profile(profile, tmp_path / "profile.toml")
    text = scenario_path("smoke").read_text(encoding="utf-8")
    scenario = tmp_path / "s.toml"
    scenario.write_text(text.replace("[platform]", '[platform]\nprofile = "profile.toml"', 1))
    assert load_scenario("smoke").platform.db_ms  # the default adds DB time on top
    platform = load_scenario(str(scenario)).platform
    assert platform.db_ms == {}
    assert platform.work_s({"book": 1.0}, "db_ms") == 0.0
    assert platform.service_ms["book"] == pytest.approx(profile.routes[1].service.mean_s * 1000)
