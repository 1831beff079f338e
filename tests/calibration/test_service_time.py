import numpy as np
import pytest

from simulations.calibration.service_time import fit_family, fit_service_time, from_record


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(7))


@pytest.mark.parametrize(
    ("family", "draw", "mean_s"),
    [
        ("lognormal", lambda r: r.lognormal(np.log(0.010), 0.6, 4000), 0.010 * np.exp(0.18)),
        ("gamma", lambda r: r.gamma(2.5, 0.004, 4000), 0.010),
        ("exponential", lambda r: r.exponential(0.020, 4000), 0.020),
        ("weibull", lambda r: 0.03 * r.weibull(0.7, 4000), 0.03 * 1.2658),
    ],
)
def test_fit_picks_the_family_samples_were_drawn_from(rng, family, draw, mean_s):
    best, fits = fit_service_time(draw(rng))
    assert best.family == family
    assert best.ks_pvalue > 0.01
    assert abs(best.mean_s - mean_s) / mean_s < 0.05
    assert [f.aic for f in fits] == sorted(f.aic for f in fits)


def test_normal_samples_fit_the_normal_well_and_reject_the_exponential(rng):
    x = rng.normal(0.050, 0.004, 4000)
    best, fits = fit_service_time(x)
    by_family = {f.family: f for f in fits}
    # A gamma of shape ~150 is indistinguishable from this normal: AIC within 4 of the best.
    assert by_family["normal"].aic - best.aic < 4
    assert by_family["normal"].ks_pvalue > 0.01
    assert by_family["exponential"].ks_pvalue < 1e-6


def test_record_round_trip_gives_the_same_distribution(rng):
    fit = fit_family(rng.gamma(3.0, 0.002, 500), "gamma")
    again = from_record(fit.as_record())
    assert again == fit
    assert abs(float(np.mean(again.sample(rng, 20_000))) - fit.mean_s) / fit.mean_s < 0.03


def test_too_few_or_non_positive_samples_are_rejected():
    with pytest.raises(ValueError, match="at least 10"):
        fit_service_time([0.01] * 5)
    with pytest.raises(ValueError, match="> 0"):
        fit_service_time([0.01] * 20 + [0.0])
    with pytest.raises(ValueError, match="unknown service-time family"):
        fit_family(np.ones(20), "cauchy")
