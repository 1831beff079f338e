"""The summary of a run directory: per-route figures, bookings, arrivals, invariants, steps, SLOs.

Pure functions over what the run left on disk (Locust CSV stats, the recorder's JSON, the
per-request records); `read_run` loads them, `build_summary` makes the `summary.json` dict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loadtests.errors import RunDirectoryError
from loadtests.shapes.profile import LoadProfile
from loadtests.telemetry import SATURATED_SHARE, role_figures
from loadtests.verdicts.slo import JourneyMeasured, Measured, judge

if TYPE_CHECKING:
    from simulations.scenario.slo import Slo

__all__ = ["RunData", "build_summary", "measured_of", "read_run", "step_aggregates"]

ROUTE_PERCENTILES = (50, 95, 99)
STEPPED_KINDS = ("steps", "spike", "soak")


class RunData:
    """The files of one run directory, loaded."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.stats = pd.read_csv(out_dir / "locust_stats.csv")
        history = out_dir / "locust_stats_history.csv"
        self.history = pd.read_csv(history) if history.exists() else pd.DataFrame()
        surge = out_dir / "locust_surge.json"
        self.surge: dict[str, Any] = json.loads(surge.read_text()) if surge.exists() else {}
        requests = out_dir / "requests.csv"
        self.requests = (
            pd.read_csv(requests, keep_default_na=False) if requests.exists() else pd.DataFrame()
        )
        monitor = out_dir / "monitor.csv"
        self.monitor = pd.read_csv(monitor) if monitor.exists() else pd.DataFrame()
        telemetry = out_dir / "telemetry.csv"
        self.telemetry = pd.read_csv(telemetry) if telemetry.exists() else pd.DataFrame()
        plan = out_dir / "plan.json"
        self.plan: dict[str, Any] = json.loads(plan.read_text()) if plan.exists() else {}

    @property
    def start_epoch_s(self) -> float:
        start = self.surge.get("test_start_epoch_s")
        if start:
            return float(start)
        if len(self.requests):
            return float(self.requests["start_epoch_s"].min())
        return 0.0

    @property
    def telemetry_offset_s(self) -> float:
        """Add to telemetry's `elapsed_s` to get seconds since the test start (the time axis)."""
        origin = self.plan.get("telemetry_start_epoch_s")
        return float(origin) - self.start_epoch_s if origin else 0.0

    @property
    def profile(self) -> LoadProfile | None:
        spec = self.plan.get("profile")
        if not spec:
            return None
        return LoadProfile(spec["kind"], spec["unit"], tuple(tuple(p) for p in spec["points"]))


def read_run(out_dir: Path) -> RunData:
    if not (out_dir / "locust_stats.csv").exists():
        raise RunDirectoryError(f"{out_dir} is not a load-test run directory (no locust_stats.csv)")
    return RunData(out_dir)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _routes(run: RunData) -> dict[str, dict[str, Any]]:
    """Per route. Counts come from the per-request records when there are some: Locust rewrites
    its CSV once a second, so it misses the requests of the last moments of a run."""
    routes: dict[str, dict[str, Any]] = {}
    hdr = run.surge.get("hdr", {})
    recorded: dict[str, tuple[int, int]] = {}
    if len(run.requests):
        ok = run.requests["ok"].astype(int)
        for name, part in ok.groupby(run.requests["name"]):
            recorded[str(name)] = (int(len(part)), int((part == 0).sum()))
    for row in run.stats.to_dict("records"):
        name = row["Name"]
        if name == "Aggregated":
            continue
        count, failures = recorded.get(name, (int(row["Request Count"]), int(row["Failure Count"])))
        entry: dict[str, Any] = {
            "method": row.get("Type"),
            "count": count,
            "failures": failures,
            "rps": _num(row["Requests/s"]),
            "locust": {
                "count": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                **{f"p{p}_ms": _num(row.get(f"{p}%")) for p in ROUTE_PERCENTILES},
                "mean_ms": _num(row["Average Response Time"]),
            },
        }
        h = hdr.get(name, {})
        entry["hdr"] = {f"p{p}_ms": h.get(f"p{p}_ms") for p in ROUTE_PERCENTILES}
        entry["hdr"]["mean_ms"] = h.get("mean_ms")
        entry["hdr"]["max_ms"] = h.get("max_ms")
        routes[name] = entry
    return routes


