import math

import numpy as np
import pytest

from simulations.calibration.closed_loop import simulate_level
from simulations.calibration.mva import solve_load_dependent
from simulations.calibration.prediction import predict_levels
from simulations.calibration.profile import PlatformProfile, RouteProfile
from simulations.calibration.service_time import fit_family
from simulations.calibration.usl import UslModel


@pytest.fixture
def profile() -> PlatformProfile:
    rng = np.random.default_rng(np.random.SeedSequence(3))
    search = fit_family(rng.lognormal(np.log(0.008), 0.5, 2000), "lognormal")
    book = fit_family(rng.gamma(2.0, 0.012, 2000), "gamma")
    return PlatformProfile(
        usl=UslModel(lambda_per_s=100.0, sigma=0.05, kappa=0.001),
        routes=(RouteProfile("search", 0.7, search), RouteProfile("book", 0.3, book)),
    )


def _machine_repairman_throughput(users: int, mu: float, think_s: float) -> float:
    """Finite-source M/M/1//N: p0 = 1 / sum_n N!/(N-n)! (1/(mu Z))^n, X = mu (1 - p0)."""
    r = 1.0 / (mu * think_s)
    total = sum(math.factorial(users) / math.factorial(users - n) * r**n for n in range(users + 1))
    return mu * (1.0 - 1.0 / total)


def test_mva_matches_the_machine_repairman_formula_for_a_constant_rate():
    results = solve_load_dependent(12, lambda j: 50.0, think_s=0.1)
    for r in results:
        expected = _machine_repairman_throughput(r.users, 50.0, 0.1)
        assert math.isclose(r.throughput_per_s, expected, rel_tol=1e-9)
        assert math.isclose(r.users, r.throughput_per_s * (0.1 + r.mean_response_s), rel_tol=1e-9)


def test_mva_without_think_time_gives_the_station_rate_at_n():
    usl = UslModel(lambda_per_s=100.0, sigma=0.05, kappa=0.001)
    for r in solve_load_dependent(30, usl.throughput):
        assert math.isclose(r.throughput_per_s, usl.throughput(r.users), rel_tol=1e-9)


@pytest.mark.parametrize(("users", "think_s"), [(1, 0.0), (25, 0.0), (25, 0.08)])
def test_simulation_matches_exact_mva_throughput_and_mean_latency(profile, users, think_s):
    """Processor sharing is insensitive: MVA is exact for the mean whatever the distribution."""
    exact = solve_load_dependent(users, profile.usl.throughput, think_s)[-1]
    reps = [
        simulate_level(profile, users, seed=s, requests=8000, think_s=think_s)
        for s in np.random.SeedSequence(11).spawn(6)
    ]
    x = np.array([r.throughput_per_s for r in reps])
    mean_ms = np.array([r.mean_ms for r in reps])
    half = 2.571 * x.std(ddof=1) / np.sqrt(len(x))  # t(0.975, 5)
    assert abs(x.mean() - exact.throughput_per_s) <= max(half, 0.02 * exact.throughput_per_s)
    assert (
        abs(mean_ms.mean() - exact.mean_response_s * 1000) / (exact.mean_response_s * 1000) < 0.03
    )


def test_simulation_is_reproducible_for_a_seed_and_latencies_are_ordered(profile):
    a = simulate_level(profile, 10, seed=np.random.SeedSequence(5), requests=3000)
    b = simulate_level(profile, 10, seed=np.random.SeedSequence(5), requests=3000)
    assert a == b
    assert 0 < a.p50_ms <= a.p95_ms <= a.p99_ms
    # Littles law in the closed loop without think time: N = X * R.
    assert math.isclose(10, a.throughput_per_s * a.mean_ms / 1000, rel_tol=0.03)


def test_predict_levels_gives_one_row_per_level_with_usl_and_mva_alongside(profile):
    table = predict_levels(profile, [2, 8], replications=2, requests=3000, seed=1)
    assert list(table["users"]) == [2, 8]
    assert table["sim_p95_ms"].gt(table["sim_p50_ms"]).all()
    assert np.allclose(table["usl_throughput_per_s"], profile.usl.throughput(np.array([2, 8])))
    assert np.allclose(table["mva_throughput_per_s"], table["usl_throughput_per_s"])
    with pytest.raises(ValueError, match="positive"):
        predict_levels(profile, [0, 4])


def test_unequal_shares_keep_throughput_and_widen_latency_only_under_load(profile):
    seed = np.random.SeedSequence(21)
    equal = simulate_level(profile, 12, seed=seed, requests=6000, share_dispersion=0.0)
    unequal = simulate_level(profile, 12, seed=seed, requests=6000, share_dispersion=0.8)
    assert math.isclose(equal.throughput_per_s, unequal.throughput_per_s, rel_tol=0.04)
    assert unequal.p95_ms > 1.1 * equal.p95_ms
    alone = [
        simulate_level(
            profile, 1, seed=np.random.SeedSequence(4), requests=2000, share_dispersion=d
        )
        for d in (0.0, 0.8)
    ]
    assert math.isclose(alone[0].p95_ms, alone[1].p95_ms, rel_tol=1e-9)


def test_share_dispersion_fit_recovers_a_known_dispersion(profile):
    """Steps simulated with dispersion 0.6 (a synthetic check of the estimator, not a measurement)."""
    import pandas as pd

    from simulations.calibration.calibrate import fit_share_dispersion

    rows = []
    for users, s in zip((2, 4, 8, 16), np.random.SeedSequence(8).spawn(4), strict=True):
        r = simulate_level(profile, users, seed=s, requests=6000, share_dispersion=0.6)
        rows.append({"users": users, "mean_ms": r.mean_ms, "p95_ms": r.p95_ms})
    fitted = fit_share_dispersion(profile, pd.DataFrame(rows), requests=3000, seed=1)
    assert abs(fitted - 0.6) <= 0.15 + 1e-9
