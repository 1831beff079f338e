"""CPU demands from a run's per-process telemetry (`telemetry.csv`), by the utilisation law.

`telemetry.csv` in a run directory has one row per local process per sample (about 1 s):

    elapsed_s   seconds since the run start (the report's time axis)
    role        app | db | loadgen | other
    pid         process id
    name        process name
    cpu_s       cumulative user + system CPU seconds of that process
    cpu_pct     CPU use over the last sample, % of one core
    rss_bytes   resident memory
    sched_run_s, sched_wait_s (optional)
                cumulative seconds the process's threads ran on a core / waited, runnable,
                for one (the kernel's schedstat)

The CPU a role spent in a window is, per process, its `cpu_s` at the last sample inside the
window minus its `cpu_s` at the first (a process seen only once in the window adds nothing),
summed over the role's processes. Divided by the requests completed in the window, that is the
role's demand per request (U = X D: CPU-seconds per second over requests per second), whatever
the queueing inside.

On a machine shared with other work a process does not get a core whenever it wants one. Its
**core share** over a window (`core_share`, from the schedstat columns) is the speed its
station served at: a role with demand D and share s holds its station D / s per request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulations.calibration.step_run import StepRunError

__all__ = [
    "COLUMNS",
    "ROLES",
    "core_share",
    "cpu_by_role",
    "pooled_demand_s",
    "read_telemetry",
    "run_core_share",
    "run_cpu_demand_s",
    "run_window_share",
    "read_scrape",
    "scrape_cpu_demand_s",
    "step_cpu_demands",
]

CPU_METRIC = "process_cpu_seconds_total"  # Prometheus client libraries' process collector

COLUMNS = ("elapsed_s", "role", "pid", "name", "cpu_s", "cpu_pct", "rss_bytes")
ROLES = ("app", "db", "loadgen", "other")


def read_telemetry(path: str | Path) -> pd.DataFrame:
    """The samples, checked: every column present, known roles, finite non-negative CPU."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ValueError(f"telemetry not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: unreadable CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column {missing[0]!r}")
    unknown = sorted(set(frame["role"].astype(str)) - set(ROLES))
    if unknown:
        raise ValueError(f"{path}: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    for column in ("elapsed_s", "cpu_s"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{path}: {column} must be finite numbers >= 0")
        frame[column] = values.astype(float)
    return frame.sort_values(["pid", "elapsed_s"]).reset_index(drop=True)


def cpu_by_role(telemetry: pd.DataFrame, start_s: float, end_s: float) -> dict[str, float]:
    """CPU seconds each role used between `start_s` and `end_s` (run-start seconds)."""
    if end_s <= start_s:
        raise ValueError(f"window must end after it starts ({start_s} .. {end_s})")
    inside = telemetry[(telemetry["elapsed_s"] >= start_s) & (telemetry["elapsed_s"] <= end_s)]
    used = inside.groupby(["role", "pid"])["cpu_s"].agg(lambda s: s.iloc[-1] - s.iloc[0])
    per_role = used.clip(lower=0).groupby(level="role").sum()
    return {role: float(per_role.get(role, 0.0)) for role in ROLES}