def step_aggregates(
    requests: pd.DataFrame, profile: LoadProfile, start_epoch_s: float, settle_s: float = 5.0
) -> list[dict[str, Any]]:
    """Steady-state figures of each flat window of the profile (each step of a step shape).

    The first `settle_s` of a window (at most a third of it) is skipped, so a step's figures
    describe its steady state, not the transition into it.
    """
    steps = []
    t = (
        requests["start_epoch_s"].astype(float) - start_epoch_s
        if len(requests)
        else pd.Series(dtype=float)
    )
    for i, window in enumerate(profile.windows()):
        settle = min(settle_s, (window.end_s - window.start_s) / 3)
        lo, hi = window.start_s + settle, window.end_s
        part = requests[(t >= lo) & (t < hi)] if len(requests) else requests
        span = hi - lo
        entry: dict[str, Any] = {
            "step": i,
            "level": window.level,
            "unit": profile.unit,
            "start_s": window.start_s,
            "steady_from_s": lo,
            "end_s": hi,
            "requests": int(len(part)),
            "rps": len(part) / span if span > 0 else None,
        }
        if len(part):
            times = part["response_time_ms"].astype(float)
            entry["error_rate"] = float(1 - part["ok"].astype(int).mean())
            for p in ROUTE_PERCENTILES:
                entry[f"p{p}_ms"] = float(np.percentile(times, p))
            entry["routes"] = {
                name: {
                    "requests": int(len(g)),
                    "rps": len(g) / span,
                    **{
                        f"p{p}_ms": float(np.percentile(g["response_time_ms"].astype(float), p))
                        for p in ROUTE_PERCENTILES
                    },
                }
                for name, g in part.groupby("name")
            }
        steps.append(entry)
    return steps


def measured_of(summary: dict[str, Any]) -> Measured:
    """The figures the SLO verdict reads: HDR percentiles when recorded, else Locust's; the
    reference journey's figures when it ran (not with a journey file of the user's own). The
    reference journey may leave some of its routes unused (the queue routes without a waiting
    room); a user's journey must use every request name its SLO names."""
    from simulations.scenario.slo import ROUTES

    p95, p99 = {}, {}
    for name, route in summary["routes"].items():
        if not route["count"]:
            continue
        for key, target in (("p95_ms", p95), ("p99_ms", p99)):
            value = route["hdr"].get(key)
            target[name] = value if value is not None else route["locust"].get(key)
    invariants = summary.get("invariants")
    journey = summary.get("journey") or {"reference": True, "admin_key": True}
    if not journey["reference"]:
        return Measured(p95_ms=p95, p99_ms=p99, error_rate=summary["total"]["error_rate"])
    return Measured(
        p95_ms=p95,
        p99_ms=p99,
        error_rate=summary["total"]["error_rate"],
        journey=JourneyMeasured(
            booking_success=summary["bookings"]["success_rate"],
            waiting_room_wait_max_s=summary["waiting_room"]["wait_max_real_s"],
            overbooked=None if invariants is None else int(invariants.get("overbooked_slots", 0)),
            invariants_applicable=journey.get("admin_key", True),
        ),
        may_be_unused=frozenset(ROUTES),
    )


def _app_figures(monitor: pd.DataFrame, column: str) -> dict[str, float] | None:
    """First, mean, peak and last of one of the app's 1-s samples (memory in MB, CPU in % of a
    core), when this run started the app and so could sample it."""
    if column not in monitor:
        return None
    samples = pd.to_numeric(monitor[column], errors="coerce").dropna()
    if samples.empty:
        return None
    figures = {"first": samples.iloc[0], "mean": samples.mean(), "peak": samples.max(),
               "last": samples.iloc[-1]}  # fmt: skip
    return {k: round(float(v), 1) for k, v in figures.items()}


