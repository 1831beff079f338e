"""The soak verdict: does the app hold a constant load for a long time (`surge loadtest run
--shape soak`)? Pure functions over what the run left on disk (monitor.csv, requests.csv,
supply.csv), written as `soak.json`.

- Memory: the app's RSS after the warm-up, averaged in bins, gets a Theil-Sen slope with its
  confidence interval (`scipy.stats.theilslopes`), turned into growth over the fitted span
  relative to the fitted RSS at its start. Target: the interval's upper bound under
  `rss_growth_max` (5 %): the data rule out a leak of that size.
- Latency: the p99 of every request of the first window after the warm-up and of the last
  window of the run, each with a bootstrap percentile interval (`scipy.stats.bootstrap`).
  Target: the intervals overlap, or the last p99 is under (1 + `p99_drift_max`) x the first.
- Errors: no failed request in the whole run. Invariants: read after the run, all 0.
- Reported, not judged: connection counts (the app's TCP connections, PostgreSQL sessions) and
  memory over time in bins, and the supply the replenisher kept level.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from loadtests.errors import LoadTestInputError

__all__ = ["SoakSettings", "analyse_soak", "describe_soak", "p99_interval", "rss_growth"]

SERIES_BINS = 60  # rows of the over-time table
SLOPE_BINS = 50  # RSS bins the slope is fitted on (1-s samples are autocorrelated)


@dataclass(frozen=True)
class SoakSettings:
    """Windows and targets of a soak; `None` windows default to min(5 min, duration / 6)."""

    warmup_s: float | None = None
    window_s: float | None = None
    rss_growth_max: float = 0.05
    p99_drift_max: float = 0.20
    confidence: float = 0.95
    resamples: int = 2000
    replenish: bool = True
    replenish_interval_s: float = 10.0

    def windows(self, duration_s: float) -> tuple[float, float]:
        """(warm-up, window) for a run of `duration_s`; bad combinations raise."""
        default = min(300.0, duration_s / 6)
        warmup = default if self.warmup_s is None else self.warmup_s
        window = default if self.window_s is None else self.window_s
        if warmup < 0 or window <= 0 or warmup + 2 * window > duration_s:
            raise LoadTestInputError(
                f"soak windows do not fit: warm-up {warmup:g}s + 2 x window {window:g}s > run "
                f"{duration_s:g}s (give a longer --duration or shorter --soak-warmup/--soak-window)"
            )
        return warmup, window


def rss_growth(t_s: np.ndarray, rss_mb: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Theil-Sen slope of RSS (MB/s) on `SLOPE_BINS` bin means, and the growth over the fitted
    span as a fraction of the fitted RSS at its start (estimate and interval)."""
    t_s, rss_mb = np.asarray(t_s, float), np.asarray(rss_mb, float)
    keep = np.isfinite(t_s) & np.isfinite(rss_mb)
    t_s, rss_mb = t_s[keep], rss_mb[keep]
    if len(t_s) < 3 or np.ptp(t_s) <= 0:
        return {"samples": int(len(t_s)), "slope_mb_per_min": None, "growth": None,
                "growth_low": None, "growth_high": None}  # fmt: skip
    bins = min(SLOPE_BINS, len(t_s))
    edges = np.linspace(t_s.min(), t_s.max() + 1e-9, bins + 1)
    which = np.clip(np.digitize(t_s, edges) - 1, 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "t": t_s, "rss": rss_mb}).groupby("bin").mean()
    slope, intercept, low, high = stats.theilslopes(frame["rss"], frame["t"], alpha=confidence)
    span = float(t_s.max() - t_s.min())
    start = float(intercept + slope * t_s.min())
    return {
        "samples": int(len(t_s)),
        "bins": int(len(frame)),
        "span_s": span,
        "rss_start_mb": round(start, 1),
        "slope_mb_per_min": float(slope * 60),
        "slope_low_mb_per_min": float(low * 60),
        "slope_high_mb_per_min": float(high * 60),
        "consistent_with_zero": bool(low <= 0 <= high),
        "growth": float(slope * span / start),
        "growth_low": float(low * span / start),
        "growth_high": float(high * span / start),
    }


