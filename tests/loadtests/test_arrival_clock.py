import numpy as np
from scipy import stats

from loadtests.driver.arrival_clock import ArrivalClock
from loadtests.shapes.profile import steps


def test_constant_rate_gives_poisson_counts_and_exponential_gaps():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    times = np.array(ArrivalClock(lambda t: 80.0 if t < 100 else None, rng).schedule())
    # count: Poisson(8000) -> within 4 standard deviations
    assert abs(len(times) - 8000) < 4 * np.sqrt(8000)
    gaps = np.diff(times)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 80)).pvalue > 0.001
    counts = np.histogram(times, bins=100, range=(0, 100))[0]
    assert 0.7 < counts.var() / counts.mean() < 1.3  # Poisson: variance = mean


def test_time_varying_rate_follows_the_profile_step_by_step():
    profile = steps([5, 20, 50], hold_s=40, unit="arrivals_per_s")
    rng = np.random.default_rng(np.random.SeedSequence(12))
    times = np.array(ArrivalClock(profile.level_at, rng).schedule())
    for window, expected_rate in zip(profile.windows(), (5, 20, 50), strict=True):
        n = ((times >= window.start_s) & (times < window.end_s)).sum()
        expected = expected_rate * 40
        assert abs(n - expected) < 4 * np.sqrt(expected)
    assert times.max() < profile.duration_s


def test_zero_rate_produces_no_arrivals_until_it_rises():
    rng = np.random.default_rng(np.random.SeedSequence(13))
    clock = ArrivalClock(lambda t: (0.0 if t < 5 else 10.0) if t < 10 else None, rng)
    times = clock.schedule()
    assert times and min(times) >= 5
