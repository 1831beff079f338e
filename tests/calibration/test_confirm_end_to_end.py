"""`surge calibrate --confirm`, short and loose: the real figures come from the benchmark."""

import json

import pytest

from surge.cli import main

RUN_KEYS = {
    "admission_rate",
    "arrival_rate",
    "predicted_p95_ms",
    "measured_p95_ms",
    "slo_p95_ms",
    "slo_met",
}


@pytest.mark.slow
def test_confirm_calibrates_predicts_two_rates_and_runs_both(tmp_path):
    out = tmp_path / "confirm"
    code = main(
        ["calibrate", "--confirm", "--start-app", "sqlite", "--out", str(out),
         "--levels", "1,2,4,8", "--hold", "8s", "--duration", "15s",
         "--replications", "1", "--bootstrap", "10"]
    )  # fmt: skip
    doc = json.loads((out / "confirm.json").read_text())
    assert set(doc) == {"admission_rate", "runs"}
    ok, bad = doc["runs"]
    assert set(ok) == set(bad) == RUN_KEYS
    assert doc["admission_rate"] == ok["admission_rate"] < bad["admission_rate"]
    assert ok["predicted_p95_ms"] < ok["slo_p95_ms"] < bad["predicted_p95_ms"]
    for run in (ok, bad):
        assert run["arrival_rate"] == pytest.approx(1.2 * run["admission_rate"])
        assert run["measured_p95_ms"] > 0
        assert run["slo_met"] == (run["measured_p95_ms"] <= run["slo_p95_ms"])
    assert code == (0 if ok["slo_met"] and not bad["slo_met"] else 4)
    model = json.loads((out / "model.json").read_text())
    assert model["demand_source"] == "telemetry"  # the calibration run wrote telemetry.csv
    assert model["capacity_admissions_per_s"] > 0
    # The rig as measured: the app's and the generator's core shares (schedstat), the
    # generator a station of its own (pinned apart), and each run re-predicted at the
    # admissions and shares it delivered.
    assert 0 < model["app_core_share"] <= 1 and 0 < model["loadgen_core_share"] <= 1
    assert model["loadgen_station"] and model["loadgen_ms_per_request"] > 0
    for got in model["delivered"]:
        assert 0 < got["app_core_share"] <= 1
        assert got["predicted_p95_ms_at_delivered_shares"] > 0
    assert (out / "profile.toml").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["--confirm", "--validate", "--start-app", "sqlite"],
        ["--confirm"],  # neither --start-app nor --host
        ["--confirm", "--start-app", "sqlite", "--levels", "1,2"],
        ["--confirm", "--start-app", "sqlite", "--arrival-multiple", "0.9"],
        ["--confirm", "--start-app", "sqlite", "--scenario", "no-such-scenario"],
    ],
)
def test_confirm_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    assert main(["calibrate", *argv, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "c" / "confirm.json").exists()
