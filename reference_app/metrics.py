"""Prometheus metrics on `prometheus_client`: per-route request counts and latency histograms,
requests in flight, live workers, database pool gauges, and gauges read at scrape time.

One worker process keeps its metrics in memory in its own registry. Several uvicorn workers
on one host use the client's multiprocess mode: `surge app serve` gives each run a fresh
`PROMETHEUS_MULTIPROC_DIR` (it must be set before `prometheus_client` is imported), every
worker writes its values to files there, and a scrape answered by any worker merges the files
of all of them (`MultiProcessCollector`), so one scrape covers the whole instance. Counters and
histograms are summed over every worker that ever ran; the `live*` gauges count live workers
only (a worker marks itself dead when it stops; one that died is swept at the next scrape).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.pool import Pool

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# (name, help, value) of a gauge read when scraped, e.g. from the database.
ScrapeGauge = tuple[str, str, float]
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class _ScrapeGauges(Collector):
    def __init__(self, read: Callable[[], Iterable[ScrapeGauge]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, help_text, value in self.read():
            yield GaugeMetricFamily(name, help_text, value=value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def forget_dead_workers(directory: str) -> list[int]:
    """Drop the live gauges of worker processes that no longer exist; returns their pids."""
    dead = set()
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_FILE.match(os.path.basename(path))
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        mark_process_dead(pid, directory)
    return sorted(dead)


class Metrics:
    """The metrics of one worker process; `multiprocess_dir` set: merged with its siblings'."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        if multiprocess_dir:
            MultiProcessCollector(self.registry, path=multiprocess_dir)
            own = None  # values go to the shared files, read back by the collector
        else:
            own = self.registry
        self.requests = Counter(
            "surge_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "surge_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=BUCKETS_S,
            registry=own,
        )
        self.in_flight = Gauge(
            "surge_http_requests_in_flight",
            "Requests being served, all live workers.",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.workers = Gauge(
            "surge_workers", "Live worker processes.", registry=own, multiprocess_mode="livesum"
        )
        self.pool = {
            key: Gauge(
                f"surge_db_pool_{key}",
                f"Database pool {text}, per live worker (label pid with several workers).",
                registry=own,
                multiprocess_mode="liveall",
            )
            for key, text in (
                ("size", "size"),
                ("checked_out", "connections checked out"),
                ("overflow", "connections open beyond its size, at the last checkout"),
            )
        }
        self.workers.set(1)
        self.server_timing: Histogram | None = None
        self._components: dict[tuple[str, str], tuple[Histogram, Histogram, Histogram]] = {}
        # Labelled children looked up once (`labels()` costs more than the update itself).
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    def started(self) -> None:
        self.in_flight.inc()

    def finished(self, method: str, route: str, status: int, elapsed_s: float) -> None:
        self.in_flight.dec()
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[(method, route, status)] = self.requests.labels(
                method, route, str(status)
            )
        counted.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[(method, route)] = self.latency.labels(method, route)
        timed.observe(elapsed_s)

    def enable_server_timing(self) -> None:
        """The per-route histogram of each Server-Timing component (pool, db, app)."""
        self.server_timing = Histogram(
            "surge_server_timing_seconds",
            "Time inside the app by method, route template and component: pool (waiting for a "
            "DB connection), db (executing statements), app (total inside the app).",
            ["method", "route", "component"],
            buckets=BUCKETS_S,
            registry=None if self.multiprocess_dir else self.registry,
        )

    def timed_components(
        self, method: str, route: str, pool_s: float, db_s: float, app_s: float
    ) -> None:
        if self.server_timing is None:
            return
        children = self._components.get((method, route))
        if children is None:
            children = self._components[(method, route)] = tuple(
                self.server_timing.labels(method, route, c) for c in ("pool", "db", "app")
            )
        for child, value in zip(children, (pool_s, db_s, app_s), strict=True):
            child.observe(value)

    def watch_pool(self, pool: Pool) -> None:
        """Follow a SQLAlchemy pool's checkouts and checkins."""
        size = getattr(pool, "size", lambda: 0)
        overflow = getattr(pool, "overflow", lambda: 0)
        self.pool["size"].set(size())
        self.pool["checked_out"].set(0)
        self.pool["overflow"].set(max(0, overflow()))

        def checked_out(*_args: object) -> None:
            self.pool["checked_out"].inc()
            self.pool["overflow"].set(max(0, overflow()))

        def checked_in(*_args: object) -> None:
            self.pool["checked_out"].dec()

        event.listen(pool, "checkout", checked_out)
        event.listen(pool, "checkin", checked_in)

    def read_at_scrape(self, read: Callable[[], Iterable[ScrapeGauge]]) -> None:
        """Gauges computed by the worker that answers the scrape."""
        self.registry.register(_ScrapeGauges(read))

    def exposition(self) -> bytes:
        """The Prometheus text exposition of this worker, or of every worker of the instance."""
        if self.multiprocess_dir:
            forget_dead_workers(self.multiprocess_dir)
        return generate_latest(self.registry)

    def close(self) -> None:
        """This worker stops: its live gauges leave the instance's scrape."""
        if self.multiprocess_dir:
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(os.getpid(), self.multiprocess_dir)
