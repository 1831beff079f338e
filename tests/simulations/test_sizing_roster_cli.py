"""`surge size center --method roster`: printed roster, cost and intervals; files; exit codes."""

from __future__ import annotations

import json

import pytest

from surge.cli import main

RUSH = """
[arrivals]
kind = "appointments"
block_minutes = 10
per_block = 2
blocks = 48
walk_ins = { rate_per_hour = 36, from_min = 240, to_min = 480 }

[[stations]]
name = "desk"
servers = 1
service = { dist = "exponential", mean = 1.0 }

[[stations]]
name = "jab"
servers = 1
service = { dist = "lognormal", mean = 4.0, sd = 1.5 }

[closing]
at_min = 480
"""


def size(tmp_path, *extra: str) -> int:
    path = tmp_path / "rush.toml"
    path.write_text(RUSH)
    argv = ["size", "center", "--center", str(path), "--method", "roster", "--shift-min", "240"]
    argv += ["--target", "mean_wait_min<=2", "--replications", "8", "--out", str(tmp_path / "o")]
    return main([*argv, *extra])


def test_roster_answer_is_printed_and_written(tmp_path, capsys):
    assert size(tmp_path, "--cost", "jab=1.5") == 0
    printed = capsys.readouterr().out
    doc = json.loads((tmp_path / "o" / "roster_sizing.json").read_text())
    assert doc["periods_min"] == [[0.0, 240.0], [240.0, 480.0]]
    desk, jab = doc["roster"]["desk"], doc["roster"]["jab"]
    assert doc["cost"] == pytest.approx(sum(desk) * 4 + 1.5 * sum(jab) * 4)
    assert doc["intervals"]["mean_wait_min<=2"]["high"] <= 2
    assert doc["local_optimality"] and all(r["fails"] for r in doc["local_optimality"])
    assert "0-240" in printed and "cost" in printed and "single removals fail" in printed
    assert (tmp_path / "o" / "roster_sizing.csv").exists()


def test_budget_exhausted_is_undecided_exit_4(tmp_path, capsys):
    assert size(tmp_path, "--max-evaluations", "2") == 4
    assert "UNDECIDED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cost", "jab=lots"], "--cost"),
        (["--cost", "nurse=2"], "no station named 'nurse'"),
        (["--alpha", "2"], "alpha"),
    ],
)
def test_bad_roster_options_exit_2_in_one_line(tmp_path, capsys, extra, message):
    assert size(tmp_path, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
