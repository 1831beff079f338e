"""How sharp the A/B regression gate is on this machine (`surge bench gate`).

Everything runs against one reference app on SQLite (`started_app`), through `surge proxy`
processes, or against a second app with `--inject-cpu`:

- **power**: for each slow-down factor of the `availability` route (x1.10, x1.25, x1.5, x2),
  `reps` A/B decisions with the slow-down injected as a proxy delay (`GLOB=xF`) and as in-app
  CPU (`--inject-cpu`, F - 1 times the route's median measured in the A/A decisions, against a
  second app); power = share of decisions with exit 3, with a Clopper-Pearson 95 % interval, and
  the B/A ratio each decision measured. The CPU factor is nominal: CPU milliseconds stretch in
  wall time on a contended machine, and the second app is another process;
- **false alarms**: `aa` A/A decisions through two plain proxies; rate of exit 3 with its
  interval (zero alarms in n: the 95 % upper bound is about 3/n);
- **proxy overhead**: B/A median ratio of the proxy against the app directly;
- **change points**: synthetic histories (40 runs, a step of +10 % or +25 % at run 20) whose noise
  is resampled from the per-pair log ratios of the real A/A decisions; recall, precision and
  detection delay (in commits) of `loadtests.history.detect`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from loadtests.ab import ABOptions, run_ab
from loadtests.app_launcher import started_app
from loadtests.history import detect
from loadtests.proxy import started_proxy
from surge.bench.record import BenchRecord, new_record
from surge.errors import UsageError

__all__ = ["measure_gate"]

ROUTE_GLOB = "/centers/*/availability"
FACTORS = (1.10, 1.25, 1.5, 2.0)


def _interval(hits: int, n: int) -> list[float]:
    from scipy.stats import binomtest

    if n == 0:
        return [0.0, 1.0]
    ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="exact")
    return [round(ci.low, 4), round(ci.high, 4)]


def _decide(out: Path, host_a: str, host_b: str, budget_s: float, seed: int) -> dict:
    return run_ab(ABOptions(out_dir=out, host_a=host_a, host_b=host_b, budget_s=budget_s,
                            seed=seed))  # fmt: skip


def _aa_logs(out: Path) -> list[float]:
    import csv

    by_pair: dict[tuple[str, str], dict[str, float]] = {}
    with (out / "slices.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["route"] == "availability" and row["p50_ms"]:
                by_pair.setdefault((row["pair"], row["route"]), {})[row["arm"]] = float(
                    row["p50_ms"]
                )
    return [float(np.log(v["b"] / v["a"])) for v in by_pair.values() if {"a", "b"} <= set(v)]


def change_point_scores(noise: np.ndarray, histories: int = 200, seed: int = 0) -> dict:
    """Recall, precision and delay of `detect` on synthetic 40-run histories with real noise."""
    rng = np.random.default_rng(seed)
    scores = {}
    for step in (0.10, 0.25):
        found = false = delays = 0
        for _ in range(histories):
            level = np.where(np.arange(40) >= 20, np.log1p(step), 0.0)
            series = np.exp(level + rng.choice(noise, 40, replace=True))
            cuts = detect(list(5.0 * series))
            hit = [c for c in cuts if 20 <= c <= 25]
            found += bool(hit)
            delays += (hit[0] - 20) if hit else 0
            false += len(cuts) - (1 if hit else 0)
        scores[f"+{step:.0%}"] = {
            "histories": histories,
            "recall": round(found / histories, 4),
            "recall_ci95": _interval(found, histories),
            "precision": round(found / (found + false), 4) if found + false else None,
            "mean_delay_commits": round(delays / found, 3) if found else None,
        }
    return scores


def measure_gate(
    aa: int = 60,
    reps: int = 10,
    budget_s: float = 300.0,
    aa_budget_s: float = 60.0,
    echo: Callable[[str], None] = lambda _line: None,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="surge-bench-gate-") as tmp:
        return _measure(Path(tmp), aa, reps, budget_s, aa_budget_s, echo)


def _measure(
    work: Path,
    aa: int,
    reps: int,
    budget_s: float,
    aa_budget_s: float,
    echo: Callable[[str], None],
) -> dict:
    started = time.monotonic()
    result: dict = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_1min_start": round(os.getloadavg()[0], 2),
        "budget_s": budget_s,
        "aa_budget_s": aa_budget_s,
        "route": "availability",
    }
    (work / "app").mkdir()
    with started_app("sqlite", work / "app", centers=20) as app:
        base = app.base_url
        # Proxy overhead: the app directly (A) against one proxy hop (B).
        with started_proxy(base) as proxy:
            doc = _decide(work / "overhead", base, proxy, aa_budget_s, seed=1)
        result["proxy_overhead"] = {r["route"]: {"ratio_p50": r["p50_ratio"], "low": r["p50_low"],
                                                 "high": r["p50_high"]} for r in doc["routes"]}  # fmt: skip
        # A/A through two plain proxies.
        codes, logs, medians = [], [], []
        with started_proxy(base) as pa, started_proxy(base) as pb:
            for i in range(aa):
                out = work / f"aa-{i}"
                doc = _decide(out, pa, pb, aa_budget_s, seed=100 + i)
                codes.append(doc["exit_code"])
                logs += _aa_logs(out)
                medians += [_median_a(out)]
                echo(f"gate bench: A/A {i + 1}/{aa}: exit {doc['exit_code']}")
        alarms = codes.count(3)
        result["false_alarms"] = {"decisions": aa, "alarms": alarms,
                                  "rate": round(alarms / aa, 4), "ci95": _interval(alarms, aa),
                                  "clean": codes.count(0), "undecided": codes.count(4)}  # fmt: skip
        route_ms = float(np.median(medians))
        result["availability_p50_ms"] = round(route_ms, 3)
        power = []
        for factor in FACTORS:
            for kind in ("proxy", "cpu"):
                hits, ratios = [], []
                for r in range(reps):
                    out = work / f"{kind}-{factor}-{r}"
                    if kind == "proxy":
                        with (
                            started_proxy(base) as pa,
                            started_proxy(base, delays=[f"{ROUTE_GLOB}=x{factor}"]) as pb,
                        ):
                            doc = _decide(out, pa, pb, budget_s, seed=1000 + r)
                    else:
                        ms = (factor - 1.0) * route_ms
                        (work / f"cpu-app-{factor}-{r}").mkdir()
                        rule = ("--inject-cpu", f"{ROUTE_GLOB}={ms:.3f}")
                        app_dir = work / f"cpu-app-{factor}-{r}"
                        with started_app("sqlite", app_dir, centers=20, extra_args=rule) as slow:
                            doc = _decide(out, base, slow.base_url, budget_s, seed=1000 + r)
                    hits.append(doc["exit_code"] == 3)
                    route = next(r for r in doc["routes"] if r["route"] == "availability")
                    ratios.append(route["p50_ratio"])
                    echo(f"gate bench: {kind} x{factor} {r + 1}/{reps}: exit {doc['exit_code']}")
                power.append({"kind": kind, "factor": factor, "decisions": reps,
                              "detected": sum(hits), "power": round(sum(hits) / reps, 4),
                              "ci95": _interval(sum(hits), reps),
                              "measured_ratios": ratios})  # fmt: skip
        result["power"] = power
    noise = np.asarray(logs, dtype=float)
    result["noise_pairs"] = int(noise.size)
    result["change_points"] = change_point_scores(noise) if noise.size >= 10 else None
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
    return result


def _median_a(out: Path) -> float:
    import csv

    with (out / "slices.csv").open(newline="") as handle:
        values = [float(r["p50_ms"]) for r in csv.DictReader(handle)
                  if r["route"] == "availability" and r["arm"] == "a" and r["p50_ms"]]  # fmt: skip
    return float(np.median(values))


def write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


@dataclass(frozen=True)
class GateBenchOptions:
    aa: int = 60  # A/A decisions
    reps: int = 10  # decisions per slow-down factor and kind
    budget_s: float = field(default=300.0, metadata={"flag": "--budget"})  # per A/B decision
    aa_budget_s: float = field(default=60.0, metadata={"flag": "--aa-budget"})  # per A/A


def run(options: GateBenchOptions) -> BenchRecord:
    if options.aa < 1 or options.reps < 1:
        raise UsageError("--aa and --reps must be >= 1")
    result = measure_gate(
        aa=options.aa,
        reps=options.reps,
        budget_s=options.budget_s,
        aa_budget_s=options.aa_budget_s,
        echo=lambda line: print(line, file=sys.stderr),
    )
    return new_record("gate", options, result)


def describe(record: BenchRecord) -> list[str]:
    result = record.figures
    fa = result["false_alarms"]
    lines = [f"false alarms: {fa['alarms']}/{fa['decisions']} A/A decisions, 95 % CI {fa['ci95']}"]
    for p in result["power"]:
        lines.append(
            f"power {p['kind']:<5} x{p['factor']:<5} {p['detected']}/{p['decisions']} "
            f"= {p['power']:.2f}, 95 % CI {p['ci95']}"
        )
    for route, o in result["proxy_overhead"].items():
        lines.append(f"proxy overhead {route:<13} x{o['ratio_p50']} [{o['low']}, {o['high']}]")
    for step, c in (result["change_points"] or {}).items():
        lines.append(
            f"change points {step}: recall {c['recall']} {c['recall_ci95']}, precision "
            f"{c['precision']}, delay {c['mean_delay_commits']} commits"
        )
    return lines
