"""Overload at 5x the measured capacity, with and without the waiting room, measured with the
load-test suite (`loadtests.overload`, i.e. `surge loadtest overload`: real Locust, real served
app). A short version of the run described in docs/reliability.md; the full one is

    surge loadtest overload --scenario smoke --start-app sqlite --out results/overload
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.overload import OverloadOptions, describe, run_overload

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_five_times_capacity_holds_the_slo_for_admitted_visitors_only_with_the_room(
    tmp_path: Path, smoke_scenario
) -> None:
    options = OverloadOptions(
        scenario="smoke",
        out_dir=tmp_path,
        start_app="sqlite",
        duration="12s",
        capacity_duration="10s",
        recovery="8s",
        seed=8,
    )
    result = run_overload(options, echo=lambda _line: None)
    print("\n".join(describe(result)))
    phases = {p["phase"]: p for p in result["phases"]}
    room, no_room = phases["waiting-room"], phases["no-waiting-room"]
    slo = smoke_scenario.slo

    assert result["offered_arrivals_per_s"] == pytest.approx(5 * result["capacity_journeys_per_s"])
    # With the room: the admitted visitors meet the booking SLO, every arrival got a queue
    # position at once, the app stayed up with flat memory and invariants 0.
    assert result["verdict"]["passed"], json.dumps(result["verdict"], indent=2)
    assert room["queue_joins"] >= 0.9 * room["arrivals_started"]
    assert 0 < room["admitted"] <= result["admission_per_s"] * (12 + 8 + 6) + 1  # and recovery
    assert room["bookings"] > 0
    # Without it: the same arrivals blow the booking SLO for everyone.
    assert no_room["queue_joins"] == 0
    assert no_room["book_p99_ms"] > slo.p99_ms["book"]
    assert no_room["book_p99_ms"] > 5 * room["book_p99_ms"]
    # After the overload, a probe load at half the capacity: with the room the app serves
    # bookings within the SLO again within the 8 s watched; without it, later or not at all.
    back = room["recovery"]["recovery_s"]
    assert back is not None and 0 <= back <= 8 - 5
    assert room["overload_s"] == 12 and result["recovery_watched_s"] == 8
    assert result["probe_arrivals_per_s"] == pytest.approx(
        0.5 * result["capacity_journeys_per_s"], abs=0.01
    )
    # The probe load ran to the end: the runs played 12 s of overload then 8 s of probe, and
    # every window of the 8 s has enough bookings to judge.
    assert room["duration_s"] == no_room["duration_s"] == 20
    assert [w["from_s"] for w in room["recovery"]["windows"]] == [0, 1, 2, 3]
    assert all(w["state"] != "unknown" for w in room["recovery"]["windows"]), room["recovery"]
    later = no_room["recovery"]["recovery_s"]
    assert later is None or later >= back
    assert any(line.startswith("back within SLO after") for line in describe(result))
    saved = json.loads((tmp_path / "overload.json").read_text())
    assert saved["verdict"] == result["verdict"]
