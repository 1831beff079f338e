"""How many requests/s one load-generator process sends: plain Locust FastHttpUser vs the Patient
journey's per-request overhead vs the open-model driver, against the same trivial endpoint
(`loadtests.driver.fifo_server` with zero service time), in one run.

Each variant is one Locust process, run in turn for the same time. The figure that counts is
requests per CPU-second of that process (`loadtests/journeys/bench/cpu_clock.py`): the rate one process
sustains on one full core, which other jobs on a shared machine do not distort the way they
distort wall-clock requests/s (also reported). The closed variants run `users` users without
think time; the open-model driver is offered `rate_per_s`, by default 0.8 x the wall-clock rate
plain Locust reached against the same endpoint just before, so the endpoint keeps up and the
driver is not made to open a connection per queued arrival.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

import loadtests
from surge.bench.record import BenchRecord, new_record

__all__ = ["LoadgenBenchOptions", "LoadgenResult", "describe", "run", "run_bench"]

BENCH_DIR = Path(loadtests.__file__).parent / "journeys" / "bench"
TARGET_RATIO = 0.8
# Locust's -t counts from process start; a busy machine can spend seconds importing. The
# figures only use the test window itself (test_start -> test_stop, `cpu_clock.py`).
STARTUP_S = 10.0


@dataclass(frozen=True)
class Variant:
    requests: int
    cpu_s: float
    wall_s: float

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def per_wall_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class LoadgenResult:
    duration_s: float
    users: int
    rounds: int
    open_model_offered_rps: float
    plain: dict
    patient_overhead: dict
    open_model: dict
    open_model_late: int
    open_model_dropped: int
    patient_overhead_ratio: float
    open_model_ratio: float
    open_model_ratio_all_rounds: list
    patient_overhead_ratio_all_rounds: list
    target_ratio: float
    meets_target: bool
    load_average_1m: float


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


def _locust(
    locustfile: str, host: str, users: int, duration_s: float, extra: list[str]
) -> tuple[Variant, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "bench"
        command = [
            sys.executable, "-m", "locust", "-f", str(BENCH_DIR / locustfile), "--headless",
            "-u", str(users), "-r", str(users), "-t", f"{duration_s + STARTUP_S:g}s", "-H", host,
            "--csv", str(prefix), "--only-summary", "--exit-code-on-error", "0", *extra,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 120)  # noqa: S603 - an argument list of our own, no shell
        if done.returncode != 0:
            raise OSError(f"locust failed on {locustfile}: {done.stderr.strip()[-300:]}")
        stats = pd.read_csv(f"{prefix}_stats.csv").set_index("Name")
        surge_path = Path(f"{prefix}_surge.json")
        surge = json.loads(surge_path.read_text()) if surge_path.exists() else {}
        cpu = json.loads(Path(f"{prefix}_cpu.json").read_text())
    failures = int(stats.loc["Aggregated", "Failure Count"])
    if failures:
        raise OSError(f"{locustfile}: {failures} failed requests against the trivial endpoint")
    return Variant(int(cpu["requests"]), cpu["cpu_s"], cpu["wall_s"]), surge.get("counters", {})


def _figures(v: Variant) -> dict:
    return {
        "requests": v.requests,
        "cpu_s": round(v.cpu_s, 3),
        "wall_s": round(v.wall_s, 3),
        "requests_per_cpu_s": round(v.per_cpu_s, 1),
        "requests_per_wall_s": round(v.per_wall_s, 1),
    }


def run_bench(
    duration_s: float = 10.0, users: int = 20, rate_per_s: float | None = None, rounds: int = 3
) -> LoadgenResult:
    """`rounds` rounds of (plain, patient, open model) back to back; ratios are taken within a
    round (neighbours in time share the machine's mood) and the median round is reported."""
    server, host = _start_server()
    measured: list[tuple[Variant, Variant, Variant, dict, float]] = []
    try:
        for _ in range(rounds):
            plain, _ = _locust("plain_locustfile.py", host, users, duration_s, [])
            patient, _ = _locust("patient_locustfile.py", host, users, duration_s, [])
            offered = rate_per_s or max(0.8 * plain.per_wall_s, 1.0)
            arrivals, counters = _locust(
                "arrival_locustfile.py", host, 1, duration_s,
                ["--arrival-rate", f"{offered:.1f}", "--arrival-users", "1"],
            )  # fmt: skip
            measured.append((plain, patient, arrivals, counters, offered))
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()

    def ratio(a: Variant, b: Variant) -> float:
        return a.per_cpu_s / b.per_cpu_s if b.per_cpu_s else 0.0

    ranked = sorted(measured, key=lambda m: ratio(m[2], m[0]))
    plain, patient, arrivals, counters, offered = ranked[len(ranked) // 2]
    open_ratio = ratio(arrivals, plain)
    return LoadgenResult(
        duration_s=duration_s,
        users=users,
        rounds=rounds,
        open_model_offered_rps=round(offered, 1),
        plain=_figures(plain),
        patient_overhead=_figures(patient),
        open_model=_figures(arrivals),
        open_model_late=int(counters.get("arrivals:late", 0)),
        open_model_dropped=int(counters.get("arrivals:dropped", 0)),
        patient_overhead_ratio=ratio(patient, plain),
        open_model_ratio=open_ratio,
        open_model_ratio_all_rounds=[round(ratio(m[2], m[0]), 3) for m in measured],
        patient_overhead_ratio_all_rounds=[round(ratio(m[1], m[0]), 3) for m in measured],
        target_ratio=TARGET_RATIO,
        meets_target=open_ratio >= TARGET_RATIO,
        load_average_1m=os.getloadavg()[0],
    )


@dataclass(frozen=True)
class LoadgenBenchOptions:
    duration_s: float = field(default=10.0, metadata={"flag": "--duration"})
    users: int = 20
    rate_per_s: float | None = field(default=None, metadata={"flag": "--rate"})
    rounds: int = 3


def run(options: LoadgenBenchOptions) -> BenchRecord:
    result = run_bench(options.duration_s, options.users, options.rate_per_s, options.rounds)
    return new_record("loadgen", options, asdict(result))


def describe(record: BenchRecord) -> list[str]:
    r = record.figures
    lines = [
        f"one Locust process per variant, {r['duration_s']:g}s each, median of {r['rounds']} "
        "rounds (requests per CPU-second):"
    ]
    for label, figures, ratio in (
        ("plain FastHttpUser", r["plain"], 1.0),
        ("Patient journey overhead", r["patient_overhead"], r["patient_overhead_ratio"]),
        (f"open model @{r['open_model_offered_rps']:g}/s", r["open_model"], r["open_model_ratio"]),
    ):
        lines.append(
            f"  {label:<28} {figures['requests_per_cpu_s']:8.0f} req/CPU-s "
            f"({ratio:.2f} x plain; {figures['requests_per_wall_s']:.0f} req/s wall)"
        )
    lines.append(
        f"  open model: {r['open_model_late']} late, {r['open_model_dropped']} dropped; "
        f"target >= {r['target_ratio']:.2f} x plain: "
        f"{'met' if r['meets_target'] else 'NOT met'} (load average {r['load_average_1m']:.1f})"
    )
    lines.append(
        f"  open model / plain in every round: {r['open_model_ratio_all_rounds']}; "
        f"Patient / plain: {r['patient_overhead_ratio_all_rounds']}"
    )
    return lines
