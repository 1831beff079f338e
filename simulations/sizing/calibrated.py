"""Sizing from a calibrated profile: app workers, DB connections and the admission rate that a
scenario's evening needs, on the platform the profile measured.

`surge calibrate` writes a profile whose `[platform]` table holds `web_workers`,
`db_connections`, `service_ms` (per route: the measured time of one request, the database
included) and `db_ms = {}` (nothing added on top). The national opening-day model takes those
keys, and its waiting room follows the app's numbered line (`waiting_room_line = "numbered"`:
ticket numbers fall due at the admission rate, and a ticket whose visitor left still uses its
admission).

The opening-day model's web tier is fluid (work per tick), so it has no per-request latency.
`app_kpis` adds two from its per-minute series, with each app worker a one-server station (one
GIL; one core per worker) and requests balanced over the workers, as in the calibration's
platform network (`simulations.calibration.platform_network`):

- `book_p95_ms`: p95 of the `book` request's response time of the evening's bookings. Minute m
  is an M/M/c queue with c = workers at the minute's utilisation (capped at `RHO_CAP`; beyond
  it the fluid tier's backlog wait takes over); a booking's time is the fluid backlog wait +
  the M/M/c wait (Erlang C, mean service = the minute's work per request) + its own service
  (exponential, mean `service_ms["book"]`). The p95 is that of the mixture over minutes,
  weighted by the bookings made in each.
- `app_requests_peak`: requests inside the app at the busiest minute (the one with the most by
  Little's law, request rate x mean time in the app): the 99th percentile of the M/M/c count
  there, plus the fluid backlog. A request holds a pooled DB connection for its whole stay
  (FastAPI's per-request session), so this is the number of connections in use.

The search (`size_calibrated`) uses `simulations.sizing.platform.size_platform` (common random
numbers; a value passes only when the 95 % interval of every target lies on its side):

1. admission rate: the smallest meeting the waiting-room targets (p95 and longest wait of
   admitted visitors, abandonment), with workers to spare (`spare_workers`);
2. app workers: the fewest meeting every target (those, plus the booking p95 of `[slo]` and the
   request error rate) at that admission rate;
3. DB connections: the upper 95 % bound of `app_requests_peak` at those workers, at least one
   per worker, rounded up to a whole pool per worker (the app's pool is per worker process),
   at most one per thread of the worker (40: no more requests run in a worker at once). When
   the busiest minute saturates the workers, its backlog is inside the app and this is the
   pool that holds it; with the CPU the bottleneck, a smaller pool (down to one per worker)
   moves that wait from the CPU to the pool without changing the latency the model predicts.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulations.calibration.platform_network import PlatformNetwork
from simulations.calibration.profile import ProfileError
from simulations.sizing.center import Target
from simulations.sizing.platform import PlatformSizing, size_platform

__all__ = [
    "CalibratedSizing",
    "app_kpis",
    "app_latency",
    "profile_overrides",
    "size_calibrated",
    "spare_workers",
]

RHO_CAP = 0.99  # the stationary M/M/c wait is used up to this utilisation
RATE_KNOB = "platform.admission_rate_per_s"
WORKERS_KNOB = "platform.web_workers"
DB_KNOB = "platform.db_connections"
PEAK = "app_requests_peak"
THREADS_PER_WORKER = PlatformNetwork.threads_per_worker  # AnyIO's pool runs sync endpoints


def profile_overrides(path: str | Path) -> dict[str, Any]:
    """The profile's `[platform]` capacities as scenario overrides, with the numbered line.

    Needs `web_workers`, `db_connections` and a non-empty `service_ms`; `db_ms` defaults to
    `{}` (the measured times include the database). Raises `ProfileError` naming the problem."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise ProfileError(f"--profile: no such file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"--profile {path}: not valid TOML ({exc})") from None
    table = doc.get("platform")
    if not isinstance(table, dict):
        raise ProfileError(
            f"--profile {path}: no [platform] table (write one with surge calibrate)"
        )
    missing = [k for k in ("web_workers", "db_connections", "service_ms") if k not in table]
    if missing:
        raise ProfileError(f"--profile {path}: [platform] lacks {', '.join(missing)}")
    service = table["service_ms"]
    if not isinstance(service, dict) or not service:
        raise ProfileError(f"--profile {path}: [platform] service_ms is empty")
    db_ms = table.get("db_ms", {})
    return {
        "platform.web_workers": table["web_workers"],
        "platform.db_connections": table["db_connections"],
        "platform.service_ms": dict(service),
        "platform.db_ms": dict(db_ms) if isinstance(db_ms, dict) else db_ms,
        "platform.waiting_room_line": "numbered",
    }


