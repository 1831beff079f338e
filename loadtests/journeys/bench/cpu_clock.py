"""CPU seconds this Locust process spent between test start and stop, and the requests it sent
in that time: requests per CPU-second is a per-process rate that a shared, noisy machine does
not distort (wall-clock rates do). Written to `<--csv prefix>_cpu.json`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from locust import events

_state: dict[str, float] = {}


@events.test_start.add_listener
def _start(environment, **_kwargs) -> None:
    _state["cpu"] = time.process_time()
    _state["wall"] = time.monotonic()
    _state["requests"] = environment.stats.total.num_requests


@events.test_stop.add_listener
def _stop(environment, **_kwargs) -> None:
    prefix = environment.parsed_options.csv_prefix if environment.parsed_options else None
    if not prefix or "cpu" not in _state:
        return
    Path(f"{prefix}_cpu.json").write_text(
        json.dumps(
            {
                "cpu_s": time.process_time() - _state["cpu"],
                "wall_s": time.monotonic() - _state["wall"],
                "requests": environment.stats.total.num_requests - _state["requests"],
            }
        )
    )
