"""The app's residence per request from a synthetic scrape.csv of its /metrics histogram."""

import json

import pandas as pd
import pytest

from simulations.calibration.residence import level_residence, mean_residence_s, run_open_demand_s

METRIC = "surge_http_request_duration_seconds"


def _scrape(seconds: int, per_s: float, residence_s: float, harness_s: float = 0.5) -> pd.DataFrame:
    rows = []
    for t in range(seconds + 1):
        for route, n, r in (("/queue", per_s, residence_s), ("/metrics", 1.0, harness_s)):
            labels = json.dumps({"method": "GET", "route": route})
            rows.append({"elapsed_s": float(t), "target": "x", "metric": f"{METRIC}_count",
                         "labels": labels, "value": n * t})  # fmt: skip
            rows.append({"elapsed_s": float(t), "target": "x", "metric": f"{METRIC}_sum",
                         "labels": labels, "value": n * t * r})  # fmt: skip
    return pd.DataFrame(rows)


def test_mean_residence_leaves_out_the_harness_and_pools_windows():
    scrape = _scrape(20, per_s=10.0, residence_s=0.004)
    assert mean_residence_s(scrape, [(2.0, 8.0), (12.0, 18.0)]) == pytest.approx(0.004)
    assert mean_residence_s(scrape[scrape["metric"] == "up"], [(2.0, 8.0)]) is None


def test_an_open_run_is_inverted_as_one_processor_sharing_station(tmp_path):
    per_s, residence = 50.0, 0.010  # R = D / (1 - X D) with D = 5 ms
    _scrape(40, per_s, residence).to_csv(tmp_path / "scrape.csv", index=False)
    (tmp_path / "plan.json").write_text(json.dumps({"telemetry_start_epoch_s": 1000.0}))
    (tmp_path / "summary.json").write_text(
        json.dumps({"test_start_epoch_s": 1002.0, "duration_s": 30.0})
    )
    assert run_open_demand_s(tmp_path) == pytest.approx(residence / (1 + per_s * residence))
    assert run_open_demand_s(tmp_path / "missing") is None


def test_level_residence_is_completions_and_residence_over_that_levels_windows(tmp_path):
    quiet, busy = _scrape(20, per_s=10.0, residence_s=0.004), _scrape(20, 80.0, 0.100)
    busy["elapsed_s"] += 21.0  # the second level, 21-41 s; counters carry on from the first
    last = quiet[quiet["elapsed_s"] == 20.0].set_index(["metric", "labels"])["value"]
    busy["value"] += [last[(m, lab)] for m, lab in zip(busy["metric"], busy["labels"], strict=True)]
    pd.concat([quiet, busy]).to_csv(tmp_path / "scrape.csv", index=False)
    (tmp_path / "run.json").write_text(json.dumps({"telemetry_start_epoch_s": 1000.0}))
    steps = pd.DataFrame({"users": [1, 16], "window_start_s": [1002.0, 1023.0],
                          "end_s": [1020.0, 1041.0]})  # fmt: skip
    assert level_residence(tmp_path, steps, 1) == pytest.approx((10.0, 0.004))
    assert level_residence(tmp_path, steps, 16) == pytest.approx((80.0, 0.100))