def core_share(
    telemetry: pd.DataFrame, windows: list[tuple[float, float]], role: str = "app"
) -> float | None:
    """The share of a core `role` got while it wanted one, pooled over the windows (run-start
    seconds); None without schedstat columns or when the role did not run.

    Per window of length T, the role's threads ran `run` and waited, runnable, `wait` seconds:
    on average k = (run + wait) / T of them wanted a core. With k < 1 (mostly one at a time,
    as at low load) the role wanted a core k T seconds; with k >= 1, all the time. Its share is
    run / (min(k, 1) T): at low load run / (run + wait), each thread's share; at saturation the
    CPU it got per second, which counts the extra slices a busy process's several runnable
    threads win from the scheduler. Pooled: sum of run / sum of min(k, 1) T."""
    if not {"sched_run_s", "sched_wait_s"} <= set(telemetry.columns):
        return None
    rows = telemetry[telemetry["role"] == role].dropna(subset=["sched_run_s", "sched_wait_s"])
    run = wanted = 0.0
    for start_s, end_s in windows:
        inside = rows[(rows["elapsed_s"] >= start_s) & (rows["elapsed_s"] <= end_s)]
        if inside["elapsed_s"].nunique() < 2:
            continue
        span = float(inside["elapsed_s"].max() - inside["elapsed_s"].min())
        grew = inside.groupby("pid")[["sched_run_s", "sched_wait_s"]].agg(
            lambda s: s.iloc[-1] - s.iloc[0]
        )
        r = float(grew["sched_run_s"].clip(lower=0).sum())
        w = float(grew["sched_wait_s"].clip(lower=0).sum())
        run += r
        wanted += min(r + w, span)
    if run <= 0 or wanted <= 0:
        return None
    return min(run / wanted, 1.0)


def step_cpu_demands(
    telemetry: pd.DataFrame, windows: pd.DataFrame, requests: pd.DataFrame
) -> pd.DataFrame:
    """Per step window and role: CPU seconds, completed requests, CPU seconds per request.

    `windows`: `step`, `window_start_s`, `end_s` in run-start seconds; `requests`: `step` and
    `ok` per completed request (a `StepRun`'s tables, shifted to run-start seconds)."""
    rows = []
    done = requests[requests["ok"]].groupby("step").size()
    for w in windows.itertuples(index=False):
        cpu = cpu_by_role(telemetry, float(w.window_start_s), float(w.end_s))
        completed = int(done.get(w.step, 0))
        for role, seconds in cpu.items():
            rows.append(
                {
                    "step": int(w.step),
                    "role": role,
                    "cpu_s": seconds,
                    "requests": completed,
                    "cpu_s_per_request": seconds / completed if completed else np.nan,
                }
            )
    return pd.DataFrame(rows)


def pooled_demand_s(demands: pd.DataFrame, role: str = "app") -> float | None:
    """CPU seconds per request of `role` over all windows (total CPU / total requests)."""
    rows = demands[demands["role"] == role]
    total = rows["requests"].sum()
    if total <= 0 or rows["cpu_s"].sum() <= 0:
        return None
    return float(rows["cpu_s"].sum() / total)


def _telemetry_start(run_dir: Path) -> float:
    """The epoch second telemetry's `elapsed_s` counts from: `telemetry_start_epoch_s` in the
    run's `run.json` (stepped runs) or `plan.json` (load-test runs), else the summary's
    `test_start_epoch_s`."""
    import json

    for name, key in (
        ("run.json", "telemetry_start_epoch_s"),
        ("plan.json", "telemetry_start_epoch_s"),
        ("summary.json", "test_start_epoch_s"),
    ):
        try:
            return float(json.loads((run_dir / name).read_text())[key])
        except (OSError, KeyError, TypeError, ValueError):
            continue
    raise StepRunError(f"{run_dir}: telemetry.csv without a run start time")


def run_cpu_demand_s(
    run_dir: str | Path, run_steps: pd.DataFrame, run_requests: pd.DataFrame, role: str = "app"
) -> float | None:
    """`role`'s CPU seconds per request over a stepped run's steady windows, from the run's
    `telemetry.csv`; None when the run has no telemetry (then demands come from the client).

    `run_steps` and `run_requests` are a `StepRun`'s tables (epoch seconds); the telemetry's
    time axis starts at the summary's `test_start_epoch_s`."""
    run_dir = Path(run_dir)
    path = run_dir / "telemetry.csv"
    if not path.is_file():
        return None
    start = _telemetry_start(run_dir)
    windows = run_steps.assign(
        window_start_s=run_steps["window_start_s"] - start, end_s=run_steps["end_s"] - start
    )
    return pooled_demand_s(step_cpu_demands(read_telemetry(path), windows, run_requests), role)


