"""Per-process CPU and memory of every local process of a run, sampled about once a second.

`telemetry.csv` in the run directory has one row per process per sample:

- `elapsed_s`: seconds since the run start (the report's time axis);
- `role`: `app` (the app's process tree), `db` (the local PostgreSQL server: its postmaster,
  background processes and the backends serving this run's database), `loadgen` (Locust's
  process tree) or `other` (the `surge` process driving the run);
- `pid`, `name`;
- `cpu_s`: cumulative user + system CPU seconds of that process;
- `cpu_pct`: its CPU since the previous sample, in % of one core;
- `rss_bytes`: its resident memory;
- `sched_run_s`, `sched_wait_s`: cumulative seconds its threads ran on a core and waited,
  runnable, for one (`/proc/PID/task/TID/schedstat`, summed over the threads seen; empty where
  the kernel has no schedstat). Their ratio, run / (run + wait), is the share of a core the
  process got while it wanted one: on a machine shared with other work, the speed of its
  station.

A process's CPU demand over a window is the difference of `cpu_s` between two samples; summed by
role and divided by the completions in the window, it is the CPU demand per request (the
utilisation law). With a core plan, the backends of this run's database are pinned to the
database cores as they appear.
"""

from __future__ import annotations

import contextlib
import csv
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from loadtests.pinning import CorePlan

__all__ = ["COLUMNS", "ROLES", "Telemetry", "database_name"]

COLUMNS = (
    "elapsed_s", "role", "pid", "name", "cpu_s", "cpu_pct", "rss_bytes", "sched_run_s",
    "sched_wait_s",
)  # fmt: skip
ROLES = ("app", "db", "loadgen", "other")
SAMPLE_INTERVAL_S = 1.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")


def database_name(url: str | None) -> str | None:
    """The database of a local PostgreSQL URL (None for SQLite, a remote server or no URL)."""
    if not url or not url.startswith(("postgresql", "postgres")):
        return None
    parts = urlsplit(url)
    if (parts.hostname or "") not in LOCAL_HOSTS:
        return None
    return parts.path.lstrip("/") or None


def _postmasters() -> list[psutil.Process]:
    """Local PostgreSQL servers: `postgres` processes whose parent is not one."""
    found = []
    for process in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if process.info["name"] == "postgres" and process.parent().name() != "postgres":
                found.append(process)
    return found


def _thread_schedstat(pid: int) -> dict[int, tuple[float, float]]:
    """Per thread of `pid`: (seconds on a core, seconds runnable waiting for one)."""
    found = {}
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    fields = f.read().split()
                found[int(task)] = (int(fields[0]) / 1e9, int(fields[1]) / 1e9)
    return found


def _title(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


class Telemetry(threading.Thread):
    """Samples the watched processes every `interval_s` into `path` until `stop()`.

    `watch(role, pid)` adds a process and its descendants (`tree=False`: the process alone);
    `watch_database(name)` adds the local PostgreSQL server's processes serving `name`. A process
    keeps the first role it was seen with. `sample()` takes one sample (used by the thread).
    """

    def __init__(
        self,
        path: Path,
        *,
        start_epoch_s: float | None = None,
        interval_s: float = SAMPLE_INTERVAL_S,
        cores: CorePlan | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(daemon=True, name="surge-telemetry")
        self.path = path
        self.clock = clock
        self.start_epoch_s = clock() if start_epoch_s is None else start_epoch_s
        self.interval_s = interval_s
        self.cores = cores
        self.roots: list[tuple[str, int, bool]] = []
        self.database: str | None = None
        self.pinned_db: set[int] = set()
        self._known: dict[int, psutil.Process] = {}  # cpu_percent() needs the same objects
        self._threads: dict[int, dict[int, tuple[float, float]]] = {}  # pid -> tid -> last
        self._sched: dict[int, tuple[float, float]] = {}  # pid -> cumulative (run, wait)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.samples = 0

    def watch(self, role: str, pid: int, *, tree: bool = True) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        with self._lock:
            self.roots.append((role, pid, tree))

    def watch_database(self, name: str | None) -> None:
        with self._lock:
            self.database = name

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        seen: set[int] = set()
        found: list[tuple[str, psutil.Process]] = []

        def add(role: str, process: psutil.Process) -> None:
            if process.pid not in seen:
                seen.add(process.pid)
                found.append((role, process))

        with self._lock:
            roots, database = list(self.roots), self.database
        for role, pid, tree in roots:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for process in [root, *(root.children(recursive=True) if tree else [])]:
                    add(role, process)
        if database:
            for server in _postmasters():
                add("db", server)
                with contextlib.suppress(psutil.Error):
                    for child in server.children():
                        title = _title(child)
                        backend = "(" in title or "[local]" in title
                        if backend and f" {database} " not in title:
                            continue  # another database's client
                        add("db", child)
                        if backend:
                            self._pin_backend(child.pid)
        return found

    def _pin_backend(self, pid: int) -> None:
        if self.cores is None or pid in self.pinned_db:
            return
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, set(self.cores.db))
            self.pinned_db.add(pid)

    def _sched_totals(self, pid: int) -> tuple[float, float] | None:
        """Cumulative (run, wait) seconds of `pid`'s threads: each thread's increase since the
        previous sample (its whole count when new), so a thread that exits keeps what it had."""
        now = _thread_schedstat(pid)
        if not now:
            return None
        before = self._threads.get(pid, {})
        run, wait = self._sched.get(pid, (0.0, 0.0))
        for tid, (r, w) in now.items():
            r0, w0 = before.get(tid, (0.0, 0.0))
            run, wait = run + max(r - r0, 0.0), wait + max(w - w0, 0.0)
        self._threads[pid], self._sched[pid] = now, (run, wait)
        return run, wait

    def sample(self) -> list[dict]:
        """One row per watched process (processes that exit meanwhile are skipped)."""
        elapsed = self.clock() - self.start_epoch_s
        rows = []
        for role, fresh in self._processes():
            process = self._known.setdefault(fresh.pid, fresh)
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    sched = self._sched_totals(process.pid)
                    rows.append(
                        {
                            "elapsed_s": round(elapsed, 3),
                            "role": role,
                            "pid": process.pid,
                            "name": process.name(),
                            "cpu_s": round(times.user + times.system, 3),
                            "cpu_pct": round(process.cpu_percent(), 1),
                            "rss_bytes": process.memory_info().rss,
                            "sched_run_s": round(sched[0], 4) if sched else None,
                            "sched_wait_s": round(sched[1], 4) if sched else None,
                        }
                    )
            except psutil.Error:
                self._known.pop(fresh.pid, None)
        self.samples += 1
        return rows

    def run(self) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            while True:
                writer.writerows(self.sample())
                f.flush()
                if self._stopped.wait(self.interval_s):
                    break
            writer.writerows(self.sample())  # the last sample closes the final window

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout=timeout_s)


