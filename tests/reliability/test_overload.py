"""Overload at 5x the measured capacity, with and without the waiting room (a light version of
`python -m tests.reliability.overload`, which produces the README figures)."""

from __future__ import annotations

import json

import psutil
import pytest

from .conftest import api_for
from .overload import run

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

RSS_GROWTH_MAX_MB = 200.0


def test_five_times_capacity_is_shed_fast_queued_fifo_and_never_crashes(serve, tmp_path) -> None:  # noqa: ANN001
    with serve(f"sqlite:///{tmp_path / 'overload.db'}") as app:
        results = run(api_for(app), app.pid, duration_s=5.0, multiple=5.0, capacity_s=3.0)
        assert psutil.pid_exists(app.pid) and app.process.poll() is None, "the app crashed"
    print(json.dumps(results))
    room, no_room = results["waiting_room"], results["no_waiting_room"]
    assert {k: v for k, v in results["invariants"].items() if k != "appointments"} == dict.fromkeys(
        ("overbooked_slots", "double_bookings", "dose2_out_of_window", "orphan_dose2"), 0
    )
    for figures in (room, no_room):
        assert figures["app_rss_mb"]["peak"] - figures["app_rss_mb"]["start"] < RSS_GROWTH_MAX_MB
        assert figures["arrivals"] > 0
    # With the room on, visitors without a pass are refused with 503 + Retry-After (never
    # another error), everyone else holds a queue position, and admissions follow the rate.
    assert not any(
        key.startswith(("no pass", "queue", "poll", "book 5")) for key in room["refused"]
    )
    assert room["queue_position_max"] > 0 and room["still_queued_at_end"] > 0
    assert room["booked"] <= room["admission_rate_per_s"] * 5.0 + 2
    # The contrast: the admitted few book faster than everyone racing in without a room.
    assert room["booking_p99_ms"] < no_room["booking_p99_ms"]
