"""A tier of identical servers (web workers, DB connections) as a fluid queue with finite capacity.

At national scale requests are counted as work (seconds of server time) per tick, not one by one:
each tick the tier serves up to `servers * tick_s` seconds of work first-come first-served; work
that would wait longer than `timeout_s` is rejected (a 503 or a timeout for the visitor), so the
backlog never exceeds `servers * timeout_s` seconds. The rejected share of a tick's arrivals is
the error probability of a request arriving in that tick.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tier", "TierTick"]


@dataclass(frozen=True, slots=True)
class TierTick:
    offered_s: float
    served_s: float
    rejected_s: float
    backlog_s: float
    utilisation: float
    reject_share: float
    wait_s: float


class Tier:
    def __init__(self, servers: int, timeout_s: float) -> None:
        self.servers = servers
        self.timeout_s = timeout_s
        self.backlog_s = 0.0

    def step(self, offered_s: float, tick_s: float) -> TierTick:
        capacity = self.servers * tick_s
        total = self.backlog_s + offered_s
        served = min(total, capacity)
        remaining = total - served
        rejected = max(0.0, remaining - self.servers * self.timeout_s)
        self.backlog_s = remaining - rejected
        return TierTick(
            offered_s=offered_s,
            served_s=served,
            rejected_s=rejected,
            backlog_s=self.backlog_s,
            utilisation=served / capacity if capacity else 0.0,
            reject_share=rejected / offered_s if offered_s > 0 else 0.0,
            wait_s=self.backlog_s / self.servers,
        )