SATURATED_SHARE = 0.9  # a Locust process above 90 % of one core is the bottleneck


def loadgen_load(telemetry_csv: Path, steps_csv: Path, start_epoch_s: float) -> dict | None:
    """The load generator's CPU per step (from `telemetry.csv` and the step schedule): its
    processes' CPU seconds over the step / the step's length, in cores (`cpu_cores`), and the
    busiest one in % of one core (`busiest_pct`; one Locust process uses one core at most).
    `saturated` names the steps where the busiest process passed SATURATED_SHARE of a core."""
    import pandas as pd

    try:
        samples = pd.read_csv(telemetry_csv)
        steps = pd.read_csv(steps_csv)
    except (OSError, pd.errors.EmptyDataError):
        return None
    gen = samples[samples["role"] == "loadgen"]
    if gen.empty or steps.empty:
        return None
    per_step = []
    for step in steps.itertuples(index=False):
        lo, hi = step.start_s - start_epoch_s, step.end_s - start_epoch_s
        window = gen[(gen["elapsed_s"] >= lo) & (gen["elapsed_s"] <= hi)]
        by_pid = window.groupby("pid")
        spans = by_pid["elapsed_s"].max() - by_pid["elapsed_s"].min()
        used = by_pid["cpu_s"].max() - by_pid["cpu_s"].min()
        if spans.empty or spans.max() <= 0:
            continue
        busiest = float((used / spans.where(spans > 0)).max()) * 100
        per_step.append(
            {
                "step": int(step.step),
                "users": int(step.users),
                "cpu_cores": round(float(used.sum() / spans.max()), 3),
                "busiest_pct": round(busiest, 1),
            }
        )
    if not per_step:
        return None
    return {
        "steps": per_step,
        "max_busiest_pct": max(s["busiest_pct"] for s in per_step),
        "saturated_steps": [
            s["step"] for s in per_step if s["busiest_pct"] >= SATURATED_SHARE * 100
        ],
    }


def role_figures(samples) -> dict[str, dict[str, float]]:
    """Per role, from a `telemetry.csv` frame: mean and peak CPU (sum over its processes, % of
    one core), the peak of its busiest single process, and peak resident memory (MB)."""
    if samples is None or len(samples) == 0:
        return {}
    figures = {}
    for role, rows in samples.groupby("role"):
        per_sample = rows.groupby("elapsed_s").agg(cpu=("cpu_pct", "sum"), rss=("rss_bytes", "sum"))
        figures[str(role)] = {
            "processes": int(rows["pid"].nunique()),
            "cpu_pct_mean": round(float(per_sample["cpu"].mean()), 1),
            "cpu_pct_peak": round(float(per_sample["cpu"].max()), 1),
            "busiest_process_cpu_pct_peak": round(float(rows["cpu_pct"].max()), 1),
            "rss_mb_peak": round(float(per_sample["rss"].max()) / 2**20, 1),
        }
    return figures
