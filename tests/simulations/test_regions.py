"""Regions (`[regions]`): visitors keep a home department, search within a travel bound, and
sell-out is local. Regions off is the national model unchanged: test_golden_smoke.py."""

from __future__ import annotations

import pandas as pd
import pytest

from simulations.national.opening_day import simulate
from simulations.scenario.regions import Regions, all_departments, distance_km
from simulations.scenario.scenario import ScenarioError, load_scenario
from surge.cli import main

# Marseille (13) is ~660 km from Paris (75); Nanterre (92) is ~11 km from Paris.
THREE = '["13", "75", "92"]'


def run(*overrides: str, seed: int = 5) -> tuple[dict[str, float], pd.DataFrame]:
    sc = load_scenario(
        "smoke",
        ["duration_min=40", "supply.centers=12", f"regions.departments={THREE}", *overrides],
    )
    result = simulate(sc, seed)
    return result.kpis, result.regions.set_index("department")


def test_the_committed_table_has_the_101_departments_and_sane_distances():
    table = all_departments()
    assert len(table) == 101
    by = {d.code: d for d in table}
    assert 5 < distance_km(by["75"], by["92"]) < 20
    assert 600 < distance_km(by["75"], by["13"]) < 700


def test_every_department_conserves_its_bookers_and_sums_to_the_national_figures():
    kpis, df = run("regions.travel_km=50")
    assert (df["bookers"] > 100).all()
    assert (df["bookers"] == df["bookings"] + df["abandoned"] + df["in_system"]).all()
    assert df["visitors"].sum() == kpis["visitors"]
    assert df["bookings"].sum() == kpis["bookings"]
    assert kpis["lost_visitors"] == 0
    assert (df["unmet"] == df["abandoned"] + df["in_system"]).all()


def test_a_department_without_supply_sells_out_at_once_and_books_only_within_reach():
    _, home_only = run('regions.no_supply=["75"]', "regions.travel_km=0")
    paris = home_only.loc["75"]
    assert paris["centers"] == 0 and paris["sellout_min"] == 0
    assert paris["bookers"] > 100 and paris["bookings"] == 0
    assert home_only.loc["13", "bookings"] > 0
    _, nearby = run('regions.no_supply=["75"]', "regions.travel_km=50")
    assert nearby.loc["75", "bookings"] > 0  # Parisians book in Nanterre
    assert nearby.loc["75", "reach"] == 2 and nearby.loc["13", "reach"] == 1


def test_retries_and_deferrals_keep_their_department():
    """Parisians with nowhere to go fail again and again at home: every return of theirs is
    counted as another failure of Paris, never as a booking or failure elsewhere."""
    kpis, df = run('regions.no_supply=["75"]', "regions.travel_km=0", "behaviour.defer_share=0.9")
    paris = df.loc["75"]
    assert kpis["returns"] > 0
    assert paris["no_slot"] > 1.2 * (paris["bookers"] - paris["in_system"])
    assert paris["bookings"] == 0
    assert (df["bookers"] == df["bookings"] + df["abandoned"] + df["in_system"]).all()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('regions.departments=["00"]', "unknown department '00'"),
        ('regions.no_supply=["13", "75", "92"]', "at least one department needs centres"),
        ("regions.travel_km=-1", "regions.travel_km"),
    ],
)
def test_bad_regions_name_the_key(override, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario("smoke", [f"regions.departments={THREE}", override])


def test_a_campaign_refuses_regions():
    with pytest.raises(ScenarioError, match="regions"):
        load_scenario("smoke-campaign", ["regions.travel_km=10"])


def test_regions_reach_is_bounded_by_travel_km():
    regions = Regions(travel_km=80)
    codes = [d.code for d in regions.table()]
    reach = regions.reach()[codes.index("75")]
    assert {codes[i] for i in reach} >= {"75", "92", "93", "94"}
    assert "13" not in {codes[i] for i in reach}
    assert regions.reach()[codes.index("974")] == [codes.index("974")]  # La Reunion: alone


def test_sim_run_writes_regions_csv_and_plot(tmp_path, capsys):
    code = main(
        [
            "sim",
            "run",
            "--scenario",
            "smoke",
            "--seed",
            "3",
            "--set",
            "duration_min=20",
            "--set",
            f"regions.departments={THREE}",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    df = pd.read_csv(tmp_path / "regions.csv", dtype={"department": str})
    assert list(df["department"]) == ["13", "75", "92"]
    assert (tmp_path / "regions.png").stat().st_size > 0
    assert "departments_unmet_share_max" in pd.read_csv(tmp_path / "kpis.csv").columns
