"""The decisions of `surge bench gate`, one JSON line each, and the summary merged from them.

Every A/B decision the benchmark makes is appended as one flat record to a JSONL file under
`results/bench/gate-decisions/` (one file per invocation), so the benchmark can run in parts
(`--part aa`, `--part power --factors 1.25 --kinds proxy`) on several occasions and still give
one summary: `summarize` merges every record found into the figures of `results/bench/gate.json`.

Rates are given with their 95 % Clopper-Pearson (exact) interval: with zero alarms in n
decisions the upper bound is about 3/n.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from loadtests.history import detect

__all__ = [
    "append_decision",
    "change_point_scores",
    "proportion_ci",
    "read_decisions",
    "summarize",
]

ROUTE = "availability"


def proportion_ci(hits: int, n: int) -> list[float]:
    """95 % Clopper-Pearson interval of hits/n (scipy's `binomtest`); [0, 1] when n is 0."""
    from scipy.stats import binomtest

    if n == 0:
        return [0.0, 1.0]
    ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="exact")
    return [round(float(ci.low), 4), round(float(ci.high), 4)]


def append_decision(path: Path, record: dict) -> None:
    """Append one decision record (a flat dict) as one JSON line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")


def read_decisions(directory: Path) -> list[dict]:
    """Every decision record under `directory` (*.jsonl), oldest file first; blank lines and
    lines that are not JSON objects (a run killed mid-write) are skipped."""
    records: list[dict] = []
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "kind" in doc and "exit_code" in doc:
                records.append(doc)
    return records


def change_point_scores(noise: np.ndarray, histories: int = 200, seed: int = 0) -> dict:
    """Recall, precision and delay of `detect` on synthetic 40-run histories with real noise.

    `noise` holds log deviations resampled (with replacement) as each run's noise: the per-pair
    log ratios B/A of the A/A decisions (`change_points`: the noise of a paired comparison), or
    the log of each A/A decision's arm-A median over the median of them all
    (`change_points_run_to_run`: how a route's median moves from one real run to the next on
    this machine, which is what a history of runs holds).
    """
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
            "recall_ci95": proportion_ci(found, histories),
            "precision": round(found / (found + false), 4) if found + false else None,
            "mean_delay_commits": round(delays / found, 3) if found else None,
        }
    return scores


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(float(np.median(kept)), 4) if kept else None


def _rate(records: Sequence[dict], code: int) -> dict:
    hits = sum(r["exit_code"] == code for r in records)
    n = len(records)
    return {
        "decisions": n,
        "hits": hits,
        "rate": round(hits / n, 4) if n else None,
        "ci95": proportion_ci(hits, n),
    }


def _budget_label(budget_s: float) -> str:
    return f"{budget_s / 60:g}m" if budget_s % 60 == 0 else f"{budget_s:g}s"


def _flagged(record: dict, route: str) -> bool:
    return record.get("route_verdicts", {}).get(route) == "regression"


def _power(records: Sequence[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["kind"], float(r["factor"]), float(r["budget_s"])), []).append(r)
    rows = []
    for (kind, factor, budget), group in sorted(groups.items()):
        rate = _rate(group, 3)
        rows.append(
            {
                "name": f"{kind} x{factor:g} {_budget_label(budget)}",
                "kind": kind,
                "factor": factor,
                "budget_s": budget,
                "decisions": rate["decisions"],
                "detected": rate["hits"],
                "power": rate["rate"],
                "ci95": rate["ci95"],
                "undecided": sum(r["exit_code"] == 4 for r in group),
                "slowed_route_flagged": sum(_flagged(r, ROUTE) for r in group),
                "other_route_flagged": sum(
                    any(
                        _flagged(r, route)
                        for route in r.get("route_verdicts", {})
                        if route != ROUTE
                    )
                    for r in group
                ),
                "median_ratio": _median(r.get("p50_ratio") for r in group),
                "median_pairs": _median(r["pairs"] for r in group),
                "median_elapsed_s": _median(r["elapsed_s"] for r in group),
                "measured_ratios": [r.get("p50_ratio") for r in group],
            }
        )
    return rows


def summarize(records: Sequence[dict], histories: int = 200) -> dict:
    """The benchmark's figures from every decision record (any mix of parts and invocations)."""
    by_kind: dict[str, list[dict]] = {}
    for r in records:
        by_kind.setdefault(r["kind"], []).append(r)
    aa = by_kind.get("aa", [])
    overhead = by_kind.get("overhead", [])
    loads = [r["loadavg_1min_start"] for r in records if r.get("loadavg_1min_start") is not None]
    fa = _rate(aa, 3)
    noise = np.asarray([x for r in aa for x in r.get("log_ratios", [])], dtype=float)
    medians = np.log([r["a_p50_ms"] for r in aa if r.get("a_p50_ms")])
    runs = medians - np.median(medians) if medians.size else medians
    return {
        "decisions": len(records),
        "first_utc": min((r["date_utc"] for r in records), default=None),
        "last_utc": max((r["date_utc"] for r in records), default=None),
        "commits": sorted({r.get("commit") or "unknown" for r in records}),
        "commands": sorted({r["command"] for r in records if r.get("command")}),
        "loadavg_1min": {
            "min": round(min(loads), 2) if loads else None,
            "median": _median(loads),
            "max": round(max(loads), 2) if loads else None,
        },
        "route": ROUTE,
        "availability_p50_ms": _median(r.get("a_p50_ms") for r in overhead),
        "proxy_overhead": {
            "decisions": len(overhead),
            "median_ratio_p50": _median(r.get("p50_ratio") for r in overhead),
            "ratios_p50": [r.get("p50_ratio") for r in overhead],
        },
        "false_alarms": {
            "decisions": fa["decisions"],
            "alarms": fa["hits"],
            "rate": fa["rate"],
            "ci95": fa["ci95"],
            "clean": sum(r["exit_code"] == 0 for r in aa),
            "undecided": sum(r["exit_code"] == 4 for r in aa),
            "budgets_s": sorted({float(r["budget_s"]) for r in aa}),
            "median_ratio": _median(r.get("p50_ratio") for r in aa),
        },
        "power": _power([r for r in records if r["kind"] in ("proxy", "cpu")]),
        "noise_pairs": int(noise.size),
        "change_points": change_point_scores(noise, histories) if noise.size >= 10 else None,
        "noise_runs": int(runs.size),
        "noise_runs_sd_log": round(float(np.std(runs, ddof=1)), 4) if runs.size > 1 else None,
        "change_points_run_to_run": (
            change_point_scores(runs, histories) if runs.size >= 10 else None
        ),
    }
