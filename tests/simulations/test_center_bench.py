"""`surge bench center`: the benchmark centre is the issue's day, and the command writes its JSON.

Speed itself is a benchmark figure (docs/centers.md), not asserted here.
"""

from __future__ import annotations

import json

from surge.bench.center import bench_config
from surge.cli import main


def test_bench_center_is_a_ten_hour_six_station_day_of_about_2000_patients():
    config = bench_config()
    assert len(config.stations) == 6
    assert config.closing.at_min == 600
    expected = config.arrival_rate_per_min * config.open_minutes
    assert 1950 <= expected <= 2100


def test_bench_center_writes_json(tmp_path, capsys):
    out = tmp_path / "center.json"
    assert main(["bench", "--results", str(tmp_path), "center", "--replications", "2"]) == 0
    doc = json.loads(out.read_text())["figures"]
    assert doc["stations"] == 6 and len(doc["replications"]) == 2
    assert all(r["served"] > 1900 for r in doc["replications"])
    assert doc["median_wall_s"] > 0 and isinstance(doc["meets_bound"], bool)
    assert "per replication" in capsys.readouterr().out
