"""A clock the tests advance instead of sleeping (injected with `create_app(..., clock=...)`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManualClock"]


@dataclass
class ManualClock:
    """Seconds since the epoch, moved on by the test instead of sleeping."""

    now_s: float

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
