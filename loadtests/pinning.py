"""CPU pinning of a local run: the load generator on its own core(s), the app and its database on
the others, so a run measures the app rather than the contention between it and its tester.

`os.sched_setaffinity` is applied to the processes this run starts (the app's worker processes
inherit it from the supervisor, and the whole tree is pinned again once the app is healthy), and
to the PostgreSQL backends serving the run's database, by pid, as they appear (the shared
server's postmaster and background processes are left unpinned). A machine with one usable core
cannot be split: the plan is then None and nothing is pinned.

    cores = plan_cores()          # e.g. CorePlan(loadgen=(0,), app=(1,), db=(1,))
    pin_tree(app_pid, cores.app)
    record = pinning_record(cores)  # {"loadgen": [0], "app": [1], "db": [1]} or None
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

__all__ = ["CorePlan", "pin_tree", "pinning_record", "plan_cores"]


@dataclass(frozen=True)
class CorePlan:
    """Which cores each role may run on."""

    loadgen: tuple[int, ...]
    app: tuple[int, ...]
    db: tuple[int, ...]

    def cores_of(self, role: str) -> tuple[int, ...]:
        return {"loadgen": self.loadgen, "app": self.app, "db": self.db}[role]


def plan_cores(available: Iterable[int] | None = None) -> CorePlan | None:
    """Split the cores this process may use: a quarter (at least one) for the load generator, the
    rest shared by the app and the database. None when fewer than two cores are usable."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    split = max(1, len(cores) // 4)
    rest = tuple(cores[split:])
    return CorePlan(loadgen=tuple(cores[:split]), app=rest, db=rest)


def pin_tree(pid: int, cores: Iterable[int]) -> list[int]:
    """Pin `pid` and all its descendants to `cores`; returns the pids pinned (processes that
    exit meanwhile are skipped)."""
    cores = set(cores)
    pinned = []
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return pinned
    for process in tree:
        with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
            os.sched_setaffinity(process.pid, cores)
            pinned.append(process.pid)
    return pinned


def pinning_record(plan: CorePlan | None) -> dict[str, list[int]] | None:
    """What run.json / plan.json record under `pinning`."""
    if plan is None:
        return None
    return {"loadgen": list(plan.loadgen), "app": list(plan.app), "db": list(plan.db)}
