"""`validate` puts the platform network (limits as deployed) beside the USL for each level."""

import json

import pytest

from loadtests.calibration import StepPlan, started_app, validate

pytestmark = pytest.mark.slow


def test_validation_json_keeps_its_keys_and_gains_the_network_predictions(tmp_path):
    with started_app("sqlite", tmp_path, workers=1, postgres_url=None) as (url, meta):
        assert meta["db_connections"] == meta["db_pool_size"] + meta["db_max_overflow"]
        validate(tmp_path / "v", StepPlan((1, 2, 3, 4), hold_s=4.0, settle_s=1.0), host=url,
                 replications=1, requests=2000, bootstrap_replicates=10)  # fmt: skip
    doc = json.loads((tmp_path / "v" / "validation.json").read_text())
    (level,) = doc["levels"]
    for key in ("throughput_error", "p95_error", "network_throughput_error", "network_p95_error"):
        assert isinstance(level[key], float)
    assert level["network_throughput"] > 0 and level["network_p95_ms"] > 0
    network = doc["network"]
    assert network["demand_source"] == "client"  # no telemetry.csv in this run
    assert network["deployment"]["single_writer"] is True
    assert set(network["demands_ms"]) >= {"search", "availability", "book"}
    assert [row["users"] for row in doc["network_levels"]] == [1, 2, 3, 4]


def test_held_out_configurations_are_served_measured_and_scored(tmp_path):
    from loadtests.configurations import parse_config

    configs = [parse_config("workers=2"), parse_config("pool=2")]
    result = validate(tmp_path / "v", StepPlan((1, 2, 3, 4), hold_s=4.0, settle_s=1.0, passes=1),
                      backend="sqlite", replications=1, requests=2000, bootstrap_replicates=10,
                      configs=configs)  # fmt: skip
    doc = json.loads((tmp_path / "v" / "validation.json").read_text())
    assert doc["network"]["occupancy"]["share"] > 0  # telemetry: the speed per occupancy
    assert [c["config"] for c in doc["configurations"]] == ["workers=2", "pool=2"]
    workers, pool = doc["configurations"]
    assert workers["deployment"]["workers"] == 2 and workers["deployment"]["db_connections"] == 40
    assert pool["deployment"]["pool_size"] == 1 and pool["deployment"]["db_connections"] == 2
    for c in doc["configurations"]:
        assert c["load"] == 4 and c["measured_throughput"] > 0 and c["predicted_throughput"] > 0
        measured = c["measured_throughput"] / result.records[0]["measured_throughput"]
        assert c["measured_ratio"] == pytest.approx(measured)
        assert c["measured_utilisation_ratio"] * c["measured_demand_ratio"] == pytest.approx(
            c["measured_ratio"], rel=0.1
        )  # X = U / D per run (windows differ slightly: telemetry vs requests)
        run = json.loads((tmp_path / "v" / "configs" / str(configs.index(
            parse_config(c["config"])) + 1) / "run" / "run.json").read_text())  # fmt: skip
        assert run["config"] == c["config"]
    assert result.configurations == doc["configurations"]
