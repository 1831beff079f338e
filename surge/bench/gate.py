"""How sharp the A/B regression gate is on this machine (`surge bench gate`).

Everything runs against one reference app on SQLite (`started_app`), through `surge proxy`
processes, or against a second app with `--inject-cpu`. Four parts (`--part`, all by default):

- **overhead**: one decision, the app directly (A) against one proxy hop (B): the proxy's B/A
  median ratio, and the route's median that sizes the CPU injection;
- **aa**: `aa` A/A decisions through two plain proxies; false-alarm rate = share of exit 3;
- **power**: for each slow-down factor of the `availability` route (`--factors`, x1.10, x1.25,
  x1.5, x2) and kind (`--kinds`), `reps` A/B decisions with the slow-down injected as a proxy
  delay (`GLOB=xF`) or as in-app CPU (`--inject-cpu`, F - 1 times the route's direct median,
  against a second app); power = share of decisions with exit 3. The CPU factor is nominal: CPU
  milliseconds stretch in wall time on a contended machine, and the second app is another
  process;
- **changepoints**: no load; synthetic histories (40 runs, a step of +10 % or +25 % at run 20)
  whose noise is resampled from the per-pair log ratios of the real A/A decisions; recall,
  precision and detection delay (in commits) of `loadtests.history.detect`.

Each decision is appended to a JSONL file under `--decisions` (`surge.bench.gate_decisions`);
the figures are always merged from every record there, so parts run on several occasions add
up (delete the directory to start over). Rates carry 95 % Clopper-Pearson intervals.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from loadtests.ab import ABOptions, run_ab
from loadtests.app_launcher import started_app
from loadtests.proxy import started_proxy
from surge.bench.gate_decisions import (
    ROUTE,
    append_decision,
    change_point_scores,
    read_decisions,
    summarize,
)
from surge.bench.record import BenchRecord, command_line, git_commit, new_record
from surge.errors import UsageError

__all__ = ["GateBenchOptions", "change_point_scores", "describe", "measure_gate", "run"]

ROUTE_GLOB = "/centers/*/availability"
FACTORS = (1.10, 1.25, 1.5, 2.0)
KINDS = ("proxy", "cpu")
PARTS = ("overhead", "aa", "power", "changepoints")
DECISIONS_DIR = Path("results/bench/gate-decisions")


@dataclass(frozen=True)
class GateBenchOptions:
    aa: int = 60  # A/A decisions
    reps: int = 10  # decisions per slow-down factor and kind
    budget_s: float = field(default=300.0, metadata={"flag": "--budget"})  # per A/B decision
    aa_budget_s: float = field(default=60.0, metadata={"flag": "--aa-budget"})  # per A/A
    factors: tuple[float, ...] = FACTORS
    kinds: tuple[str, ...] = KINDS
    parts: tuple[str, ...] = field(default=PARTS, metadata={"flag": "--part"})
    decisions: Path = DECISIONS_DIR  # where decision records accumulate

    def __post_init__(self) -> None:
        if self.aa < 1 or self.reps < 1:
            raise UsageError("--aa and --reps must be >= 1")
        if not self.budget_s > 0 or not self.aa_budget_s > 0:
            raise UsageError("--budget and --aa-budget must be > 0")
        if not self.factors or any(not f > 1.0 for f in self.factors):
            raise UsageError("--factors must be slow-down ratios > 1, e.g. 1.25,2")
        if not self.kinds or not set(self.kinds) <= set(KINDS):
            raise UsageError(f"--kinds must be among {','.join(KINDS)}")
        if not self.parts or not set(self.parts) <= set(PARTS):
            raise UsageError(f"--part must be among {','.join(PARTS)}")


def _availability_slices(out: Path) -> tuple[list[float], list[float]]:
    """Per pair of `out/slices.csv`: the log ratio B/A of the route's medians; and arm A's medians."""
    by_pair: dict[str, dict[str, float]] = {}
    with (out / "slices.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["route"] == ROUTE and row["p50_ms"]:
                by_pair.setdefault(row["pair"], {})[row["arm"]] = float(row["p50_ms"])
    logs = [float(np.log(v["b"] / v["a"])) for v in by_pair.values() if {"a", "b"} <= set(v)]
    return logs, [v["a"] for v in by_pair.values() if "a" in v]


class _Recorder:
    """Runs decisions and appends one record each to this invocation's JSONL file."""

    def __init__(self, work: Path, options: GateBenchOptions, echo: Callable[[str], None]):
        self.work, self.options, self.echo = work, options, echo
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.path = options.decisions / f"{stamp}-{os.getpid()}.jsonl"
        self.commit = git_commit()
        self.command = command_line("gate", options)
        self.count = 0

    def seed(self, kind: str, factor: float) -> int:
        """A seed no earlier record of this kind and factor used (runs in parts stay distinct)."""
        done = [
            r for r in read_decisions(self.options.decisions)
            if r["kind"] == kind and float(r["factor"]) == factor
        ]  # fmt: skip
        base = {"overhead": 1, "aa": 100, "proxy": 1000, "cpu": 1000}[kind]
        return base + max((r["seed"] - base + 1 for r in done), default=0)

    def decide(self, kind: str, factor: float, host_a: str, host_b: str, budget_s: float,
               **extra: object) -> dict:  # fmt: skip
        seed = self.seed(kind, factor)
        out = self.work / f"{kind}-{factor:g}-{seed}"
        load = os.getloadavg()[0]
        date = datetime.now(UTC).isoformat(timespec="seconds")
        doc = run_ab(ABOptions(out_dir=out, host_a=host_a, host_b=host_b, budget_s=budget_s,
                               seed=seed))  # fmt: skip
        logs, a_medians = _availability_slices(out)
        route = next(r for r in doc["routes"] if r["route"] == ROUTE)
        record = {
            "kind": kind, "factor": factor, "seed": seed, "budget_s": budget_s,
            "exit_code": doc["exit_code"], "verdict": doc["verdict"], "pairs": doc["pairs"],
            "elapsed_s": doc["elapsed_s"], "date_utc": date, "commit": self.commit,
            "command": self.command,
            "loadavg_1min_start": round(load, 2), "loadavg_1min_end": round(os.getloadavg()[0], 2),
            "route_verdicts": {r["route"]: r["verdict"] for r in doc["routes"]},
            **{k: route[k] for k in ("p50_ratio", "p50_low", "p50_high", "p95_ratio")},
            "a_p50_ms": round(float(np.median(a_medians)), 4) if a_medians else None,
            "log_ratios": [round(x, 5) for x in logs],
            "rule": doc["rule"], "requests_per_route": doc["requests_per_route"], **extra,
        }  # fmt: skip
        append_decision(self.path, record)
        self.count += 1
        self.echo(
            f"gate bench: {kind} x{factor:g} seed {seed}: exit {doc['exit_code']}, B/A "
            f"x{route['p50_ratio'] or float('nan'):.3f} [{route['p50_low'] or 0:.3f}, "
            f"{route['p50_high'] or float('inf'):.3f}] after {doc['pairs']} pairs, "
            f"{doc['elapsed_s']:.0f} s, load {load:.2f}"
        )
        return record


