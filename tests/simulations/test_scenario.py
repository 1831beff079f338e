from pathlib import Path

import pytest
from pydantic import ValidationError

from simulations.scenario.scenario import (
    ScenarioError,
    apply_overrides,
    list_scenarios,
    load_scenario,
    scenario_path,
)


def test_every_built_in_scenario_loads():
    names = list_scenarios()
    assert {"smoke", "france-2021-07-12"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.duration_min > 0
        assert scenario.description


def test_string_overrides_are_parsed_as_toml_values():
    scenario = load_scenario(
        "smoke", ["platform.admission_rate_per_s=500", "demand.book_share=0.1"]
    )
    assert scenario.platform.admission_rate_per_s == 500
    assert scenario.demand.book_share == 0.1


def test_dict_overrides_apply_to_a_loaded_scenario():
    scenario = apply_overrides(load_scenario("smoke"), {"supply.centers": 7})
    assert scenario.supply.centers == 7


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("platform.admission_rate_per_min=5", "platform.admission_rate_per_min"),
        ("demand.baseline_per_min=-1", "demand.baseline_per_min"),
        ("platform.web_workers='many'", "platform.web_workers"),
        ("nosuch.key=1", "nosuch"),
        ("supply.dose2_window_days.pfizer=[49, 21]", "supply.dose2_window_days.pfizer"),
        ("demand.delay_min=500", "demand.delay_min"),
        ("supply.vaccines={ pfizer = 0.5 }", "supply.vaccines"),
        ("slo.p95_ms={ book = -5.0 }", "slo.p95_ms"),
    ],
)
def test_bad_scenario_values_raise_an_error_naming_the_key(override, key):
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        load_scenario("smoke", [override])


def test_wrong_unit_suffix_suggests_the_right_key():
    with pytest.raises(ScenarioError, match="expected admission_rate_per_s"):
        load_scenario("smoke", ["platform.admission_rate_per_min=5"])


def test_missing_scenario_file_raises_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such built-in or file"):
        load_scenario(tmp_path / "absent.toml")


def test_a_copied_scenario_file_loads_with_a_platform_profile(tmp_path: Path):
    text = scenario_path("smoke").read_text()
    text = text.replace("[platform]\n", '[platform]\nprofile = "profile.toml"\n', 1)
    (tmp_path / "copy.toml").write_text(text)
    (tmp_path / "profile.toml").write_text("[platform]\nweb_workers = 3\ndb_connections = 2\n")
    scenario = load_scenario(tmp_path / "copy.toml", ["platform.db_connections=9"])
    assert scenario.platform.web_workers == 3  # the profile replaces the scenario's value
    assert scenario.platform.db_connections == 9  # overrides apply last


def test_invalid_toml_is_a_scenario_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        load_scenario(bad)


@pytest.mark.parametrize("section", [None, "demand", "platform", "supply"])
def test_scenarios_are_frozen(section):
    scenario = load_scenario("smoke")
    target = scenario if section is None else getattr(scenario, section)
    name = next(iter(type(target).model_fields))
    before = getattr(target, name)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(target, name, before)
    assert getattr(target, name) == before


def test_scaling_multiplies_visitors_capacity_and_centers():
    scenario = load_scenario("smoke", ["scale=2.0"]).scaled()
    base = load_scenario("smoke")
    assert scenario.demand.surge_visitors == 2 * base.demand.surge_visitors
    assert scenario.platform.admission_rate_per_s == 2 * base.platform.admission_rate_per_s
    assert scenario.supply.centers == 2 * base.supply.centers
