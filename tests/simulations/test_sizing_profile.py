"""`surge size platform --profile`: the calibrated platform in the national model, its booking
latency layer, and the search for admission rate, app workers and DB connections.

The profile fixture (`fixtures/calibrated_profile.toml`) was written by `surge calibrate` against
the reference app (its header gives the command)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from simulations.scenario.scenario import load_scenario
from simulations.sizing.calibrated import (
    _count_quantile,
    app_latency,
    connections_for,
    profile_overrides,
)
from surge.cli import main

PROFILE = Path(__file__).parent / "fixtures" / "calibrated_profile.toml"
# smoke, shortened, with targets the calibrated platform can meet and miss within the ranges
QUICK = [
    "--set", "duration_min=30", "--set", "model.visitor_sample=0",
    "--set", "slo.journey.abandonment_max=0.5", "--set", "slo.p95_ms.book=48",
]  # fmt: skip


def minutes(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_one_worker_booking_p95_is_the_mm1_sojourn_quantile():
    # M/M/1 FCFS: the response time is exponential with rate mu - lambda
    lam, service_s = 30.0, 0.02
    frame = minutes(
        origin_requests_per_s=[lam], web_utilisation=[lam * service_s], web_wait_s=[0.0],
        bookings=[10.0],
    )  # fmt: skip
    p95_ms, _ = app_latency(frame, workers=1, book_ms=service_s * 1000)
    assert p95_ms == pytest.approx(math.log(20) / (1 / service_s - lam) * 1000, rel=1e-6)


def test_backlog_shifts_the_p95_and_bookings_weight_the_minutes():
    base = {"origin_requests_per_s": [30.0, 30.0], "web_utilisation": [0.6, 0.6],
            "bookings": [10.0, 10.0]}  # fmt: skip
    calm, _ = app_latency(minutes(**base, web_wait_s=[0.0, 0.0]), 1, 20.0)
    shifted, _ = app_latency(minutes(**base, web_wait_s=[2.0, 2.0]), 1, 20.0)
    assert shifted - calm == pytest.approx(2000.0, rel=1e-6)
    busy = {**base, "web_utilisation": [0.6, 0.95]}
    mostly_calm, _ = app_latency(minutes(**busy, web_wait_s=[0, 0.0]), 1, 20.0)
    busy["bookings"] = [1.0, 100.0]
    mostly_busy, _ = app_latency(minutes(**busy, web_wait_s=[0, 0.0]), 1, 20.0)
    assert calm < mostly_calm < mostly_busy


def test_requests_in_the_app_quantile_is_the_mmc_count():
    assert _count_quantile(1, 0.5, 0.99) == 6  # P(N <= k) = 1 - 0.5^(k+1)
    assert _count_quantile(50, 0.0, 0.99) == 0
    assert 40 < _count_quantile(50, 40.0, 0.99) < 60


def test_the_national_model_takes_the_profile_capacities_and_the_numbered_line():
    overrides = profile_overrides(PROFILE)
    scenario = load_scenario("smoke", overrides)
    assert scenario.platform.db_ms == {}  # measured times include the database
    assert scenario.platform.waiting_room_line == "numbered"
    assert scenario.platform.web_workers == 1
    assert scenario.platform.db_connections == 20
    assert 1 < scenario.platform.service_ms["book"] < 1000
    assert load_scenario("smoke").platform.db_ms  # the default, which the profile replaces


def test_size_platform_from_the_profile(tmp_path, capsys):
    out = tmp_path / "size"
    argv = ["size", "platform", "--profile", str(PROFILE), "--scenario", "smoke", *QUICK,
            "--replications", "2", "--points", "3", "--refine", "2", "--processes", "1",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for label in ("admission rate", "app workers", "DB connections", "book_p95_ms<=48"):
        assert label in printed
    doc = json.loads((out / "calibrated_sizing.json").read_text())
    frame = pd.read_csv(out / "calibrated_sizing.csv")
    assert doc["reachable"] and doc["waiting_room_line"] == "numbered"
    rate, workers = doc["admission_rate_per_s"], doc["web_workers"]
    rates = frame[frame["step"] == "admission_rate"]
    passing = rates.loc[rates["meets_targets"], "platform.admission_rate_per_s"]
    failing = rates.loc[~rates["meets_targets"], "platform.admission_rate_per_s"]
    assert rate == passing.min() and (failing < rate).any()
    counts = frame[frame["step"] == "web_workers"].set_index("platform.web_workers")
    assert workers > 1 and counts.loc[workers, "meets_targets"]
    assert not counts.loc[workers - 1, "meets_targets"]  # the next smaller count breaches
    assert doc["web_workers_failing_below"] == workers - 1
    # one worker fails by its interval, not its mean: the search demands the whole interval
    assert counts.loc[workers - 1, "book_p95_ms<=48"] <= 48
    assert counts.loc[workers - 1, "book_p95_ms<=48 ci_high"] > 48
    assert doc["db_connections"] >= max(workers, doc["app_requests_peak"]["ci_high"])
    assert doc["db_connections"] % workers == 0
    for _, row in frame.iterrows():  # a value passes only when every interval is on its side
        met = []
        for target in doc["targets"]:
            if pd.isna(row.get(target)):
                continue
            limit = float(target.split("=")[-1])
            low, high = row[f"{target} ci_low"], row[f"{target} ci_high"]
            met.append(high <= limit if "<=" in target else low >= limit)
        assert row["meets_targets"] == all(met)
    for target, kpi in doc["at_answer"].items():
        limit = float(target.split("=")[-1])
        assert kpi["ci_high"] <= limit if "<=" in target else kpi["ci_low"] >= limit


def test_targets_out_of_reach_exit_1(tmp_path, capsys):
    out = tmp_path / "size"
    argv = ["size", "platform", "--profile", str(PROFILE), "--scenario", "smoke", *QUICK,
            "--set", "slo.journey.abandonment_max=0.05", "--replications", "2", "--points", "3",
            "--processes", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1
    assert "NOT REACHABLE: no platform.admission_rate_per_s" in capsys.readouterr().out
    doc = json.loads((out / "calibrated_sizing.json").read_text())
    assert not doc["reachable"] and doc["web_workers"] is None


@pytest.mark.parametrize(
    ("profile_text", "message"),
    [
        (None, "no such file"),
        ("[platform\n", "not valid TOML"),
        ("[calibration]\nx = 1\n", "no [platform] table"),
        ("[platform]\nweb_workers = 1\ndb_connections = 2\n", "lacks service_ms"),
        (
            "[platform]\nweb_workers = 1\ndb_connections = 2\nservice_ms = { book = 9.0 }\n",
            "no time for availability, search",
        ),
    ],
)
def test_bad_profile_is_one_line_and_exit_2(tmp_path, capsys, profile_text, message):
    path = tmp_path / "profile.toml"
    if profile_text is not None:
        path.write_text(profile_text)
    argv = ["size", "platform", "--profile", str(path), "--scenario", "smoke", "--quiet",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_knob_does_not_go_with_profile(tmp_path, capsys):
    argv = ["size", "platform", "--profile", str(PROFILE), "--scenario", "smoke",
            "--knob", "platform.web_workers", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    assert "--knob does not go with --profile" in capsys.readouterr().err
    assert main(["size", "platform", "--scenario", "smoke", "--out", str(tmp_path)]) == 2


def test_connections_cover_the_peak_per_worker_and_no_more_than_its_threads():
    assert connections_for((8463.0, 6541.0, 10390.0), workers=390) == 27 * 390
    assert connections_for((0.2, 0.1, 0.3), workers=4) == 4  # one per worker at least
    assert connections_for((100.0, 90.0, 50_000.0), workers=10) == 40 * 10  # a thread each
    assert connections_for((5.0, math.nan, math.nan), workers=2) == 6  # one replication
    assert connections_for((math.nan, math.nan, math.nan), workers=3) == 3  # no load at all