def _route_ms(rec: _Recorder, base: str) -> float:
    """The route's median straight from the app: from the overhead decisions, run one if none."""
    medians = [r["a_p50_ms"] for r in read_decisions(rec.options.decisions)
               if r["kind"] == "overhead" and r.get("a_p50_ms")]  # fmt: skip
    if not medians:
        with started_proxy(base) as proxy:
            medians = [
                rec.decide("overhead", 1.0, base, proxy, rec.options.aa_budget_s)["a_p50_ms"]
            ]
    return float(np.median(medians))


def _power(rec: _Recorder, base: str, work: Path) -> None:
    o = rec.options
    route_ms = _route_ms(rec, base) if "cpu" in o.kinds else 0.0
    for factor in o.factors:
        for kind in o.kinds:
            with ExitStack() as stack:
                if kind == "proxy":
                    host_a = stack.enter_context(started_proxy(base))
                    delay = [f"{ROUTE_GLOB}=x{factor}"]
                    host_b = stack.enter_context(started_proxy(base, delays=delay))
                    extra: dict = {}
                else:
                    ms = (factor - 1.0) * route_ms
                    app_dir = work / f"cpu-app-{factor:g}"
                    app_dir.mkdir(exist_ok=True)
                    rule = ("--inject-cpu", f"{ROUTE_GLOB}={ms:.3f}")
                    slow = stack.enter_context(
                        started_app("sqlite", app_dir, centers=20, extra_args=rule)
                    )
                    host_a, host_b, extra = base, slow.base_url, {"injected_cpu_ms": round(ms, 3)}
                for _ in range(o.reps):
                    rec.decide(kind, factor, host_a, host_b, o.budget_s, **extra)