def check_routes(scenario: Any, path: str | Path) -> None:
    """Every route the scenario's visitors request needs a measured time in the profile."""
    p = scenario.platform
    used = set(p.requests_per_booking) | set(p.requests_per_browse)
    missing = sorted(r for r in used if r not in p.service_ms)
    if missing:
        raise ProfileError(
            f"--profile {path}: service_ms has no time for {', '.join(missing)} "
            f"(requested by the scenario's visitors)"
        )
    if "book" not in p.service_ms:
        raise ProfileError(f"--profile {path}: service_ms has no time for book")


def _erlang_c(c: int, a: np.ndarray) -> np.ndarray:
    """P(wait > 0) in M/M/c for offered loads `a` < c (Erlang B recursion, vectorised)."""
    b = np.ones_like(a)
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho + rho * b)


def _count_quantile(c: int, a: float, q: float) -> int:
    """The q-quantile of the number in an M/M/c system with offered load a < c."""
    if a <= 0:
        return 0
    rho = a / c
    tail = c + int(math.ceil(math.log(1e-9) / math.log(rho))) if rho > 0 else c
    k = np.arange(tail + 1)
    logs = np.where(
        k < c,
        k * math.log(a) - np.array([math.lgamma(i + 1) for i in k]),
        c * math.log(a) - math.lgamma(c + 1) + (k - c) * math.log(rho),
    )
    p = np.exp(logs - logs.max())
    cumulative = np.cumsum(p) / p.sum()
    return int(np.searchsorted(cumulative, q))


def app_latency(
    timeseries: pd.DataFrame, workers: int, book_ms: float, quantile: float = 0.95
) -> tuple[float, float]:
    """(p`quantile` of a booking's `book` response time in ms, requests in the app at the
    busiest minute) from an opening-day run's per-minute series (see the module docstring)."""
    lam = timeseries["origin_requests_per_s"].to_numpy(dtype=float)
    util = np.clip(timeseries["web_utilisation"].to_numpy(dtype=float), 0.0, 1.0)
    backlog_s = timeseries["web_wait_s"].to_numpy(dtype=float)
    weights = timeseries["bookings"].to_numpy(dtype=float)
    busy = lam > 0
    mean_s = np.where(busy, util * workers / np.where(busy, lam, 1.0), 0.0)
    rho = np.minimum(util, RHO_CAP)
    c_wait = _erlang_c(workers, rho * workers)
    theta = np.where(mean_s > 0, workers * (1.0 - rho) / np.where(mean_s > 0, mean_s, 1.0), np.inf)
    in_app = lam * (backlog_s + np.where(np.isfinite(theta), c_wait / theta, 0.0) + mean_s)
    peak = math.nan
    if len(in_app):
        m = int(np.argmax(in_app))
        peak = lam[m] * backlog_s[m] + _count_quantile(workers, float(rho[m] * workers), 0.99)
    if weights.sum() <= 0:
        return math.nan, peak
    beta = 1000.0 / book_ms
    theta = np.where(np.abs(theta - beta) < 1e-9 * beta, beta * (1 + 1e-6), theta)

    def tail(t: float) -> float:
        x = np.maximum(t - backlog_s, 0.0)  # x = 0: not served yet, the tail is 1
        with np.errstate(over="ignore", invalid="ignore"):
            both = np.where(
                np.isfinite(theta),
                (theta * np.exp(-beta * x) - beta * np.exp(-theta * x)) / (theta - beta),
                np.exp(-beta * x),
            )
        p = (1.0 - c_wait) * np.exp(-beta * x) + c_wait * both
        p = np.clip(p, 0.0, 1.0)
        return float((weights * p).sum() / weights.sum())

    low, high = 0.0, float(backlog_s.max()) + 50.0 / beta
    finite = theta[np.isfinite(theta)]
    if len(finite):
        high += 50.0 / max(float(finite.min()), 1e-9)
    for _ in range(80):
        mid = (low + high) / 2
        if tail(mid) > 1.0 - quantile:
            low = mid
        else:
            high = mid
    return high * 1000.0, peak


def app_kpis(scenario: Any, seed: np.random.SeedSequence) -> dict[str, float]:
    """Model function for the search: the opening-day KPIs plus `book_p95_ms` and
    `app_requests_peak` (picklable, for the sweep's processes)."""
    from simulations.national.opening_day import simulate

    run = simulate(scenario, seed)
    p = scenario.scaled().platform
    p95, peak = app_latency(run.timeseries, p.web_workers, p.service_ms["book"])
    return {
        **{k: float(v) for k, v in run.kpis.items()},
        "book_p95_ms": p95,
        "app_requests_peak": peak,
    }


def spare_workers(scenario: Any, admission_rate_per_s: float, headroom: float = 3.0) -> int:
    """Workers well beyond need at this admission rate: `headroom` x the web work per second of
    admitted sessions (every admitted visitor counted as the costlier of booker or browser)."""
    p = scenario.platform
    per_visit = max(p.work_s(p.requests_per_booking, "service_ms"),
                    p.work_s(p.requests_per_browse, "service_ms"))  # fmt: skip
    return max(2, math.ceil(headroom * admission_rate_per_s * scenario.scale * per_visit))


