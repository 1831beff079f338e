import math

import numpy as np
import pytest

from simulations.calibration.usl import UslModel, fit_coefficients, fit_usl

# Cisco benchmark (concurrency, throughput) from Baron Schwartz, "Practical Scalability Analysis
# with the Universal Scalability Law" (VividCortex, 2015), with the book's fitted coefficients:
# sigma 0.02671591, kappa 7.690945e-4, lambda 995.6486, N* 35, X(N*) 12341. Same data and values
# in codahale/usl4j src/test/java/com/codahale/usl4j/tests/ModelTest.java.
# source: docs/sources.md#usl-cisco-benchmark
CISCO = [
    (1, 955.16), (2, 1878.91), (3, 2688.01), (4, 3548.68), (5, 4315.54), (6, 5130.43),
    (7, 5931.37), (8, 6531.08), (9, 7219.8), (10, 7867.61), (11, 8278.71), (12, 8646.7),
    (13, 9047.84), (14, 9426.55), (15, 9645.37), (16, 9897.24), (17, 10097.6), (18, 10240.5),
    (19, 10532.39), (20, 10798.52), (21, 11151.43), (22, 11518.63), (23, 11806), (24, 12089.37),
    (25, 12075.41), (26, 12177.29), (27, 12211.41), (28, 12158.93), (29, 12155.27),
    (30, 12118.04), (31, 12140.4), (32, 12074.39),
]  # fmt: skip

# SPEC SDM91 on a 16-CPU Sun SPARCcenter 2000 (users, scripts/hour), from N. J. Gunther,
# "Guerrilla Capacity Planning" (Springer, 2007), shipped as `specsdm91` in the R package usl
# (github.com/smoeding/usl); its README publishes the nls fit: sigma 0.0277285,
# kappa 0.0001044, lambda (gamma) 89.9952330, and tests/peak-scalability.Rout.save gives N* 97.
# source: docs/sources.md#usl-specsdm91
SPECSDM91 = [(1, 64.9), (18, 995.9), (36, 1652.4), (72, 1853.2), (108, 1828.9), (144, 1775.0),
             (216, 1702.2)]  # fmt: skip


def _close(expected: float, actual: float, rel: float) -> bool:
    return math.isclose(actual, expected, rel_tol=rel)


def test_fit_reproduces_the_published_cisco_coefficients():
    n, x = np.array(CISCO).T
    m = fit_coefficients(n, x)
    assert _close(0.02671591, m.sigma, 2e-4)
    assert _close(7.690945e-4, m.kappa, 2e-4)
    assert _close(995.6486, m.lambda_per_s, 2e-4)
    assert math.floor(m.peak_concurrency) == 35
    assert _close(12341, m.max_throughput, 2e-4)


def test_fit_reproduces_the_published_specsdm91_coefficients():
    n, x = np.array(SPECSDM91).T
    m = fit_coefficients(n, x)
    assert _close(0.0277285, m.sigma, 1e-3)
    assert _close(0.0001044, m.kappa, 1e-3)
    assert _close(89.9952330, m.lambda_per_s, 1e-4)
    assert round(m.peak_concurrency) == 97  # R: signif(peak.scalability(u), 2) == 97


def test_fit_recovers_known_parameters_from_noisy_synthetic_data_within_bootstrap_interval():
    truth = UslModel(lambda_per_s=120.0, sigma=0.08, kappa=0.002)
    rng = np.random.default_rng(np.random.SeedSequence(42))
    levels = np.repeat([1, 2, 4, 8, 16, 24, 32, 48], 4)
    x = truth.throughput(levels) * rng.normal(1.0, 0.02, size=len(levels))
    fit = fit_usl(levels, x, bootstrap_replicates=200, rng=rng)
    assert fit.sigma_ci[0] <= truth.sigma <= fit.sigma_ci[1]
    assert fit.kappa_ci[0] <= truth.kappa <= fit.kappa_ci[1]
    assert fit.lambda_ci[0] <= truth.lambda_per_s <= fit.lambda_ci[1]
    assert fit.peak_concurrency_ci[0] <= truth.peak_concurrency <= fit.peak_concurrency_ci[1]
    assert fit.r_squared > 0.98
    assert _close(truth.max_throughput, fit.model.max_throughput, 0.03)


def test_noiseless_synthetic_data_is_fitted_exactly():
    truth = UslModel(lambda_per_s=50.0, sigma=0.3, kappa=0.0)
    levels = np.array([1, 2, 5, 10, 20, 40])
    m = fit_coefficients(levels, truth.throughput(levels))
    assert _close(truth.sigma, m.sigma, 1e-6)
    assert m.kappa < 1e-9
    assert m.peak_concurrency > 1e4  # no retrograde region: the asymptote lambda/sigma
    assert _close(50.0 / 0.3, UslModel(50.0, 0.3, 0.0).max_throughput, 1e-12)


def test_peak_concurrency_is_sqrt_of_one_minus_sigma_over_kappa_and_is_the_maximum():
    m = UslModel(lambda_per_s=10.0, sigma=0.1, kappa=0.001)
    n_star = m.peak_concurrency
    assert _close(math.sqrt(0.9 / 0.001), n_star, 1e-12)
    grid = np.linspace(1, 200, 4000)
    assert m.max_throughput >= float(np.max(m.throughput(grid))) - 1e-9


def test_latency_follows_littles_law():
    m = UslModel(lambda_per_s=100.0, sigma=0.05, kappa=0.001)
    assert _close(20 / m.throughput(20), float(m.latency_s(20)), 1e-12)
    assert _close(20 / m.throughput(20) - 0.5, float(m.latency_s(20, think_s=0.5)), 1e-12)


@pytest.mark.parametrize(
    ("n", "x", "message"),
    [
        ([1, 2], [1.0, 2.0], "at least 3"),
        ([1, 1, 1, 1], [1.0, 1.1, 1.0, 0.9], "at least 3"),
        ([1, 2, 4], [1.0, -2.0, 3.0], "> 0"),
        ([0, 2, 4], [1.0, 2.0, 3.0], "> 0"),
        ([1, 2, 4], [1.0, 2.0], "same length"),
    ],
)
def test_fit_rejects_unusable_data_with_a_clear_message(n, x, message):
    with pytest.raises(ValueError, match=message):
        fit_coefficients(n, x)


def test_kappa_is_dropped_when_the_data_show_no_coherency_delay():
    """Amdahl data (kappa = 0) plus noise: the bootstrap interval for kappa reaches 0, so the
    fit falls back to kappa = 0 instead of extrapolating noise into a retrograde curve."""
    truth = UslModel(lambda_per_s=20.0, sigma=0.3, kappa=0.0)
    rng = np.random.default_rng(np.random.SeedSequence(9))
    levels = np.repeat([1, 2, 4, 6, 8, 12], 5)
    x = truth.throughput(levels) * rng.normal(1.0, 0.04, size=len(levels))
    fit = fit_usl(levels, x, bootstrap_replicates=100, rng=rng)
    assert fit.kappa_dropped and fit.model.kappa == 0.0
    assert fit.sigma_ci[0] <= truth.sigma <= fit.sigma_ci[1]
    assert math.isinf(fit.model.peak_concurrency) and math.isinf(fit.peak_concurrency_ci[1])
    kept = fit_usl(levels, UslModel(20.0, 0.05, 0.01).throughput(levels) * x / truth.throughput(levels),
                   bootstrap_replicates=100, rng=rng)  # fmt: skip
    assert not kept.kappa_dropped and kept.kappa_ci[0] > 0
