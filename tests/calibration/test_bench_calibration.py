"""`surge bench calibration`: the per-run lines counted against issue 13's targets."""

import json
import subprocess
import sys

import pytest

from surge.bench.calibration import read_lines, summarise


def _validate(seed, x_err, p95_err, ratio_err, backend="sqlite"):
    config = {"config": "workers=2", "predicted_ratio": 1.0, "measured_ratio": None if ratio_err is None else 1.0 / (1 + ratio_err),
              "ratio_error": ratio_err, "measured_utilisation_ratio": 1.0,
              "measured_demand_ratio": 1.0, "predicted_demand_ratio": 1.0}  # fmt: skip
    return {"kind": "validate", "backend": backend, "seed": seed, "load_average_1m": 1.0,
            "figures": {"throughput_error": 0.3, "p95_error": 0.0,
                        "network_throughput_error": x_err, "network_p95_error": p95_err,
                        "configurations": [config]}}  # fmt: skip


def _confirm(seed, confirmed, ok_err, backend="sqlite"):
    return {"kind": "confirm", "backend": backend, "seed": seed, "load_average_1m": 1.0,
            "figures": {"confirmed": confirmed, "ok_p95_error": ok_err}}  # fmt: skip


def test_a_run_counts_only_when_every_part_of_its_target_is_met():
    lines = [
        _validate(0, 0.05, 0.20, 0.10),
        _validate(1, 0.11, 0.20, -0.14),  # throughput just outside 10 %
        _validate(2, 0.05, -0.26, 0.16),  # p95 just outside 25 %, ratio outside 15 %
        _validate(3, -0.10, 0.25, None),  # on the bounds; a ratio not measured
        _confirm(0, True, 0.24),
        _confirm(1, True, 0.30),  # held, but the R_ok p95 is 30 % off
        _confirm(2, False, 0.01),  # not held
        _validate(0, 0.5, 0.5, 0.5, backend="postgresql"),
    ]
    s = summarise(lines)
    sqlite = s["sqlite"]
    assert sqlite["validate_runs"] == 4 and sqlite["held_out_level_network_within"] == 2
    assert sqlite["held_out_level_usl_within"] == 0
    (config,) = sqlite["configurations"]
    assert config["runs"] == 4 and config["ratio_within_15pct"] == 2
    assert sqlite["confirm_runs"] == 3 and sqlite["confirm_held"] == 2
    assert sqlite["confirm_held_and_ok_p95_within_25pct"] == 1
    assert s["postgresql"]["held_out_level_network_within"] == 0
    assert "confirm_runs" not in s["postgresql"]


def test_lines_are_read_back_from_runs_jsonl(tmp_path):
    assert read_lines(tmp_path) == []
    (tmp_path / "runs.jsonl").write_text(json.dumps(_confirm(0, True, 0.1)) + "\n\n")
    assert read_lines(tmp_path)[0]["figures"]["confirmed"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backends", "mysql"], "unknown ['mysql']"),
        (["--kinds", "guess"], "unknown ['guess']"),
    ],
)
def test_bad_options_exit_2_with_a_message(tmp_path, args, message):
    done = subprocess.run(
        [sys.executable, "-m", "surge", "bench", "--results", str(tmp_path), "calibration",
         *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_report_only_rebuilds_the_record_from_the_lines(tmp_path):
    runs = tmp_path / "calibration-runs"
    cmd = [sys.executable, "-m", "surge", "bench", "--results", str(tmp_path), "calibration",
           "--report-only"]  # fmt: skip
    empty = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "no runs in" in empty.stderr
    runs.mkdir()
    (runs / "runs.jsonl").write_text(json.dumps(_confirm(0, True, 0.1)) + "\n")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "calibration.json").read_text())
    assert record["figures"]["by_backend"]["sqlite"]["confirm_held"] == 1
    assert "sqlite: confirm held 1/1" in done.stdout
