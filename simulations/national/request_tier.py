"""Web workers and DB connections one request at a time, for the per-visitor model.

`RequestQueue`: `servers` first-come first-served servers with deterministic service; a request
that would wait longer than `timeout_s` is rejected (the count model's `Tier` rejects the same
work, as a fluid). `RequestTiers` chains web then DB: requests are scheduled ahead (a session's
requests at their issue times) and resolved in time order by `drain(now)`, so each queue sees
its arrivals in order; a request's DB part arrives when a web worker starts it. A rejected
request marks its booking attempt as failed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

__all__ = ["Attempt", "RequestQueue", "RequestTiers"]


@dataclass
class Attempt:
    """One booking attempt; `failed` once any of its requests is rejected."""

    failed: bool = False


class RequestQueue:
    """`servers` first-come first-served servers; a request that would wait more than
    `timeout_s` is rejected. Requests must be submitted in time order."""

    def __init__(self, servers: int, timeout_s: float) -> None:
        self.free_at = [0.0] * servers
        self.servers, self.timeout_s = servers, timeout_s
        self.busy_s = 0.0
        self.offered = self.rejected = 0

    def submit(self, t: float, service_s: float) -> float | None:
        """Wait of a request arriving at `t`, or None if rejected."""
        self.offered += 1
        earliest = self.free_at[0]
        wait = max(0.0, earliest - t)
        if wait > self.timeout_s:
            self.rejected += 1
            return None
        heapq.heapreplace(self.free_at, max(t, earliest) + service_s)
        self.busy_s += service_s
        return wait


@dataclass
class RequestTiers:
    """Web then DB, fed by requests scheduled ahead and resolved in time order (`drain`)."""

    web: RequestQueue
    db: RequestQueue
    pending: list = field(default_factory=list)  # (t, seq, web_s, db_s, attempt)
    db_pending: list = field(default_factory=list)
    seq: int = 0

    def schedule(self, t: float, web_s: float, db_s: float, attempt: Attempt | None) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (t, self.seq, web_s, db_s, attempt))

    def drain(self, now: float) -> None:
        while self.pending and self.pending[0][0] <= now:
            t, seq, web_s, db_s, attempt = heapq.heappop(self.pending)
            wait = self.web.submit(t, web_s)
            if wait is None:
                if attempt is not None:
                    attempt.failed = True
            elif db_s > 0:
                heapq.heappush(self.db_pending, (t + wait, seq, db_s, attempt))
        while self.db_pending and self.db_pending[0][0] <= now:
            t, _, db_s, attempt = heapq.heappop(self.db_pending)
            if self.db.submit(t, db_s) is None and attempt is not None:
                attempt.failed = True
