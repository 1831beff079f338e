"""The SLO model: the `[slo]` table of a scenario, or a standalone file read by `load_slo`."""

from pathlib import Path

import pytest

from simulations.scenario import JourneySlo, ScenarioError, Slo, load_scenario, load_slo

GOOD = """\
[slo]
error_rate_max = 0.02
p95_ms = { book = 900.0, search = 400 }
p99_ms = { book = 2000.0 }

[slo.journey]
booking_success_min = 0.95
waiting_room_wait_max_s = 600.0
overbooked_max = 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slo.toml"
    path.write_text(text)
    return path


def test_a_standalone_file_loads_into_the_scenario_model(tmp_path):
    slo = load_slo(write(tmp_path, GOOD))
    assert slo == Slo(
        error_rate_max=0.02,
        p95_ms={"book": 900.0, "search": 400.0},
        p99_ms={"book": 2000.0},
        journey=JourneySlo(
            booking_success_min=0.95, waiting_room_wait_max_s=600.0, overbooked_max=0
        ),
    )
    assert slo.journey.abandonment_max == JourneySlo().abandonment_max  # unset: the default


def test_the_smoke_scenario_groups_the_journey_rules():
    slo = load_scenario("smoke").slo
    assert slo.journey.overbooked_max == 0
    assert 0 < slo.journey.booking_success_min <= 1
    assert set(slo.p99_ms) == set(slo.p95_ms)


def test_the_model_is_frozen():
    slo = Slo()
    with pytest.raises(ValueError, match="frozen"):
        slo.error_rate_max = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "latency_ms = 3\n", r"slo\.journey\.latency_ms: unknown key"),
        ("[slo]\nerror_rate = 0.1\n", r"slo\.error_rate: unknown key"),
        (
            "[slo]\noverbooked_max = 0\n",
            r"slo\.overbooked_max: unknown key \(it belongs in \[slo\.journey\]\)",
        ),
        ("[slo]\n[other]\nx = 1\n", r"other: unknown key"),
        ("[slos]\nerror_rate_max = 0.1\n", r"slos: unknown key"),
        ("error_rate_max = 0.1\n", r"error_rate_max: unknown key"),
        ("", r"slo: missing key"),
        ('[slo]\nerror_rate_max = "0.01"\n', r"slo\.error_rate_max: .*valid number"),
        ("[slo]\nerror_rate_max = 1.5\n", r"slo\.error_rate_max: .*less than or equal to 1"),
        ("[slo]\nerror_rate_max = nan\n", r"slo\.error_rate_max: .*finite"),
        ("[slo.journey]\noverbooked_max = 0.5\n", r"slo\.journey\.overbooked_max: .*valid integer"),
        (
            "[slo.journey]\noverbooked_max = true\n",
            r"slo\.journey\.overbooked_max: .*valid integer",
        ),
        ('[slo]\np95_ms = { " " = 100.0 }\n', r"slo\.p95_ms: empty request name"),
        ("[slo]\np99_ms = { book = -1.0 }\n", r"slo\.p99_ms\.book: must be a finite number >= 0"),
        ('[slo]\np99_ms = { book = "fast" }\n', r"slo\.p99_ms\.book: .*valid number"),
        ("[slo]\np95_ms = 800\n", r"slo\.p95_ms: .*valid dictionary"),
        ("[slo]\njourney = 1\n", r"slo\.journey: .*valid dictionary"),
        ("[slo\n", r"invalid TOML"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=message) as caught:
        load_slo(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"slo {path}: ")


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_slo(tmp_path / "absent.toml")


def test_a_scenario_rejects_the_old_flat_journey_keys_with_a_hint():
    with pytest.raises(ScenarioError, match=r"slo\.booking_success_min: unknown key.*slo\.journey"):
        load_scenario("smoke", ["slo.booking_success_min=0.9"])


def test_scenario_overrides_reach_the_journey_table():
    scenario = load_scenario("smoke", ["slo.journey.waiting_room_wait_max_s=60"])
    assert scenario.slo.journey.waiting_room_wait_max_s == 60.0


def test_the_sizing_reads_the_slo_as_targets_on_kpis_the_model_produces():
    from simulations.national.opening_day import simulate
    from simulations.sizing.platform import slo_targets

    scenario = load_scenario("smoke", ["slo.journey.waiting_room_wait_max_s=900"])
    targets = {str(t) for t in slo_targets(scenario.slo)}
    assert "wr_wait_max_min<=15" in targets
    assert f"abandonment<={scenario.slo.journey.abandonment_max:g}" in targets
    assert f"booking_success>={scenario.slo.journey.booking_success_min:g}" in targets
    kpis = simulate(scenario, seed=1).kpis
    assert {t.metric for t in slo_targets(scenario.slo)} <= set(kpis)


def test_latency_targets_take_any_request_name(tmp_path):
    """A user's journey names its own requests: no check against the reference routes."""
    (tmp_path / "slo.toml").write_text('[slo]\np95_ms = { "GET /api/v2/slots" = 250.0 }\n')
    assert load_slo(tmp_path / "slo.toml").p95_ms == {"GET /api/v2/slots": 250.0}