def p99_interval(
    latencies_ms: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """p99 of `latencies_ms` with a bootstrap percentile interval."""
    x = np.asarray(latencies_ms, float)
    if len(x) < 2:
        return {"count": int(len(x)), "p99_ms": None, "low_ms": None, "high_ms": None}
    p99 = float(np.percentile(x, 99))
    if np.ptp(x) == 0:
        return {"count": int(len(x)), "p99_ms": p99, "low_ms": p99, "high_ms": p99}
    ci = stats.bootstrap(
        (x,),
        lambda s, axis: np.percentile(s, 99, axis=axis),
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        batch=100,
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return {"count": int(len(x)), "p99_ms": p99, "low_ms": float(ci.low),
            "high_ms": float(ci.high)}  # fmt: skip


def _series(monitor: pd.DataFrame, requests: pd.DataFrame, duration_s: float) -> list[dict]:
    bin_s = max(1.0, duration_s / SERIES_BINS)
    rows: dict[int, dict[str, Any]] = {}
    for column in ("app_rss_mb", "app_cpu_pct", "app_tcp_connections", "db_connections"):
        if column not in monitor or monitor[column].isna().all():
            continue
        values = pd.to_numeric(monitor[column], errors="coerce")
        for b, part in values.groupby((monitor["t_s"] // bin_s).astype(int)):
            if part.notna().any():
                row = rows.setdefault(int(b), {})
                row[f"{column}_mean"] = round(float(part.mean()), 1)
                row[f"{column}_max"] = round(float(part.max()), 1)
    if len(requests):
        for b, part in requests.groupby((requests["t_s"] // bin_s).astype(int)):
            row = rows.setdefault(int(b), {})
            row["requests"] = int(len(part))
            row["failures"] = int((part["ok"] == 0).sum())
            row["p99_ms"] = round(float(np.percentile(part["response_time_ms"], 99)), 1)
    return [{"t_s": round(b * bin_s, 1), **rows[b]} for b in sorted(rows)
            if 0 <= b * bin_s < duration_s]  # fmt: skip


def _window_means(monitor: pd.DataFrame, lo: float, hi: float) -> dict[str, Any]:
    part = monitor[(monitor["t_s"] >= lo) & (monitor["t_s"] < hi)]
    out: dict[str, Any] = {}
    for column in ("app_tcp_connections", "db_connections", "app_rss_mb"):
        values = pd.to_numeric(part.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
        out[column] = (
            {"mean": round(float(values.mean()), 1), "max": float(values.max())}
            if len(values)
            else None
        )
    return out


def _supply(supply: pd.DataFrame | None) -> dict[str, Any] | None:
    if supply is None or supply.empty:
        return None
    rounds = supply.groupby("round")
    totals = rounds.agg({"open_slots": "sum", "open_seats": "sum", "slots_opened": "sum"})
    return {
        "pairs": int(supply.groupby(["center_id", "vaccine"]).ngroups),
        "rounds": int(len(totals)),
        "open_slots_first": int(totals["open_slots"].iloc[0]),
        "open_slots_last": int(totals["open_slots"].iloc[-1]),
        "open_slots_min": int(totals["open_slots"].min()),
        "open_seats_first": int(totals["open_seats"].iloc[0]),
        "open_seats_last": int(totals["open_seats"].iloc[-1]),
        "slots_opened": int(totals["slots_opened"].sum()),
    }


def analyse_soak(
    monitor: pd.DataFrame,
    requests: pd.DataFrame,
    start_epoch_s: float,
    duration_s: float,
    settings: SoakSettings,
    invariants: dict[str, Any] | None,
    supply: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The soak section: figures, series and the verdict against the settings' targets."""
    warmup, window = settings.windows(duration_s)
    monitor = monitor.copy()
    monitor["t_s"] = monitor["epoch_s"].astype(float) - start_epoch_s if len(monitor) else []
    requests = requests.copy()
    if len(requests):
        requests["t_s"] = requests["start_epoch_s"].astype(float) - start_epoch_s
        requests["ok"] = requests["ok"].astype(int)
        requests["response_time_ms"] = requests["response_time_ms"].astype(float)
    rss = pd.to_numeric(monitor.get("app_rss_mb", pd.Series(dtype=float)), errors="coerce")
    after = (monitor["t_s"] >= warmup) & (monitor["t_s"] < duration_s) if len(monitor) else []
    memory = rss_growth(monitor["t_s"][after], rss[after], settings.confidence) if len(
        monitor) else rss_growth(np.array([]), np.array([]))  # fmt: skip
    if memory["growth"] is not None:  # a filling cache slows down; a leak does not
        middle = warmup + (duration_s - warmup) / 2
        halves = [(monitor["t_s"] >= lo) & (monitor["t_s"] < hi)
                  for lo, hi in ((warmup, middle), (middle, duration_s))]  # fmt: skip
        memory["halves_slope_mb_per_min"] = [
            rss_growth(monitor["t_s"][h], rss[h], settings.confidence)["slope_mb_per_min"]
            for h in halves
        ]

    def latencies(lo: float, hi: float) -> np.ndarray:
        if not len(requests):
            return np.array([])
        part = requests[(requests["t_s"] >= lo) & (requests["t_s"] < hi)]
        return part["response_time_ms"].to_numpy()

    first = p99_interval(latencies(warmup, warmup + window), settings.confidence,
                         settings.resamples, seed)  # fmt: skip
    last = p99_interval(latencies(duration_s - window, duration_s), settings.confidence,
                        settings.resamples, seed + 1)  # fmt: skip
    drift = overlap = None
    if first["p99_ms"] and last["p99_ms"] is not None:
        drift = last["p99_ms"] / first["p99_ms"] - 1
        overlap = bool(first["low_ms"] <= last["high_ms"] and last["low_ms"] <= first["high_ms"])
    failed = requests[requests["ok"] == 0] if len(requests) else requests
    errors = (
        failed.groupby(["name", "status", "error"]).size().sort_values(ascending=False).head(10)
        if len(failed)
        else pd.Series(dtype=int)
    )
    broken = None if invariants is None else sum(
        int(v) for k, v in invariants.items() if k != "appointments"
    )  # fmt: skip
    checks = [
        {"check": "RSS growth over the run (upper bound)", "limit": settings.rss_growth_max,
         "measured": memory["growth_high"],
         "passed": memory["growth_high"] is not None
         and memory["growth_high"] < settings.rss_growth_max},
        {"check": "p99 last window vs first", "limit": settings.p99_drift_max, "measured": drift,
         "passed": drift is not None and (bool(overlap) or drift < settings.p99_drift_max)},
        {"check": "failed requests", "limit": 0, "measured": int(len(failed)),
         "passed": len(requests) > 0 and len(failed) == 0},
        {"check": "invariants", "limit": 0, "measured": broken, "passed": broken == 0},
    ]  # fmt: skip
    return {
        "settings": {**asdict(settings), "warmup_s": warmup, "window_s": window},
        "duration_s": duration_s,
        "memory": memory,
        "p99": {
            "first": {"from_s": warmup, "to_s": warmup + window, **first},
            "last": {"from_s": duration_s - window, "to_s": duration_s, **last},
            "drift": drift,
            "intervals_overlap": overlap,
        },  # fmt: skip
        "connections": {
            "first_window": _window_means(monitor, warmup, warmup + window),
            "last_window": _window_means(monitor, duration_s - window, duration_s),
        },
        "errors": {
            "failed": int(len(failed)),
            "requests": int(len(requests)),
            "top": [
                {"name": k[0], "status": k[1], "error": k[2], "count": int(v)}
                for k, v in errors.items()
            ],
        },  # fmt: skip
        "invariants": invariants,
        "supply": _supply(supply),
        "series": _series(monitor, requests, duration_s),
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
    }


def describe_soak(result: dict[str, Any]) -> list[str]:
    """The soak's figures and verdict, one line each."""
    m, p = result["memory"], result["p99"]

    def pct(x: float | None) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{x:+.1%}"

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x:,.0f}"

    lines = [
        f"soak: warm-up {result['settings']['warmup_s']:g}s, windows "
        f"{result['settings']['window_s']:g}s, {result['duration_s']:g}s run",
    ]
    if m["growth"] is not None:
        lines.append(
            f"app RSS from {m['rss_start_mb']:.0f} MB: slope {m['slope_mb_per_min']:+.2f} MB/min "
            f"[{m['slope_low_mb_per_min']:+.2f}, {m['slope_high_mb_per_min']:+.2f}], growth "
            f"{pct(m['growth'])} [{pct(m['growth_low'])}, {pct(m['growth_high'])}]; slope "
            f"by half {', '.join(f'{x:+.2f}' for x in m['halves_slope_mb_per_min'] if x is not None)}"
            " MB/min"
        )
    for key in ("first", "last"):
        w = p[key]
        lines.append(
            f"p99 {key:5} {w['from_s']:>6.0f}-{w['to_s']:<6.0f}s: {ms(w['p99_ms'])} ms "
            f"[{ms(w['low_ms'])}, {ms(w['high_ms'])}] over {w['count']} requests"
        )
    conns = result["connections"]
    for key, label in (("app_tcp_connections", "app TCP connections"),
                       ("db_connections", "database sessions")):  # fmt: skip
        a, b = conns["first_window"][key], conns["last_window"][key]
        if a and b:
            lines.append(f"{label}: first window mean {a['mean']} (max {a['max']:g}), last "
                         f"window mean {b['mean']} (max {b['max']:g})")  # fmt: skip
    supply = result.get("supply")
    if supply:
        lines.append(
            f"supply: {supply['pairs']} centre-vaccine pairs, open slots {supply['open_slots_first']}"
            f" -> {supply['open_slots_last']} (min {supply['open_slots_min']}), "
            f"{supply['slots_opened']} slots opened in {supply['rounds']} rounds"
        )
    for e in result["errors"]["top"]:
        lines.append(f"error: {e['count']} x {e['name']} {e['status']} {e['error']}")
    for c in result["checks"]:
        measured = c["measured"]
        shown = pct(measured) if isinstance(measured, float) else measured
        lines.append(f"{'ok' if c['passed'] else 'FAILED':6} {c['check']}: {shown} "
                     f"(limit {c['limit']})")  # fmt: skip
    lines.append("soak: held" if result["passed"] else "soak: NOT held")
    return lines
