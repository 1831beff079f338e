"""Waiting on a condition in tests, instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.05


def wait_until(condition: Callable[[], bool], failure: str, timeout_s: float = 30.0) -> None:
    """Return as soon as `condition()` holds; fail with `failure` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} (within {timeout_s:g} s)")
        time.sleep(POLL_S)
