"""What-ifs: one knob at a time with common random numbers, a staggered opening by cohort, and
scenario files that read back to the same scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.national.opening_day import simulate
from simulations.national.what_if import knob_variants, staggered_opening
from simulations.scenario.scenario import load_scenario, write_scenario


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke", {"model.tick_s": 15.0})


def test_knob_variants_give_one_row_per_value_and_the_base_value_matches_a_plain_run(smoke):
    base_rate = smoke.platform.admission_rate_per_s
    frame = knob_variants(smoke, "platform.admission_rate_per_s", [base_rate / 4, base_rate], 3)
    assert list(frame["platform.admission_rate_per_s"]) == [base_rate / 4, base_rate]
    assert {"bookings", "wr_wait_p95_min", "taken", "no_slot", "errors"} <= set(frame.columns)
    assert frame.loc[1, "bookings"] == simulate(smoke, 3).kpis["bookings"]  # same seed, same run
    # admitting a quarter of the rate makes visitors wait longer
    assert frame.loc[0, "wr_wait_p95_min"] > frame.loc[1, "wr_wait_p95_min"]


def test_a_staggered_opening_splits_demand_and_carries_booked_slots_over(smoke):
    evenings = staggered_opening(smoke, 3, seed=5)
    assert list(evenings["evening"]) == [1, 2, 3]
    fill = list(evenings["initial_fill_share"])
    assert fill[0] == pytest.approx(smoke.supply.initial_fill_share)
    assert fill == sorted(fill) and fill[2] > fill[0]  # earlier evenings' bookings are gone
    with pytest.raises(ValueError, match="cohorts"):
        staggered_opening(smoke, 0, seed=5)


def test_a_written_scenario_reads_back_the_same(smoke, tmp_path: Path):
    path = write_scenario(smoke, tmp_path / "sub" / "copy.toml", "# a copy\n")
    assert path.read_text().startswith("# a copy\n")
    assert load_scenario(str(path)) == smoke
