"""Seeded golden output: the smoke scenario's per-minute series must not drift unnoticed.

Regenerate deliberately (after a reviewed model change) with:
    .venv/bin/python tests/simulations/test_golden_smoke.py
"""

from pathlib import Path

import pandas as pd
import pytest

from simulations.national.opening_day import simulate
from simulations.scenario.scenario import load_scenario

GOLDEN = Path(__file__).parents[1] / "golden" / "smoke_seed42_timeseries.csv"
COLUMNS = [
    "minute",
    "arrivals",
    "returns",
    "admitted",
    "reneged",
    "in_queue",
    "bookings",
    "no_slot",
    "taken",
    "errors",
    "retries",
    "deferrals",
    "slots_left",
    "wr_wait_mean_min",
    "web_utilisation",
]


def golden_frame() -> pd.DataFrame:
    run = simulate(load_scenario("smoke"), 42)
    return run.timeseries[COLUMNS].round(6)


def assert_matches_golden(actual: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        pd.read_csv(GOLDEN),
        check_dtype=False,
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.fixture(scope="module")
def smoke_series() -> pd.DataFrame:
    return golden_frame()


def test_smoke_run_matches_the_golden_series(smoke_series):
    assert_matches_golden(smoke_series)
    assert smoke_series["bookings"].sum() > 0


@pytest.mark.parametrize("column", ["arrivals", "bookings", "in_queue"])
def test_the_simulated_smoke_series_is_not_trivial(smoke_series, column):
    assert smoke_series[column].max() > 0


def test_the_golden_comparison_catches_a_different_run():
    """Another seed's run must not pass as the golden one (the comparison has teeth)."""
    other = simulate(load_scenario("smoke"), 43).timeseries[COLUMNS].round(6)
    with pytest.raises(AssertionError):
        assert_matches_golden(other)


if __name__ == "__main__":
    golden_frame().to_csv(GOLDEN, index=False)
    print(f"wrote {GOLDEN}")