def measure_gate(options: GateBenchOptions, echo: Callable[[str], None] = lambda _l: None) -> dict:
    """Run the parts asked for, appending decisions; return the summary of every record."""
    started = time.monotonic()
    load_parts = [p for p in options.parts if p != "changepoints"]
    with tempfile.TemporaryDirectory(prefix="surge-bench-gate-") as tmp:
        work = Path(tmp)
        rec = _Recorder(work, options, echo)
        if load_parts:
            (work / "app").mkdir()
            with started_app("sqlite", work / "app", centers=20) as app:
                base = app.base_url
                if "overhead" in options.parts:
                    with started_proxy(base) as proxy:
                        rec.decide("overhead", 1.0, base, proxy, options.aa_budget_s)
                if "aa" in options.parts:
                    with started_proxy(base) as pa, started_proxy(base) as pb:
                        for _ in range(options.aa):
                            rec.decide("aa", 1.0, pa, pb, options.aa_budget_s)
                if "power" in options.parts:
                    _power(rec, base, work)
    figures = summarize(read_decisions(options.decisions))
    figures["this_invocation"] = {
        "parts": list(options.parts),
        "decisions_added": rec.count,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    return figures


def run(options: GateBenchOptions) -> BenchRecord:
    figures = measure_gate(options, echo=lambda line: print(line, file=sys.stderr))
    return new_record("gate", options, figures)


def describe(record: BenchRecord) -> list[str]:
    result = record.figures
    fa = result["false_alarms"]
    lines = [
        f"false alarms: {fa['alarms']}/{fa['decisions']} A/A decisions (budgets "
        f"{fa['budgets_s']} s; {fa['clean']} clean, {fa['undecided']} undecided), "
        f"95 % CI {fa['ci95']}"
    ]
    for p in result["power"]:
        lines.append(
            f"power {p['name']:<16} {p['detected']}/{p['decisions']} = {p['power']:.2f}, "
            f"95 % CI {p['ci95']}, median B/A x{p['median_ratio']}, {p['undecided']} undecided, "
            f"{p['slowed_route_flagged']} flagged {ROUTE}, {p['other_route_flagged']} another route"
        )
    o = result["proxy_overhead"]
    if o["decisions"]:
        lines.append(f"proxy overhead availability: median B/A x{o['median_ratio_p50']}")
    for key, noise in (("change_points", "pair"), ("change_points_run_to_run", "run-to-run")):
        for step, c in (result.get(key) or {}).items():
            lines.append(
                f"change points {step} ({noise} noise): recall {c['recall']} "
                f"{c['recall_ci95']}, precision {c['precision']}, "
                f"delay {c['mean_delay_commits']} commits"
            )
    return lines