def _increase(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """A cumulative counter's increase over [lo, hi]: interpolated at both ends when samples
    bracket the window (a 1-s scrape and windows of a few seconds), else between the first and
    last samples inside it; a reset (a restarted process) counts as nothing."""
    if x[0] <= lo and x[-1] >= hi:
        used = float(np.interp(hi, x, y) - np.interp(lo, x, y))
    else:
        inside = y[(x >= lo) & (x <= hi)]
        used = float(inside[-1] - inside[0]) if len(inside) >= 2 else 0.0
    return max(used, 0.0)


def read_scrape(run_dir: str | Path, columns: set[str]) -> pd.DataFrame | None:
    """A run's `scrape.csv` (the `--scrape` samples), or None when the run has none, it cannot be
    parsed, or it lacks one of `columns`."""
    path = Path(run_dir) / "scrape.csv"
    if not path.is_file():
        return None
    try:
        scrape = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    return scrape if columns <= set(scrape.columns) else None


def scrape_cpu_demand_s(
    run_dir: str | Path, run_steps: pd.DataFrame, run_requests: pd.DataFrame
) -> float | None:
    """The target's CPU seconds per request over a stepped run's steady windows, from its own
    exporter as scraped into `scrape.csv` (`--scrape URL`): the increase of every
    `process_cpu_seconds_total` series (one per scraped process) over each window, over the
    requests completed in it. None without such samples (then demands come from the client)."""
    scrape = read_scrape(run_dir, {"elapsed_s", "target", "metric", "labels", "value"})
    if scrape is None:
        return None
    cpu = scrape[scrape["metric"] == CPU_METRIC].sort_values("elapsed_s")
    if cpu.empty:
        return None
    start = _telemetry_start(run_dir)
    done = run_requests[run_requests["ok"]].groupby("step").size()
    windows = [(float(w.window_start_s) - start, float(w.end_s) - start, int(done.get(w.step, 0)))
               for w in run_steps.itertuples(index=False)]  # fmt: skip
    seconds = 0.0
    for _, series in cpu.groupby(["target", "labels"]):
        x, y = series["elapsed_s"].to_numpy(float), series["value"].to_numpy(float)
        seconds += sum(_increase(x, y, lo, hi) for lo, hi, _ in windows)
    completed = sum(n for _, _, n in windows)
    if completed <= 0 or seconds <= 0:
        return None
    return seconds / completed


def run_core_share(run_dir: str | Path, run_steps: pd.DataFrame, role: str = "app") -> float | None:
    """`role`'s core share (`core_share`) over the steady windows of a stepped run's highest
    level: where the app was busiest, as it is near the capacity a confirmation looks for (a
    busy process's several runnable threads win it more slices than one thread gets at low
    load). None when the run has no telemetry or no schedstat columns."""
    run_dir = Path(run_dir)
    path = run_dir / "telemetry.csv"
    if not path.is_file():
        return None
    start = _telemetry_start(run_dir)
    top = run_steps[run_steps["users"] == run_steps["users"].max()]
    windows = [
        (float(a) - start, float(b) - start)
        for a, b in zip(top["window_start_s"], top["end_s"], strict=True)
    ]
    return core_share(read_telemetry(path), windows, role)


def run_window_share(run_dir: str | Path, role: str = "app", settle_s: float = 5.0) -> float | None:
    """`role`'s core share over a whole (unstepped) run, its first `settle_s` dropped: from the
    summary's `test_start_epoch_s` and `duration_s`. None without telemetry or schedstat."""
    import json

    run_dir = Path(run_dir)
    path = run_dir / "telemetry.csv"
    if not path.is_file():
        return None
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        begin = float(summary["test_start_epoch_s"]) - _telemetry_start(run_dir)
        end = begin + float(summary["duration_s"])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return core_share(read_telemetry(path), [(begin + settle_s, end)], role)
