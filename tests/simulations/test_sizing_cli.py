"""`surge sim center`, `surge size` and `surge sweep` from the command line: files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simulations.scenario.scenario import scenario_path
from surge.cli import main

MMC = """
[arrivals]
kind = "poisson"
rate_per_hour = 540
open_minutes = 600
[[stations]]
name = "desk"
servers = 1
service = {dist = "exponential", mean = 1.0}
"""


@pytest.fixture
def mmc_config(tmp_path) -> Path:
    path = tmp_path / "mmc.toml"
    path.write_text(MMC)
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_sim_center_writes_summary_with_intervals_and_plot(tmp_path):
    out = tmp_path / "gp"
    assert (
        main(["sim", "center", "--center", "gp-practice", "--replications", "3", "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    for key in ("arrived", "no_shows", "served", "abandoned", "throughput_per_hour"):
        assert isinstance(summary[key], float)
    assert set(summary["time_in_system_min"]) == {"mean", "median", "p90"}
    vaccination = summary["stations"]["vaccination"]
    for key in (
        "utilisation_offered",
        "utilisation_busy",
        "mean_wait_min",
        "p_wait",
        "mean_queue_length",
        "bottleneck",
    ):
        assert key in vaccination
    low, high = summary["ci95"]["served"]
    assert low <= summary["served"] <= high
    assert (out / "queue_lengths.png").stat().st_size > 10_000
    assert len(pd.read_csv(out / "replications.csv")) == 3


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ('{dist = "gamma", mean = 2}', "unknown distribution 'gamma'"),
        ('{dist = "exponential", mean = -2}', "must not be negative"),
        ('{dist = "lognormal", mean = 2}', "needs sd"),
    ],
)
def test_sim_center_bad_distribution_is_one_line_and_exit_2(tmp_path, capsys, service, message):
    path = tmp_path / "bad.toml"
    path.write_text(MMC.replace('{dist = "exponential", mean = 1.0}', service))
    assert main(["sim", "center", "--center", str(path), "--out", str(tmp_path / "o")]) == 2
    line = error_line(capsys)
    assert line.startswith("surge: error: station 'desk' service") and message in line


def test_size_center_exact_answer_and_files(mmc_config, tmp_path, capsys):
    out = tmp_path / "size"
    code = main(
        [
            "size",
            "center",
            "--center",
            str(mmc_config),
            "--target",
            "p_wait<=0.2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    answer = json.loads((out / "center_sizing.json").read_text())
    assert answer["method"] == "erlang-c (exact)"
    assert answer["servers"] == {"desk": 13}  # C(12, 9) = 0.2660, C(13, 9) = 0.1575
    assert "answer: desk=13" in capsys.readouterr().out
    assert (out / "center_sizing.png").exists() and (out / "center_sizing.csv").exists()


def test_size_center_unreachable_prints_table_and_exits_1(mmc_config, tmp_path, capsys):
    code = main(
        [
            "size",
            "center",
            "--center",
            str(mmc_config),
            "--target",
            "p_wait<=1e-9",
            "--max-servers",
            "14",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "NOT REACHABLE within --max-servers 14" in out
    assert out.count("| no") == 5  # 10..14 servers, each shown


def test_size_center_malformed_target_exits_2(mmc_config, tmp_path, capsys):
    code = main(
        [
            "size",
            "center",
            "--center",
            str(mmc_config),
            "--target",
            "p_wait=0.2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "is not like 'metric<=value'" in error_line(capsys)


def test_size_supply_writes_plan_and_staff(tmp_path, capsys):
    out = tmp_path / "supply"
    assert main(["size", "supply", "--scenario", "smoke", "--weeks", "8", "--out", str(out)]) == 0
    plan = json.loads((out / "supply_sizing.json").read_text())
    assert plan["eligible"] == 200_000
    assert plan["slots_per_day"] >= 2 * 200_000 / 56 / 0.99 - 1
    assert plan["staff_per_center"]["vaccination"] >= 1
    daily = pd.read_csv(out / "supply_daily.csv")
    assert len(daily) == 56
    assert (out / "supply_sizing.png").exists()


def test_size_supply_too_short_campaign_exits_2(tmp_path, capsys):
    assert (
        main(["size", "supply", "--scenario", "smoke", "--weeks", "2", "--out", str(tmp_path)]) == 2
    )
    assert "too short" in error_line(capsys)


@pytest.fixture
def short_scenario(tmp_path) -> Path:
    text = scenario_path("smoke").read_text().replace("duration_min = 60.0", "duration_min = 15.0")
    path = tmp_path / "short.toml"
    path.write_text(text)
    return path


def test_size_platform_impossible_target_shows_table_and_exits_1(short_scenario, tmp_path, capsys):
    out = tmp_path / "platform"
    code = main(
        [
            "size",
            "platform",
            "--scenario",
            str(short_scenario),
            "--target",
            "bookings>=1e9",
            "--knob",
            "platform.admission_rate_per_s",
            "--range",
            "4:8",
            "--points",
            "2",
            "--replications",
            "2",
            "--processes",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 1
    printed = capsys.readouterr().out
    assert "NOT REACHABLE within 4..8" in printed
    frame = pd.read_csv(out / "platform_sizing.csv")
    assert list(frame["platform.admission_rate_per_s"]) == [4.0, 8.0]
    assert (frame["bookings>=1e+09 ci_low"] <= frame["bookings>=1e+09"]).all()


def test_size_platform_unknown_knob_exits_2(tmp_path, capsys):
    code = main(
        [
            "size",
            "platform",
            "--scenario",
            "smoke",
            "--target",
            "abandonment<=0.1",
            "--knob",
            "platform.warp_drive",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "warp_drive" in error_line(capsys)


def test_sweep_cli_writes_tidy_csv(tmp_path):
    out = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            "--center",
            "gp-practice",
            "--param",
            "stations.vaccination.servers=1:2:1",
            "--replications",
            "2",
            "--processes",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    tidy = pd.read_csv(out / "sweep.csv")
    assert set(tidy["stations.vaccination.servers"]) == {1, 2}
    assert {"kpi", "mean", "ci_low", "ci_high"} <= set(tidy.columns)


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--scenario", "smoke", "--param", "platform.no_such=1:2:1"],
        ["sweep", "--scenario", "smoke", "--param", "platform.admission_rate_per_s=5:1:1"],
        ["sweep", "--center", "gp-practice", "--param", "stations.nobody.servers=1:2:1"],
    ],
)
def test_sweep_cli_bad_params_exit_2(argv, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert error_line(capsys).startswith("surge: error:")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["sim", "center", "--help"],
        ["size", "center", "--help"],
        ["size", "platform", "--help"],
        ["size", "supply", "--help"],
        ["sweep", "--help"],
        ["bench", "sweep", "--help"],
    ],
)
def test_help_pages_render(argv, capsys):
    assert main(argv) == 0
    assert "usage:" in capsys.readouterr().out


def test_size_center_by_simulation_on_a_multi_station_center(tmp_path, capsys):
    out = tmp_path / "gp"
    code = main(
        [
            "size",
            "center",
            "--center",
            "gp-practice",
            "--target",
            "mean_wait_min<=3",
            "--target",
            "median_time_min<=30",
            "--replications",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    answer = json.loads((out / "center_sizing.json").read_text())
    assert answer["method"] == "simulation"
    assert set(answer["servers"]) == {"reception", "vaccination"}
    frame = pd.read_csv(out / "center_sizing.csv")
    chosen = frame[
        (frame["servers.reception"] == answer["servers"]["reception"])
        & (frame["servers.vaccination"] == answer["servers"]["vaccination"])
    ]
    assert len(chosen) == 1, frame
    assert bool(chosen["meets_targets"].iloc[0])
    assert chosen["mean_wait_min<=3 ci_high"].iloc[0] <= 3
    assert chosen["median_time_min<=30 ci_high"].iloc[0] <= 30
    # one server fewer at either station was tried and falls short
    for station in answer["servers"]:
        fewer = {**answer["servers"], station: answer["servers"][station] - 1}
        row = frame[
            (frame["servers.reception"] == fewer["reception"])
            & (frame["servers.vaccination"] == fewer["vaccination"])
        ]
        assert fewer[station] == 0 or (len(row) == 1 and not row["meets_targets"].iloc[0]), station
    assert (out / "center_sizing.png").stat().st_size > 10_000
