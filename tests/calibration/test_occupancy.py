"""The app's speed per occupancy: the fit, the load-dependent station in FES and SimPy."""

import numpy as np
import pandas as pd
import pytest

from simulations.calibration.flow_equivalent import solve_closed
from simulations.calibration.network_sim import simulate_replications
from simulations.calibration.occupancy import fit_occupancy
from simulations.calibration.platform_network import PlatformNetwork, RouteDemand


def _levels(a_ms, b_ms, inside, util, wake_ms=0.0):
    d = [a_ms + b_ms * k + (wake_ms if k < 2 else 0.0) for k in inside]
    return pd.DataFrame(
        {
            "users": [int(np.ceil(k)) for k in inside],
            "throughput_per_s": [u / (x / 1000) for u, x in zip(util, d, strict=True)],
            "cpu_ms_per_request": d,
            "utilisation": util,
            "inside": inside,
            "inside_source": "scrape",
        }
    )


def test_fit_recovers_the_rising_branch_and_the_share_when_saturated():
    # a wake-up cost at one request inside, then 1.5 ms + 0.02 ms per request held
    table = _levels(1.5, 0.02, [1.0, 3.0, 7.0, 15.0], [0.5, 0.7, 0.7, 0.7], wake_ms=0.6)
    fit = fit_occupancy(table)
    assert fit.base_s * 1000 == pytest.approx(1.5, rel=1e-6)
    assert fit.per_request_s * 1000 == pytest.approx(0.02, rel=1e-6)
    assert fit.fit_users == (3, 7, 15)  # the wake-up level is left out
    assert fit.share == pytest.approx(0.7)
    assert fit.stretch_per_request == pytest.approx(0.02 / 1.52)


def test_fit_is_flat_when_cost_falls_and_full_speed_when_never_saturated():
    table = _levels(2.0, 0.0, [0.5, 1.0, 2.0], [0.2, 0.4, 0.8])
    table["cpu_ms_per_request"] = [2.2, 2.1, 2.0]
    fit = fit_occupancy(table)
    assert fit.per_request_s == 0.0 and fit.share == 1.0  # 2 inside: not saturated


def test_share_is_per_app_server():
    table = _levels(1.0, 0.0, [2.0, 6.0, 12.0], [1.2, 1.6, 1.6])
    assert fit_occupancy(table, workers=2).share == pytest.approx(0.8)
    assert fit_occupancy(table, workers=2, servers=1).share == pytest.approx(1.0)


@pytest.mark.parametrize("workers", [1, 2])
def test_load_dependent_station_fes_matches_simpy_and_slows_with_occupancy(workers):
    routes = (RouteDemand("a", 0.6, 0.002, 0.0), RouteDemand("b", 0.4, 0.003, 0.0))
    plain = PlatformNetwork(routes=routes, cores=1, workers=workers, database="sqlite")
    slow = PlatformNetwork(routes=routes, cores=1, workers=workers, database="sqlite",
                           cpu_slowdown=0.02)  # fmt: skip
    for users in (4, 24):
        x_plain = solve_closed(plain, users, 0.0).throughput_per_s
        x_slow = solve_closed(slow, users, 0.0).throughput_per_s
        stretch = 1 + 0.02 * (users / workers - 1)
        assert x_slow == pytest.approx(x_plain / stretch, rel=1e-6)  # all inside: exact
        runs = simulate_replications(slow, 2, 3, users=users, requests=8000)
        simulated = runs.query("route == 'all'")["throughput_per_s"].mean()
        assert simulated == pytest.approx(x_slow, rel=0.03)


def test_work_variability_moves_percentiles_not_means():
    def net(cv):
        r = RouteDemand("a", 1.0, 0.002, 0.0, work_cv=cv)
        return PlatformNetwork(routes=(r,), cores=1, workers=1, database="sqlite")

    out = {}
    for cv in (1.0, 0.3):
        runs = simulate_replications(net(cv), 2, 5, rate_per_s=300.0, requests=20000)
        out[cv] = runs.query("route == 'all'")[["mean_s", "p95_s"]].mean()
    assert out[0.3]["mean_s"] == pytest.approx(out[1.0]["mean_s"], rel=0.1)  # PS: insensitive
    assert out[0.3]["p95_s"] < 0.9 * out[1.0]["p95_s"]
    with pytest.raises(ValueError, match="work_cv"):
        RouteDemand("a", 1.0, 0.002, 0.0, work_cv=0.0)


def test_the_form_is_chosen_by_predicting_the_top_fit_level():
    inside = [3.0, 7.0, 15.0, 31.0]
    table = _levels(1.6, 0.0, inside, [0.8] * 4)
    table["cpu_ms_per_request"] = [1.6 + 0.15 * np.log(k) for k in inside]  # concave
    fit = fit_occupancy(table)
    assert fit.form == "log" and dict(fit.selection)["log"] < 1e-9
    assert fit.demand_s(31.0) * 1000 == pytest.approx(1.6 + 0.15 * np.log(31.0))
    assert fit.share == pytest.approx(0.8)  # the mean over the saturated levels
    table["cpu_ms_per_request"] = [1.6 + 0.01 * k for k in inside]  # straight
    assert fit_occupancy(table).form == "linear"


def test_log_stretch_fes_matches_simpy():
    routes = (RouteDemand("a", 1.0, 0.002, 0.0),)
    net = PlatformNetwork(routes=routes, cores=1, workers=1, database="sqlite",
                          cpu_slowdown=0.1, cpu_slowdown_form="log")  # fmt: skip
    x = solve_closed(net, 20, 0.0).throughput_per_s
    assert x == pytest.approx(1 / (0.002 * (1 + 0.1 * np.log(20))), rel=1e-6)
    runs = simulate_replications(net, 2, 3, users=20, requests=8000)
    assert runs.query("route == 'all'")["throughput_per_s"].mean() == pytest.approx(x, rel=0.03)
