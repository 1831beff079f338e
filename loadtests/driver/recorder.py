"""What the load generator records beside Locust's own stats.

- an HDR histogram per request name (exact percentiles, microsecond resolution, unlike Locust's
  2-significant-digit buckets), merged from workers to the master;
- counters (booking outcomes, arrivals started / late / dropped, journeys by outcome);
- waiting-room waits (an HDR histogram in ms);
- optionally one CSV row per request (`--request-log`), written by each load-generator process;
- optionally the counters so far, about once a second (`--surge-live FILE`, for the status line).

At the end, the master (or the single local process) writes it all as JSON (`--surge-summary`).
Importing this module registers its Locust event listeners once per process.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from hdrh.histogram import HdrHistogram
from locust import events
from locust.runners import MasterRunner, WorkerRunner

import loadtests.driver.options  # noqa: F401  (registers the --surge options)

__all__ = ["RECORDER", "Recorder"]

log = logging.getLogger("surge.recorder")

HDR_LOWEST_US = 1
HDR_HIGHEST_US = 3_600_000_000  # one hour
HDR_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_DIGITS)


def histogram_summary(hist: HdrHistogram) -> dict[str, float]:
    """Percentiles in ms of one histogram of microseconds."""
    if hist.get_total_count() == 0:
        return {"count": 0}
    summary = {"count": hist.get_total_count()}
    for p in PERCENTILES:
        key = f"p{p:g}".replace(".", "_")
        summary[f"{key}_ms"] = hist.get_value_at_percentile(p) / 1000.0
    summary["max_ms"] = hist.get_max_value() / 1000.0
    summary["mean_ms"] = hist.get_mean_value() / 1000.0
    return summary


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, HdrHistogram] = {}
        self.waits: HdrHistogram = new_histogram()
        self.counters: Counter[str] = Counter()
        self._log_file = None
        self._log_writer: Any = None
        self.test_start_epoch_s: float | None = None
        self.test_stop_epoch_s: float | None = None

    # -- recording ---------------------------------------------------------------------------
    def record_latency(self, name: str, response_time_ms: float) -> None:
        hist = self.latency.get(name)
        if hist is None:
            hist = self.latency[name] = new_histogram()
        value = min(max(int(response_time_ms * 1000), HDR_LOWEST_US), HDR_HIGHEST_US)
        hist.record_value(value)

    def record_wait(self, wait_s: float) -> None:
        self.waits.record_value(min(max(int(wait_s * 1_000_000), 1), HDR_HIGHEST_US))
        self.counters["waiting_room:admitted"] += 1

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def log_request(self, row: tuple) -> None:
        if self._log_writer is not None:
            self._log_writer.writerow(row)

    # -- request log -------------------------------------------------------------------------
    def open_log(self, prefix: str) -> None:
        path = Path(f"{prefix}-{socket.gethostname()}-{os.getpid()}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = path.open("w", newline="", buffering=1 << 16)
        self._log_writer = csv.writer(self._log_file)
        self._log_writer.writerow(
            ["start_epoch_s", "method", "name", "response_time_ms", "ok", "status", "error"]
        )

    def close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
            self._log_writer = None

    # -- distribution: workers -> master -----------------------------------------------------
    def export(self) -> dict[str, Any]:
        data = {
            "latency": {name: h.encode().decode() for name, h in self.latency.items()},
            "waits": self.waits.encode().decode() if self.waits.get_total_count() else "",
            "counters": dict(self.counters),
        }
        self.latency = {}
        self.waits = new_histogram()
        self.counters = Counter()
        return data

    def merge(self, data: dict[str, Any]) -> None:
        for name, encoded in data.get("latency", {}).items():
            hist = self.latency.get(name)
            if hist is None:
                hist = self.latency[name] = new_histogram()
            hist.decode_and_add(encoded)
        if data.get("waits"):
            self.waits.decode_and_add(data["waits"])
        self.counters.update(data.get("counters", {}))

    # -- final summary -----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "test_start_epoch_s": self.test_start_epoch_s,
            "test_stop_epoch_s": self.test_stop_epoch_s,
            "hdr": {name: histogram_summary(h) for name, h in sorted(self.latency.items())},
            "waiting_room_wait": histogram_summary(self.waits),
            "counters": dict(sorted(self.counters.items())),
        }


RECORDER = Recorder()


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, MasterRunner):
        return
    if options.request_log:
        RECORDER.open_log(options.request_log)


LIVE_EVERY_S = 1.0


def _write_live(path: Path) -> None:
    """The counters so far, replaced atomically (the status line reads them as they change)."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(dict(RECORDER.counters)))
    partial.replace(path)


def _live_loop(environment, path: Path) -> None:
    while environment.runner is not None and environment.runner.state not in (
        "stopped",
        "quitting",
    ):
        _write_live(path)
        gevent.sleep(LIVE_EVERY_S)
    _write_live(path)


@events.test_start.add_listener
def _on_test_start(environment, **_kwargs) -> None:
    if RECORDER.test_start_epoch_s is None:
        RECORDER.test_start_epoch_s = time.time()
    options = environment.parsed_options
    if (
        options is not None
        and options.surge_live
        and not isinstance(environment.runner, WorkerRunner)
    ):
        gevent.spawn(_live_loop, environment, Path(options.surge_live))


@events.test_stop.add_listener
def _on_test_stop(environment, **_kwargs) -> None:
    RECORDER.test_stop_epoch_s = time.time()


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception, **kwargs) -> None:
    RECORDER.record_latency(name, response_time)
    if RECORDER._log_writer is not None:
        response = kwargs.get("response")
        status = getattr(response, "status_code", 0) or 0
        error = "" if exception is None else str(exception).splitlines()[0][:200]
        RECORDER.log_request(
            (
                f"{kwargs.get('start_time') or 0:.6f}",
                request_type,
                name,
                f"{response_time:.3f}",
                0 if exception else 1,
                status,
                error,
            )
        )


@events.report_to_master.add_listener
def _on_report_to_master(client_id, data, **_kwargs) -> None:
    data["surge"] = RECORDER.export()


@events.worker_report.add_listener
def _on_worker_report(client_id, data, **_kwargs) -> None:
    if "surge" in data:
        RECORDER.merge(data["surge"])


def _summary_path(options) -> str:
    if options.surge_summary:
        return options.surge_summary
    if getattr(options, "csv_prefix", None):
        return f"{options.csv_prefix}_surge.json"
    return ""


@events.quitting.add_listener
def _on_quitting(environment, **_kwargs) -> None:
    RECORDER.close_log()
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    summary = RECORDER.summary()
    counters = summary["counters"]
    if counters.get("arrivals:scheduled"):
        log.info(
            "open model: %d arrivals scheduled, %d started, %d late (> %g ms), %d dropped",
            counters.get("arrivals:scheduled", 0),
            counters.get("arrivals:started", 0),
            counters.get("arrivals:late", 0),
            environment.parsed_options.late_after_ms,
            counters.get("arrivals:dropped", 0),
        )
    for name, hdr in summary["hdr"].items():
        if hdr.get("count"):
            log.info(
                "HDR %s: n=%d p50=%.1fms p95=%.1fms p99=%.1fms max=%.1fms",
                name,
                hdr["count"],
                hdr["p50_ms"],
                hdr["p95_ms"],
                hdr["p99_ms"],
                hdr["max_ms"],
            )
    path = _summary_path(environment.parsed_options)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(summary, indent=2))
