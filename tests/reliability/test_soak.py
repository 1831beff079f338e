"""A short soak (`surge loadtest run --shape soak`, real Locust against a served SQLite app)
with compressed windows: the supply is kept level over HTTP, monitor.csv counts the app's
connections, and soak.json carries the verdict the exit code follows. The full 30-minute soak
on both backends is a benchmark (docs/reliability.md), not a test."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from loadtests.orchestrate import run_loadtest
from loadtests.plan import RunOptions
from loadtests.soak import SoakSettings

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_short_soak_keeps_the_supply_level_and_judges_memory_latency_errors(
    tmp_path: Path,
) -> None:
    options = RunOptions(
        scenario="smoke",
        out_dir=tmp_path,
        start_app="sqlite",
        rate=3.0,
        shape="soak",
        duration="24s",
        seed=18,
        quiet=True,
        soak=SoakSettings(warmup_s=4.0, window_s=6.0, resamples=500, replenish_interval_s=3.0),
    )
    code = run_loadtest(options, echo=lambda _line: None)
    summary = json.loads((tmp_path / "summary.json").read_text())
    soak = json.loads((tmp_path / "soak.json").read_text())
    print(json.dumps(soak["checks"], indent=1))

    # The exit code follows the SLO and the soak verdict.
    assert summary["soak"]["passed"] == soak["passed"] == all(c["passed"] for c in soak["checks"])
    assert code == (0 if summary["slo"]["passed"] and soak["passed"] else 1)
    # The centre manager's random openings are replaced by the replenisher, which opened again
    # what was sold: every round saw the pairs' first-round open slots, less one round's sales.
    assert "admin_open_slots" not in summary["routes"]
    assert "admin_centers" not in summary["routes"]
    supply = pd.read_csv(tmp_path / "supply.csv")
    assert supply["round"].nunique() >= 3
    # (tests/reliability/test_supply.py checks the keeper itself, slot by slot.)
    assert soak["supply"]["slots_opened"] > 0
    assert soak["supply"]["open_slots_last"] >= soak["supply"]["open_slots_first"] - 30
    # Memory and connections over time; the figures of both windows with their intervals.
    monitor = pd.read_csv(tmp_path / "monitor.csv")
    assert (
        monitor["app_tcp_connections"].notna().all() and monitor["app_tcp_connections"].min() >= 1
    )
    assert soak["connections"]["last_window"]["app_tcp_connections"]["max"] >= 1
    assert soak["memory"]["bins"] >= 10 and soak["memory"]["rss_start_mb"] > 20
    for key in ("first", "last"):
        window = soak["p99"][key]
        assert window["count"] >= 20
        assert window["low_ms"] <= window["p99_ms"] <= window["high_ms"]
    assert soak["p99"]["last"]["from_s"] == 18.0
    assert soak["series"][0]["t_s"] == 0 and soak["series"][-1]["app_rss_mb_max"] > 20
    # Booking worked all along and nothing broke.
    assert soak["errors"]["failed"] == 0, soak["errors"]["top"]
    assert soak["invariants"] is not None and soak["invariants"]["appointments"] > 0
    assert summary["bookings"]["full"] <= 0.05 * summary["bookings"]["success"]  # races only
