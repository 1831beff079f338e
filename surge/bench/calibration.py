"""Predict, then measure, N times per backend (`surge bench calibration`): issue 13's targets.

Each run is one `surge calibrate` command in a subprocess, with its own seed and output
directory under `runs_dir`:

- `validate`: `surge calibrate --validate --start-app B --config ...`: the held-out load level
  (USL-based and platform-network predictions) and the held-out configurations (each scored by
  its predicted throughput ratio to the calibrated deployment);
- `confirm`: `surge calibrate --confirm --start-app B`: R_ok and R_bad, and whether the R_ok
  run's booking p95 is within 25 % of the prediction.

Every finished run appends one JSON line to `runs_dir/runs.jsonl` (kind, backend, seed,
commit, load average, command, exit code, its figures), so the runs can be made in parts, on
one day or several; the record `results/bench/calibration.json` is rebuilt from all lines with,
per backend, how many runs met each target (targets: 4 of 5). `--report-only` rebuilds it
without running anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from surge.bench.record import BenchRecord, git_commit, new_record
from surge.errors import UsageError

KINDS = ("validate", "confirm")
BACKENDS = ("sqlite", "postgresql")
RATIO_TARGET = 0.15
CONFIRM_P95_TARGET = 0.25
CONFIGS = {
    "sqlite": ("workers=2", "cores=2,workers=2"),
    "postgresql": ("workers=2", "cores=2,workers=2", "pool=2"),
}


@dataclass(frozen=True)
class CalibrationBenchOptions:
    runs: int = 5  # per backend and kind
    backends: tuple[str, ...] = BACKENDS
    kinds: tuple[str, ...] = KINDS
    hold_s: float = field(default=10.0, metadata={"flag": "--hold"})
    passes: int = 2
    seed: int = 0  # first run's seed; run i uses seed + i
    db: str | None = None  # PostgreSQL server (default $SURGE_TEST_POSTGRES_URL)
    runs_dir: Path = Path("results/bench/calibration-runs")
    report_only: bool = field(default=False, metadata={"flag": "--report-only"})


def _command(kind: str, backend: str, seed: int, out: Path, options: CalibrationBenchOptions,
             db: str | None) -> list[str]:  # fmt: skip
    cmd = ["calibrate", f"--{kind}", "--start-app", backend, "--out", str(out),
           "--seed", str(seed), "--hold", f"{options.hold_s:g}s"]  # fmt: skip
    if backend == "postgresql":
        cmd += ["--db", db or ""]
    if kind == "validate":
        cmd += ["--passes", str(options.passes), "--replications", "3"]
        for spec in CONFIGS[backend]:
            cmd += ["--config", spec]
    else:  # the calibration's default levels, 1-32: the app saturates at the top
        cmd += ["--replications", "2"]
    return cmd


def _figures(kind: str, out: Path) -> dict:
    if kind == "validate":
        doc = json.loads((out / "validation.json").read_text())
        (level,) = doc["levels"][-1:]
        return {
            "load": level["load"],
            "throughput_error": level["throughput_error"],
            "p95_error": level["p95_error"],
            "network_throughput_error": level.get("network_throughput_error"),
            "network_p95_error": level.get("network_p95_error"),
            "occupancy": doc.get("network", {}).get("occupancy"),
            "configurations": [
                {
                    k: c.get(k)
                    for k in (
                        "config",
                        "predicted_ratio",
                        "measured_ratio",
                        "ratio_error",
                        "measured_utilisation_ratio",
                        "measured_demand_ratio",
                        "predicted_demand_ratio",
                        "throughput_error",
                        "p95_error",
                    )
                }  # fmt: skip
                for c in doc.get("configurations", [])
            ],
        }
    doc = json.loads((out / "confirm.json").read_text())
    ok, bad = doc["runs"]
    predicted, measured = ok["predicted_p95_ms"], ok["measured_p95_ms"]
    return {
        "confirmed": bool(doc.get("confirmed")),
        "r_ok": ok["admission_rate"],
        "r_bad": bad["admission_rate"],
        "ok_p95_predicted_ms": predicted,
        "ok_p95_measured_ms": measured,
        "ok_p95_error": None if not measured else (predicted - measured) / measured,
        "bad_p95_predicted_ms": bad["predicted_p95_ms"],
        "bad_p95_measured_ms": bad["measured_p95_ms"],
    }


def _within(value: float | None, bound: float) -> bool:
    return value is not None and abs(value) <= bound


def summarise(lines: list[dict]) -> dict:
    """Per backend: runs, and how many met each target (validate and confirm)."""
    out: dict[str, dict] = defaultdict(dict)
    for backend in sorted({r["backend"] for r in lines}):
        val = [r for r in lines if r["backend"] == backend and r["kind"] == "validate"]
        con = [r for r in lines if r["backend"] == backend and r["kind"] == "confirm"]
        s = out[backend]
        if val:
            f = [r["figures"] for r in val]
            s["validate_runs"] = len(val)
            s["held_out_level_usl_within"] = sum(
                _within(x["throughput_error"], 0.10) and _within(x["p95_error"], 0.25) for x in f
            )
            s["held_out_level_network_within"] = sum(
                _within(x["network_throughput_error"], 0.10)
                and _within(x["network_p95_error"], 0.25)
                for x in f
            )
            by_config: dict[str, list] = defaultdict(list)
            for x in f:
                for c in x["configurations"]:
                    by_config[c["config"]].append(c)
            s["configurations"] = [
                {
                    "name": name,
                    "runs": len(cs),
                    "ratio_within_15pct": sum(_within(c["ratio_error"], RATIO_TARGET) for c in cs),
                    "predicted_ratio_median": _median([c["predicted_ratio"] for c in cs]),
                    "measured_ratio_median": _median([c["measured_ratio"] for c in cs]),
                    "measured_demand_ratio_median": _median(
                        [c["measured_demand_ratio"] for c in cs]
                    ),
                    "measured_utilisation_ratio_median": _median(
                        [c["measured_utilisation_ratio"] for c in cs]
                    ),
                }
                for name, cs in sorted(by_config.items())
            ]
        if con:
            f = [r["figures"] for r in con]
            s["confirm_runs"] = len(con)
            s["confirm_held"] = sum(x["confirmed"] for x in f)
            s["confirm_held_and_ok_p95_within_25pct"] = sum(
                x["confirmed"] and _within(x["ok_p95_error"], CONFIRM_P95_TARGET) for x in f
            )
            s["ok_p95_errors"] = [x["ok_p95_error"] for x in f]
        s["load_average_1m"] = [r["load_average_1m"] for r in [*val, *con]]
    return dict(out)


def _median(values: list) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def read_lines(runs_dir: Path) -> list[dict]:
    path = runs_dir / "runs.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(options: CalibrationBenchOptions) -> BenchRecord:
    if options.runs < 1 or options.passes < 1 or options.hold_s <= 0:
        raise UsageError("--runs and --passes must be >= 1, --hold > 0")
    for name, allowed in (("backends", BACKENDS), ("kinds", KINDS)):
        bad = set(getattr(options, name)) - set(allowed)
        if bad:
            raise UsageError(f"--{name}: unknown {sorted(bad)} (choose from {', '.join(allowed)})")
    if options.report_only:
        lines = read_lines(options.runs_dir)
        if not lines:
            raise UsageError(f"--report-only: no runs in {options.runs_dir / 'runs.jsonl'}")
        return _record(options, lines)
    db = options.db or os.environ.get("SURGE_TEST_POSTGRES_URL")
    if "postgresql" in options.backends and not db:
        raise UsageError("the postgresql backend needs --db URL (or SURGE_TEST_POSTGRES_URL)")
    options.runs_dir.mkdir(parents=True, exist_ok=True)
    for backend in options.backends:
        for kind in options.kinds:
            for i in range(options.runs):
                seed = options.seed + i
                out = options.runs_dir / f"{kind}-{backend}-seed{seed}"
                cmd = _command(kind, backend, seed, out, options, db)
                print(f"surge {' '.join(cmd)}", file=sys.stderr, flush=True)
                load = os.getloadavg()[0]
                done = subprocess.run([sys.executable, "-m", "surge", *cmd], check=False)  # noqa: S603 - our own CLI, an argument list
                if done.returncode not in (0, 4):
                    raise RuntimeError(f"surge {' '.join(cmd)} exited {done.returncode}")
                line = {
                    "kind": kind, "backend": backend, "seed": seed, "commit": git_commit(),
                    "load_average_1m": round(max(load, os.getloadavg()[0]), 2),
                    "command": "surge " + " ".join(cmd).replace(db or "\0", "URL"),
                    "exit_code": done.returncode, "figures": _figures(kind, out),
                }  # fmt: skip
                with (options.runs_dir / "runs.jsonl").open("a") as fh:
                    fh.write(json.dumps(line) + "\n")
    return _record(options, read_lines(options.runs_dir))


def _record(options: CalibrationBenchOptions, lines: list[dict]) -> BenchRecord:
    return new_record("calibration", options, {"by_backend": summarise(lines), "runs": len(lines)})


def describe(record: BenchRecord) -> list[str]:
    out = []
    for backend, s in record.figures["by_backend"].items():
        if "validate_runs" in s:
            n = s["validate_runs"]
            out.append(
                f"{backend}: held-out level within targets {s['held_out_level_network_within']}/"
                f"{n} (network model), {s['held_out_level_usl_within']}/{n} (USL)"
            )
            for c in s["configurations"]:
                out.append(
                    f"{backend}: config {c['name']}: ratio within 15 % in "
                    f"{c['ratio_within_15pct']}/{c['runs']} (median predicted "
                    f"{c['predicted_ratio_median']:.3f}, measured {c['measured_ratio_median']:.3f})"
                )
        if "confirm_runs" in s:
            out.append(
                f"{backend}: confirm held {s['confirm_held']}/{s['confirm_runs']}, with the R_ok "
                f"p95 within 25 % {s['confirm_held_and_ok_p95_within_25pct']}/{s['confirm_runs']}"
            )
    return out
