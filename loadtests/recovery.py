"""Recovery after an overload: how long the app takes, once the overload stops, to serve within
the SLO again (`surge loadtest overload`, both runs).

The run keeps a light probe load after the overload phase. Bookings are placed in rolling
windows by the time they were sent; a window is *good* when its p99 is within the SLO, *bad*
when over it, and *unknown* with fewer than `min_count` bookings. The app has recovered at the
start of the first good window after which no window is bad; the recovery time is that start
minus the end of the overload (0: it never left the SLO once the overload stopped). No such
window before the run ends: not recovered (None), and the record says how long was watched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["recovery_time"]


def recovery_time(
    requests: pd.DataFrame,
    start_epoch_s: float,
    overload_end_s: float,
    run_end_s: float,
    slo_p99_ms: float,
    *,
    route: str = "book",
    window_s: float = 5.0,
    step_s: float = 1.0,
    min_count: int = 5,
) -> dict[str, Any]:
    """The recovery of one run from its per-request records (`requests.csv` columns)."""
    record: dict[str, Any] = {
        "route": route,
        "slo_p99_ms": slo_p99_ms,
        "window_s": window_s,
        "watched_s": max(0.0, run_end_s - overload_end_s),
        "recovery_s": None,
        "windows": [],
    }
    if not len(requests):
        return record
    part = requests[requests["name"] == route]
    t = part["start_epoch_s"].astype(float).to_numpy() - start_epoch_s
    latency = part["response_time_ms"].astype(float).to_numpy()
    windows = []
    for lo in np.arange(overload_end_s, run_end_s - window_s + 1e-9, step_s):
        inside = latency[(t >= lo) & (t < lo + window_s)]
        p99 = float(np.percentile(inside, 99)) if len(inside) >= min_count else None
        state = "unknown" if p99 is None else "good" if p99 <= slo_p99_ms else "bad"
        windows.append({"from_s": round(float(lo - overload_end_s), 3), "count": int(len(inside)),
                        "p99_ms": None if p99 is None else round(p99, 1), "state": state})  # fmt: skip
    record["windows"] = windows
    recovered_at = None
    for w in reversed(windows):
        if w["state"] == "bad":
            break
        if w["state"] == "good":
            recovered_at = w["from_s"]
    record["recovery_s"] = recovered_at
    return record
