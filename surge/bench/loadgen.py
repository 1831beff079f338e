"""What one load-generator process costs: plain Locust FastHttpUser vs the Patient journey's
per-request overhead vs the open-model driver, against the same trivial endpoint
(`loadtests.driver.fifo_server` with zero service time), in one run.

Each variant is one Locust process, run in turn for the same time. The figure that counts is
requests per CPU-second of that process (`loadtests/journeys/bench/cpu_clock.py`): the rate one
process sustains on one full core, which other jobs on a shared machine do not distort the way
they distort wall-clock requests/s (also reported). Like is compared with like:

- two connection policies: *pooled* (20 keep-alive connections: 20 plain users, or the driver's
  session capped at 20) and *a connection per visitor* (`Connection: close`: each plain loop
  iteration, or each arrival, opens its own, as arriving visitors do); the endpoint counts the
  connections it accepted, so the policy is measured, not assumed;
- the driver at saturation (offered 3 x the wall rate plain Locust reached just before, with the
  same policy; against plain Locust flat out) and at a rate it sustains (half what it completed
  at saturation: few late; against plain Locust paced to the same rate, `constant_throughput`);
- arrivals per CPU-second for a one-request journey (the driver at its sustained rate) and for the
  reference booking journey (`PatientArrivals` against a started reference app, SQLite).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

import loadtests
from surge.bench.record import BenchRecord, new_record

__all__ = ["LoadgenBenchOptions", "describe", "run", "run_bench"]

JOURNEYS = Path(loadtests.__file__).parent / "journeys"
BENCH_DIR = JOURNEYS / "bench"
TARGET_RATIO = 0.8
SATURATING = 3.0  # offered / plain's wall rate
SUSTAINED = 0.5  # offered / what the driver completed at saturation
# Locust's -t counts from process start; a busy machine can spend seconds importing. The
# figures only use the test window itself (test_start -> test_stop, `cpu_clock.py`).
STARTUP_S = 10.0
RATIOS = ("pooled_saturated", "pooled_sustained", "per_visitor_saturated",
          "per_visitor_sustained", "pooled_sustained_vs_flat_out", "patient_overhead")  # fmt: skip


@dataclass(frozen=True)
class Variant:
    requests: int
    cpu_s: float
    wall_s: float
    connections: int = 0
    counters: dict = field(default_factory=dict)
    offered_per_s: float | None = None

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def per_wall_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    def figures(self) -> dict:
        started = int(self.counters.get("arrivals:started", 0))
        figures = {
            "requests": self.requests,
            "cpu_s": round(self.cpu_s, 3),
            "wall_s": round(self.wall_s, 3),
            "requests_per_cpu_s": round(self.per_cpu_s, 1),
            "requests_per_wall_s": round(self.per_wall_s, 1),
        }
        if self.connections:
            figures["connections_per_request"] = round(self.connections / max(self.requests, 1), 3)
        if self.offered_per_s is not None:
            figures |= {
                "offered_per_s": round(self.offered_per_s, 1),
                "arrivals_started": started,
                "arrivals_late": int(self.counters.get("arrivals:late", 0)),
                "arrivals_dropped": int(self.counters.get("arrivals:dropped", 0)),
                "arrivals_per_cpu_s": round(started / self.cpu_s, 1) if self.cpu_s else 0.0,
            }
        return figures


def _start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtests.driver.fifo_server", "--service-ms", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip() if process.stdout else ""
    if not line.startswith("listening on "):
        process.terminate()
        raise OSError(f"the benchmark endpoint did not start: {line!r}")
    return process, line.removeprefix("listening on ")


def _connections(host: str) -> int:
    return int(httpx.get(f"{host}/stats", timeout=10).json()["connections"])


def _locust(locustfile: Path | str, user: str, host: str, users: int, duration_s: float,
            extra: list[str], offered: float | None = None, count_connections: bool = True,
            ) -> Variant:  # fmt: skip
    before = _connections(host) if count_connections else 0
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "bench"
        command = [
            sys.executable, "-m", "locust", "-f", str(locustfile),
            "--headless", "-u", str(users), "-r", str(users), "-t", f"{duration_s + STARTUP_S:g}s",
            "-H", host, "--csv", str(prefix), "--only-summary", "--exit-code-on-error", "0",
            *extra, user,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 180)  # noqa: S603 - an argument list of our own, no shell
        if done.returncode != 0:
            raise OSError(f"locust failed on {user}: {done.stderr.strip()[-300:]}")
        stats = pd.read_csv(f"{prefix}_stats.csv").set_index("Name")
        surge_path = Path(f"{prefix}_surge.json")
        surge = json.loads(surge_path.read_text()) if surge_path.exists() else {}
        cpu = json.loads(Path(f"{prefix}_cpu.json").read_text())
    failures = int(stats.loc["Aggregated", "Failure Count"])
    if failures and count_connections:
        raise OSError(f"{user}: {failures} failed requests against the trivial endpoint")
    connections = _connections(host) - before if count_connections else 0
    return Variant(int(cpu["requests"]), cpu["cpu_s"], cpu["wall_s"], connections,
                   surge.get("counters", {}), offered)  # fmt: skip


def _arrivals(user: str, host: str, duration_s: float, rate: float) -> Variant:
    return _locust(BENCH_DIR / "arrival_locustfile.py", user, host, 1, duration_s,
                   ["--arrival-rate", f"{rate:.1f}", "--arrival-users", "1"], rate)  # fmt: skip


def _round(
    host: str, users: int, duration_s: float, rate_per_s: float | None
) -> dict[str, Variant]:
    plain_file = BENCH_DIR / "plain_locustfile.py"
    v = {
        "plain_pooled": _locust(plain_file, "Plain", host, users, duration_s, []),
        "plain_per_visitor": _locust(plain_file, "PlainNewConnection", host, users, duration_s, []),
        "patient_overhead": _locust(BENCH_DIR / "patient_locustfile.py", "PatientOverhead", host,
                                    users, duration_s, []),
    }  # fmt: skip
    for policy, user, plain in (("pooled", "Arrivals", "Plain"),
                                ("per_visitor", "ArrivalsNewConnection", "PlainNewConnection")):  # fmt: skip
        saturated = _arrivals(user, host, duration_s, SATURATING * v[f"plain_{policy}"].per_wall_s)
        rate = rate_per_s or max(SUSTAINED * saturated.per_wall_s, 1.0)
        v[f"open_{policy}_saturated"] = saturated
        v[f"plain_{policy}_paced"] = _locust(plain_file, plain.replace("Plain", "PlainPaced", 1),
                                             host, users, duration_s, ["--bench-rate", f"{rate:.1f}"])  # fmt: skip
        v[f"open_{policy}_sustained"] = _arrivals(user, host, duration_s, rate)
    return v


def _ratios(v: dict[str, Variant]) -> dict[str, float]:
    def ratio(a: str, b: str) -> float:
        return round(v[a].per_cpu_s / v[b].per_cpu_s, 3) if v[b].per_cpu_s else 0.0

    return {
        "pooled_saturated": ratio("open_pooled_saturated", "plain_pooled"),
        "pooled_sustained": ratio("open_pooled_sustained", "plain_pooled_paced"),
        "per_visitor_saturated": ratio("open_per_visitor_saturated", "plain_per_visitor"),
        "per_visitor_sustained": ratio("open_per_visitor_sustained", "plain_per_visitor_paced"),
        "pooled_sustained_vs_flat_out": ratio("open_pooled_sustained", "plain_pooled"),
        "patient_overhead": ratio("patient_overhead", "plain_pooled"),
    }


def _reference_journey(duration_s: float, rate_per_s: float) -> dict:
    """`PatientArrivals` (the reference booking journey) against a started reference app."""
    from loadtests.app_launcher import started_app

    with tempfile.TemporaryDirectory() as tmp, started_app("sqlite", Path(tmp) / "app") as app:
        variant = _locust(
            f"{JOURNEYS / 'locustfile.py'},{BENCH_DIR / 'cpu_clock.py'}", "PatientArrivals",
            app.base_url, 1, duration_s,
            ["--arrival-rate", f"{rate_per_s:g}", "--arrival-users", "1"], rate_per_s,
            count_connections=False,
        )  # fmt: skip
    figures = variant.figures()
    started = figures["arrivals_started"]
    figures["requests_per_arrival"] = round(variant.requests / started, 2) if started else None
    return figures


def run_bench(duration_s: float = 10.0, users: int = 20, rate_per_s: float | None = None,
              rounds: int = 3, reference_rate_per_s: float = 10.0) -> dict:  # fmt: skip
    """`rounds` rounds of the nine variants back to back; ratios are taken within a round
    (neighbours in time share the machine's mood), the median over rounds is reported."""
    server, host = _start_server()
    measured: list[dict[str, Variant]] = []
    try:
        for _ in range(rounds):
            measured.append(_round(host, users, duration_s, rate_per_s))
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()
    per_round = [_ratios(v) for v in measured]
    ratios = {k: statistics.median(r[k] for r in per_round) for k in RATIOS}
    middle = sorted(range(rounds), key=lambda i: per_round[i]["per_visitor_sustained"])[rounds // 2]
    return {
        "duration_s": duration_s,
        "users": users,
        "rounds": rounds,
        "ratios": ratios,
        "ratios_all_rounds": per_round,
        "median_round": {name: v.figures() for name, v in measured[middle].items()},
        "reference_journey": _reference_journey(duration_s, reference_rate_per_s)
        if reference_rate_per_s > 0
        else None,
        "target_ratio": TARGET_RATIO,
        "meets_target": {k: ratios[k] >= TARGET_RATIO for k in RATIOS[:4]},
        "load_average_1m": os.getloadavg()[0],
    }


@dataclass(frozen=True)
class LoadgenBenchOptions:
    duration_s: float = field(default=10.0, metadata={"flag": "--duration"})
    users: int = 20
    rate_per_s: float | None = field(default=None, metadata={"flag": "--rate"})
    rounds: int = 3
    reference_rate_per_s: float = field(default=10.0, metadata={"flag": "--reference-rate"})


def run(options: LoadgenBenchOptions) -> BenchRecord:
    result = run_bench(options.duration_s, options.users, options.rate_per_s, options.rounds,
                       options.reference_rate_per_s)  # fmt: skip
    return new_record("loadgen", options, result)


def describe(record: BenchRecord) -> list[str]:
    r = record.figures
    m = r["median_round"]
    lines = [f"one Locust process per variant, {r['duration_s']:g}s each, {r['rounds']} rounds; "
             f"median round (requests per CPU-second):"]  # fmt: skip
    for name, figures in m.items():
        extra = ""
        if "offered_per_s" in figures:
            extra = (f" @{figures['offered_per_s']:g}/s: {figures['arrivals_late']} late, "
                     f"{figures['arrivals_dropped']} dropped, "
                     f"{figures['arrivals_per_cpu_s']:.0f} arrivals/CPU-s")  # fmt: skip
        conns = figures.get("connections_per_request")
        lines.append(f"  {name:<28} {figures['requests_per_cpu_s']:8.0f} req/CPU-s "
                     f"({figures['requests_per_wall_s']:.0f}/s wall, {conns} conn/req){extra}")  # fmt: skip
    lines.append("driver / plain with the same connection policy (median over rounds): "
                 + ", ".join(f"{k} {v:.2f}" for k, v in r["ratios"].items()))  # fmt: skip
    ref = r.get("reference_journey")
    if ref:
        lines.append(f"reference journey @{ref['offered_per_s']:g}/s: {ref['arrivals_per_cpu_s']:.0f} "
                     f"arrivals/CPU-s ({ref['requests_per_arrival']} requests per arrival, "
                     f"{ref['arrivals_late']} late)")  # fmt: skip
    met = ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in r["meets_target"].items())
    lines.append(f"target >= {r['target_ratio']:.2f} x plain: {met} "
                 f"(load average {r['load_average_1m']:.1f})")  # fmt: skip
    return lines
