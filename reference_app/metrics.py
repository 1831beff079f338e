"""Prometheus metrics: per-route request counts and latency histograms, requests in flight.

Each worker counts in memory (no per-request I/O) and every few seconds stores a snapshot in the
`worker_metrics` table; `GET /metrics` sums the fresh snapshots of all workers, so one scrape
sees the whole server whichever worker answers. Gauges read from the database (waiting room)
and per-worker pool gauges (label `worker`) are added at scrape time.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import defaultdict

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SNAPSHOT_FRESH_S = 30.0


class Metrics:
    """In-memory counters of one worker process."""

    def __init__(self) -> None:
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = defaultdict(float)
        self.in_flight = 0

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def finished(self, method: str, route: str, status: int, elapsed_s: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.requests[(method, route, str(status))] += 1
            key = (method, route)
            counts = self.buckets.get(key)
            if counts is None:
                counts = self.buckets[key] = [0] * (len(BUCKETS_S) + 1)
            for i, bound in enumerate(BUCKETS_S):
                if elapsed_s <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self.sums[key] += elapsed_s

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": [[*k, v] for k, v in self.requests.items()],
                "buckets": [[*k, list(v), self.sums[k]] for k, v in self.buckets.items()],
                "in_flight": self.in_flight,
            }


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render(snapshots: list[dict], gauges: list[tuple[str, str, dict[str, str], float]]) -> str:
    """Prometheus text exposition of the summed worker snapshots plus extra gauges.

    `gauges` are (name, help, labels, value).
    """
    requests: dict[tuple, int] = defaultdict(int)
    buckets: dict[tuple, list[int]] = {}
    sums: dict[tuple, float] = defaultdict(float)
    in_flight = 0
    for snap in snapshots:
        for method, route, status, count in snap["requests"]:
            requests[(method, route, status)] += count
        for method, route, counts, total in snap["buckets"]:
            acc = buckets.setdefault((method, route), [0] * len(counts))
            for i, c in enumerate(counts):
                acc[i] += c
            sums[(method, route)] += total
        in_flight += snap["in_flight"]
    out = [
        "# HELP surge_http_requests_total HTTP requests by method, route template and status.",
        "# TYPE surge_http_requests_total counter",
    ]
    for (method, route, status), count in sorted(requests.items()):
        out.append(
            f'surge_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {count}'
        )
    out += [
        "# HELP surge_http_request_duration_seconds HTTP request latency by method and route template.",
        "# TYPE surge_http_request_duration_seconds histogram",
    ]
    for (method, route), counts in sorted(buckets.items()):
        labels = f'method="{method}",route="{_label(route)}"'
        running = 0
        for bound, count in zip((*BUCKETS_S, float("inf")), counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(
                f'surge_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {running}'
            )
        out.append(
            f"surge_http_request_duration_seconds_sum{{{labels}}} {sums[(method, route)]:.6f}"
        )
        out.append(f"surge_http_request_duration_seconds_count{{{labels}}} {running}")
    out += [
        "# HELP surge_http_requests_in_flight Requests being served, all workers.",
        "# TYPE surge_http_requests_in_flight gauge",
        f"surge_http_requests_in_flight {in_flight}",
        "# HELP surge_workers Worker processes with a fresh metrics snapshot.",
        "# TYPE surge_workers gauge",
        f"surge_workers {len(snapshots)}",
    ]
    seen: set[str] = set()
    for name, help_text, labels, value in gauges:
        if name not in seen:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            seen.add(name)
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")
    return "\n".join(out) + "\n"


def dumps(snapshot: dict) -> str:
    return json.dumps(snapshot, separators=(",", ":"))


def now_s() -> float:
    return time.time()