@dataclass
class CalibratedSizing:
    scenario: str
    profile: str
    targets: list[Target]
    admission: PlatformSizing
    workers: PlatformSizing | None = None
    spare_workers: int = 0
    db_connections: int | None = None
    connections_interval: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    answer_row: dict[str, Any] = field(default_factory=dict)

    @property
    def admission_rate(self) -> float | None:
        return self.admission.answer

    @property
    def web_workers(self) -> int | None:
        return (
            None
            if self.workers is None or self.workers.answer is None
            else int(self.workers.answer)
        )

    @staticmethod
    def failing_below(sizing: PlatformSizing | None) -> float | None:
        """The largest evaluated value under the answer that failed (the search's bracket)."""
        if sizing is None or sizing.answer is None:
            return None
        below = [r[sizing.knob] for r in sizing.evaluations
                 if not r["meets_targets"] and r[sizing.knob] < sizing.answer]  # fmt: skip
        return max(below) if below else None

    @property
    def reachable(self) -> bool:
        return self.db_connections is not None

    def frame(self) -> pd.DataFrame:
        """Every evaluation of both searches, one row each, with the step's name."""
        parts = [self.admission.frame().assign(step="admission_rate")]
        if self.workers is not None and self.workers.evaluations:
            parts.append(self.workers.frame().assign(step="web_workers"))
        return pd.concat(parts, ignore_index=True)


def size_calibrated(
    ref: str,
    profile: str | Path,
    *,
    rate_range: tuple[float, float] | None = None,
    workers_range: tuple[float, float] | None = None,
    points: int = 5,
    refine: int = 3,
    replications: int = 5,
    seed: int = 1,
    processes: int | None = None,
    progress: bool = False,
    overrides: Sequence[str] | dict[str, Any] = (),
) -> CalibratedSizing:
    """Admission rate, then app workers, then DB connections (see the module docstring).
    `overrides` (`--set section.key=value`) apply after the profile."""
    from simulations.scenario.scenario import load_scenario, parse_overrides

    fixed = {**profile_overrides(profile), **parse_overrides(overrides)}
    base = load_scenario(ref, fixed)
    check_routes(base, profile)
    slo, journey = base.slo, base.slo.journey
    room = [
        Target("wr_wait_p95_min", "<=", journey.waiting_room_p95_max_min),
        Target("wr_wait_max_min", "<=", journey.waiting_room_wait_max_s / 60.0),
        Target("abandonment", "<=", journey.abandonment_max),
    ]
    app = [
        Target("book_p95_ms", "<=", slo.p95_ms["book"]),
        Target("request_error_rate", "<=", slo.error_rate_max),
    ]
    rate = base.platform.admission_rate_per_s
    low, high = rate_range or (rate / 4, rate * 4)
    spare = spare_workers(base, high)
    common = {"points": points, "refine": refine, "replications": replications, "seed": seed,
              "workers": processes, "progress": progress, "model": app_kpis}  # fmt: skip
    admission = size_platform(
        ref, room, RATE_KNOB, low, high,
        overrides={**fixed, WORKERS_KNOB: spare, DB_KNOB: spare}, **common,
    )  # fmt: skip
    result = CalibratedSizing(base.name, str(profile), room + app, admission, spare_workers=spare)
    if admission.answer is None:
        return result
    w_low, w_high = workers_range or (1, spare_workers(base, admission.answer))
    result.workers = size_platform(
        ref,
        room + app,
        WORKERS_KNOB,
        w_low,
        w_high,
        overrides={**fixed, RATE_KNOB: admission.answer, DB_KNOB: spare},
        **{**common, "report": (PEAK,)},
    )
    if result.workers.answer is None:
        return result
    workers = int(result.workers.answer)
    row = next(r for r in result.workers.evaluations if r[WORKERS_KNOB] == workers)
    peak = (row[PEAK], row[f"{PEAK} ci_low"], row[f"{PEAK} ci_high"])
    result.db_connections = connections_for(peak, workers)
    result.connections_interval = peak
    final = size_platform(
        ref, room + app, WORKERS_KNOB, workers, workers + 1,
        overrides={**fixed, RATE_KNOB: admission.answer, DB_KNOB: result.db_connections},
        **{**common, "points": 2, "refine": 0, "report": (PEAK,)},
    )  # fmt: skip
    result.answer_row = next(r for r in final.evaluations if r[WORKERS_KNOB] == workers)
    return result


def connections_for(peak: tuple[float, float, float], workers: int) -> int:
    """DB connections for the busiest minute's requests in the app (mean, 95 % interval): the
    upper bound, at least one per worker, rounded up to a whole pool per worker, and at most a
    connection per thread (`THREADS_PER_WORKER`: no more requests run in a worker at once)."""
    mean, _, high = peak
    bound = mean if math.isnan(high) else high
    if math.isnan(bound):  # no request reached the app
        return workers
    return min(max(1, math.ceil(bound / workers)), THREADS_PER_WORKER) * workers
