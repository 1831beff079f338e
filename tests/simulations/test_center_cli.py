"""`surge sim center` with rosters, places and closing time: summary keys, warnings, exit codes."""

from __future__ import annotations

import json

from surge.cli import main

CENTRE = """
[arrivals]
kind = "appointments"
block_minutes = 2
per_block = 1
blocks = 150

[[stations]]
name = "vaccination"
servers = 2
roster = [{ from_min = 0, to_min = 240, servers = 2 }, { from_min = 240, to_min = 600, servers = 3 }]
breaks = [{ start_min = 120, minutes = 30, servers = 1 }]
capacity = 4
service = { dist = "constant", value = 1.5 }

[[stations]]
name = "observation"
servers = "infinite"
capacity = 5
service = { dist = "constant", value = 15 }

[closing]
at_min = 200
"""


def test_summary_has_blocking_overtime_and_staff_hours(tmp_path, capsys):
    path = tmp_path / "center.toml"
    path.write_text(CENTRE)
    out = tmp_path / "out"
    assert (
        main(["sim", "center", "--center", str(path), "--replications", "2", "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    vaccination = summary["stations"]["vaccination"]
    # Five chairs for 15 min take one patient every 3 min; arrivals come every 2 min.
    assert vaccination["blocked_min"] > 0
    assert vaccination["servers"] == "roster" and vaccination["capacity"] == 4
    # Rostered to the roster's end (600): 2 x 240 + 3 x 360 server-minutes.
    assert vaccination["staff_hours_rostered"] == (2 * 240 + 3 * 360) / 60
    # Both vaccinators are busy or blocked at 120, so the break starts late and ends on time.
    assert 0.4 < vaccination["break_hours"] < 0.5
    assert summary["turned_away"] == 50  # arrivals at 200, 202, ..., 298
    assert summary["served"] == 100
    assert summary["overtime_min"] > 0
    assert "staff_hours_busy" in vaccination and "staff_hours_rostered" in summary
    printed = capsys.readouterr().out
    assert "overtime (min)" in printed and "staff-hours" in printed and "4 places" in printed


def test_bad_roster_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(CENTRE.replace("to_min = 240, servers = 2", "to_min = 240, servers = -2"))
    assert main(["sim", "center", "--center", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "roster[0]" in err[0] and "'servers'" in err[0]


CROSSING = """
[arrivals]
kind = "appointments"
block_minutes = 1
per_block = 2
blocks = 20
[[stations]]
name = "x"
servers = 1
capacity = 1
service = { dist = "constant", value = 1.0 }
[[stations]]
name = "y"
servers = 1
capacity = 1
service = { dist = "constant", value = 1.0 }
[[classes]]
name = "xy"
share = 0.5
route = ["x", "y"]
[[classes]]
name = "yx"
share = 0.5
route = ["y", "x"]
"""


def test_deadlocked_center_is_reported_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "crossing.toml"
    path.write_text(CROSSING)
    out = tmp_path / "out"
    assert (
        main(["sim", "center", "--center", str(path), "--replications", "2", "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["deadlock"] == 1 and summary["stranded"] == 40 and summary["served"] == 0
    printed = capsys.readouterr().out
    assert "WARNING" in printed and "deadlock" in printed and "mean -" in printed
