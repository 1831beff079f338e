import numpy as np
import pytest

from simulations.calibration.profile import (
    PlatformProfile,
    RouteProfile,
    read_profile,
    write_profile,
)
from simulations.calibration.service_time import fit_family
from simulations.calibration.usl import UslModel


@pytest.fixture
def profile() -> PlatformProfile:
    rng = np.random.default_rng(np.random.SeedSequence(1))
    return PlatformProfile(
        usl=UslModel(lambda_per_s=80.0, sigma=0.04, kappa=0.0005),
        routes=(
            RouteProfile("search", 0.6, fit_family(rng.lognormal(-4.5, 0.4, 300), "lognormal")),
            RouteProfile("book", 0.4, fit_family(rng.gamma(2.0, 0.01, 300), "gamma")),
        ),
        web_workers=2,
        db_connections=8,
        calibration={"run_dir": "results/x", "levels": [1, 2, 4], "peak": float("inf")},
    )


def test_profile_round_trips_through_toml(profile, tmp_path):
    path = write_profile(profile, tmp_path / "profile.toml")
    again = read_profile(path)
    assert again.usl == profile.usl
    assert again.routes == profile.routes
    assert (again.web_workers, again.db_connections) == (2, 8)
    assert again.calibration["levels"] == [1, 2, 4]
    assert "[calibration.usl]" in path.read_text()


def test_national_scenario_reads_the_profile_platform_table_directly(profile, tmp_path):
    from simulations.scenario.scenario import load_scenario, scenario_path

    write_profile(profile, tmp_path / "profile.toml")
    text = scenario_path("smoke").read_text(encoding="utf-8")
    assert "[platform]" in text
    calibrated = tmp_path / "calibrated.toml"
    calibrated.write_text(text.replace("[platform]", '[platform]\nprofile = "profile.toml"', 1))
    scenario = load_scenario(str(calibrated))
    assert scenario.platform.web_workers == 2
    assert scenario.platform.db_connections == 8
    search_ms = profile.routes[0].service.mean_s * 1000
    assert abs(scenario.platform.service_ms["search"] - search_ms) < 1e-9
    assert load_scenario("smoke").platform.service_ms["search"] != search_ms


def test_missing_or_malformed_profile_gives_a_clear_error(profile, tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_profile(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[platform\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_profile(bad)
    text = write_profile(profile, tmp_path / "p.toml").read_text()
    (tmp_path / "p2.toml").write_text(text.replace("sigma =", "sigmas ="))
    with pytest.raises(ValueError, match="missing key 'sigma'"):
        read_profile(tmp_path / "p2.toml")


def test_route_shares_must_sum_to_one(profile):
    with pytest.raises(ValueError, match="sum to"):
        PlatformProfile(usl=profile.usl, routes=profile.routes[:1])