def build_summary(run: RunData, extra: dict[str, Any], slo: Slo) -> dict[str, Any]:
    counters = run.surge.get("counters", {})
    routes = _routes(run)
    total_count = sum(r["count"] for r in routes.values())
    total_failures = sum(r["failures"] for r in routes.values())
    aggregated = run.stats[run.stats["Name"] == "Aggregated"]
    bookings = {k: int(counters.get(f"bookings:{k}", 0)) for k in ("success", "full", "error")}
    bookings["rate_limited"] = int(counters.get("bookings:rate_limited", 0))
    attempts = bookings["success"] + bookings["full"] + bookings["error"]
    bookings["success_rate"] = (
        (bookings["success"] + bookings["full"]) / attempts if attempts else None
    )
    waits = run.surge.get("waiting_room_wait", {})
    compress = float(run.plan.get("compress", 1.0) or 1.0)
    profile = run.profile
    summary: dict[str, Any] = {
        "scenario": run.plan.get("scenario"),
        "model": run.plan.get("model"),
        "shape": profile.kind if profile else None,
        "database": extra.get("database"),
        "workers": run.plan.get("workers", 0),
        "duration_s": profile.duration_s if profile else None,
        "journey": {
            "file": run.plan.get("journey_file"),
            "reference": bool(run.plan.get("reference_journey", True)),
            "admin_key": bool(extra.get("admin_key", True)),
        },
        "test_start_epoch_s": run.start_epoch_s,
        "routes": routes,
        "total": {
            "count": total_count,
            "failures": total_failures,
            "error_rate": total_failures / total_count if total_count else None,
            "rps": _num(aggregated["Requests/s"].iloc[0]) if len(aggregated) else None,
        },
        "bookings": bookings,
        "journeys": {
            k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("journeys:")
        },
        "arrivals": {
            "expected": run.plan.get("expected_arrivals"),
            "scheduled": int(counters.get("arrivals:scheduled", 0)),
            "started": int(counters.get("arrivals:started", 0)),
            "finished": int(counters.get("arrivals:finished", 0)),
            "late": int(counters.get("arrivals:late", 0)),
            "dropped": int(counters.get("arrivals:dropped", 0)),
        },
        "waiting_room": {
            "admission_rate_per_s": run.plan.get("waiting_room_rate_per_s"),
            "admitted": int(waits.get("count", 0)),
            "wait_p50_s": waits["p50_ms"] / 1000 if waits.get("count") else None,
            "wait_p95_s": waits["p95_ms"] / 1000 if waits.get("count") else None,
            "wait_max_s": waits["max_ms"] / 1000 if waits.get("count") else None,
            # Waits of a time-compressed replay, in the scenario's real seconds (x compress).
            "compress": compress,
            "wait_max_real_s": waits["max_ms"] / 1000 * compress if waits.get("count") else None,
        },
        "invariants": extra.get("invariants"),
        "app_rss_mb": _app_figures(run.monitor, "app_rss_mb"),
        "app_cpu_pct": _app_figures(run.monitor, "app_cpu_pct"),
        "steps": step_aggregates(run.requests, profile, run.start_epoch_s)
        if profile and profile.kind in STEPPED_KINDS
        else [],
        "pinning": run.plan.get("pinning"),
        "processes": role_figures(run.telemetry),
        "notes": list(run.plan.get("notes", [])),
    }
    loadgen = summary["processes"].get("loadgen")
    if loadgen and loadgen["busiest_process_cpu_pct_peak"] >= SATURATED_SHARE * 100:
        summary["notes"].append(
            f"the load generator was saturated: a Locust process reached "
            f"{loadgen['busiest_process_cpu_pct_peak']:.0f}% of a core (telemetry.csv); "
            "latencies then include its own queueing: give it more CPU (--workers)"
        )
    started = summary["arrivals"]["started"]
    if started and summary["arrivals"]["late"] > 0.1 * started:
        summary["notes"].append(
            f"the load generator fell behind: {summary['arrivals']['late']} of {started} "
            "arrivals started late, and their lag counts in the latencies; give it more CPU "
            "(--locust-workers, another machine) to measure the app alone"
        )
    verdict = judge(measured_of(summary), slo)
    summary["slo"] = {"passed": verdict.passed, "rules": verdict.to_records()}
    return summary
