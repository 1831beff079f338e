"""The cost of `--server-timing`, in CPU microseconds per request (`surge bench server-timing`).

The reference app is seeded once (SQLite in a temporary directory) and served in rounds,
alternately without and with `--server-timing`, pinned to its own core when the machine has
two (the client on another). Each round sends warm-up requests, then `requests` sequential
read requests from one keep-alive client: the search and the health check, light routes, so
the per-request overhead is not lost in the noise of heavy ones, and reads, so the database
does not change between rounds. The app process's CPU time (user + system, psutil) is read
before and after: CPU-µs per request = CPU time / requests. Throughput is not used: on a
shared machine it measures the neighbours. Writes results/bench/server_timing.json.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from loadtests.app_launcher import seed_app, served_app
from loadtests.pinning import plan_cores
from surge.bench.record import BenchRecord, new_record
from surge.errors import UsageError

RESULTS = Path("results/bench/server_timing.json")
NO_LIMITS = ("--rate-limit-ip", "0", "--rate-limit-token", "0")
WARMUP_REQUESTS = 200


def _urls(client: httpx.Client) -> list[str]:
    """Light read routes: the search and the health check."""
    return ["/centers?postcode=75001&limit=5", "/healthz"]


def _cpu_s(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def measure_round(url: str, *, timing: bool, requests: int, cores) -> dict:
    """One served app, `requests` sequential requests: CPU-µs per request of the app."""
    args = [*NO_LIMITS, *(["--server-timing"] if timing else [])]
    with (
        served_app(url, extra_args=args, cpu_cores=cores.app if cores else None) as app,
        httpx.Client(base_url=app.base_url, timeout=30) as client,
    ):
        urls = _urls(client)
        for i in range(WARMUP_REQUESTS):
            client.get(urls[i % len(urls)])
        before = _cpu_s(app.pid)
        started = time.perf_counter()
        headers = 0
        for i in range(requests):
            response = client.get(urls[i % len(urls)])
            response.raise_for_status()
            headers += "server-timing" in response.headers
        wall_s = time.perf_counter() - started
        cpu_s = _cpu_s(app.pid) - before
    return {
        "server_timing": timing,
        "requests": requests,
        "with_header": headers,
        "app_cpu_s": round(cpu_s, 4),
        "cpu_us_per_request": round(cpu_s / requests * 1e6, 1),
        "wall_s": round(wall_s, 3),
    }


@dataclass(frozen=True)
class ServerTimingBenchOptions:
    rounds: int = 3  # rounds per mode
    requests: int = 2000  # measured requests per round


def run(options: ServerTimingBenchOptions) -> BenchRecord:
    if options.rounds < 1 or options.requests < 1:
        raise UsageError("--rounds and --requests must be >= 1")
    cores = plan_cores()
    if cores is not None:
        os.sched_setaffinity(0, set(cores.loadgen))
    with tempfile.TemporaryDirectory(prefix="surge-bench-st-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'app.db'}"
        seed_app(url, Path(tmp) / "seed.log", centers=8, days=3)
        runs = [
            measure_round(url, timing=timing, requests=options.requests, cores=cores)
            for _ in range(options.rounds)
            for timing in (False, True)
        ]
    off = statistics.median(r["cpu_us_per_request"] for r in runs if not r["server_timing"])
    on = statistics.median(r["cpu_us_per_request"] for r in runs if r["server_timing"])
    figures = {
        "pinning": None
        if cores is None
        else {"client": list(cores.loadgen), "app": list(cores.app)},
        "database": "sqlite",
        "routes": "GET /centers?postcode=75001&limit=5 and GET /healthz, alternating, sequential",
        "rounds": runs,
        "cpu_us_per_request_off": off,
        "cpu_us_per_request_on": on,
        "overhead_cpu_us_per_request": round(on - off, 1),
    }
    return new_record("server_timing", options, figures)


def describe(record: BenchRecord) -> list[str]:
    f = record.figures
    lines = [
        f"server timing {'on ' if r['server_timing'] else 'off'}: "
        f"{r['cpu_us_per_request']:8.1f} CPU-us/request ({r['requests']} requests)"
        for r in f["rounds"]
    ]
    lines.append(
        f"median off {f['cpu_us_per_request_off']:.1f}, on {f['cpu_us_per_request_on']:.1f}: "
        f"overhead {f['overhead_cpu_us_per_request']:+.1f} CPU-us/request"
    )
    return lines
