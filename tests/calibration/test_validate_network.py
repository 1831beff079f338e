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
