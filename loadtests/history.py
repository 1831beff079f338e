"""Run history and change points: where a route's latency shifted, and at which commit.

`add` appends one row per route of a run directory (a `surge loadtest run` directory with
`summary.json`, or a `surge loadtest ab` directory, whose B arm is recorded) to a store, keyed by
machine, git commit and time: a CSV directory (`DIR/history.csv`) or a PostgreSQL table
(`surge_history`, store given as a postgresql:// URL). Series from different machines are never
mixed.

`check` runs change-point detection over each (machine, route) series of log median latency with
`ruptures` (PELT, least-squares cost on the series scaled by a robust noise estimate, penalty
`penalty x log n`). Apache Otava and MongoDB's signal-processing-algorithms were the first
choice but pin numpy < 2 / numpy 2.2 and scipy < 1.17, which this project's stack is past.
Change points find shifts after the fact, for triage and trends; the A/B run is the gate.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from loadtests.errors import LoadTestInputError, TargetUnreachableError

__all__ = ["ChangePoint", "HistoryRow", "add_run", "change_points", "detect", "read_history"]

FIELDS = ("machine", "commit", "time_utc", "run", "route", "p50_ms", "p95_ms", "count")
TABLE = "surge_history"


@dataclass(frozen=True)
class HistoryRow:
    machine: str
    commit: str
    time_utc: str
    run: str
    route: str
    p50_ms: float
    p95_ms: float
    count: int


@dataclass(frozen=True)
class ChangePoint:
    machine: str
    route: str
    index: int  # position of the first run after the change in the route's series
    commit: str  # the first commit after the change
    time_utc: str
    before_p50_ms: float  # geometric mean of the segment before
    after_p50_ms: float
    change: float  # after / before - 1

    def as_record(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def machine_name() -> str:
    """$SURGE_MACHINE (set it on CI runners), else the host name."""
    return os.environ.get("SURGE_MACHINE", "").strip() or platform.node() or "unknown"


def head_commit(repo: Path = Path(".")) -> str:
    done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        ["git", "-C", str(repo), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LoadTestInputError("not in a git checkout: give --commit")
    return done.stdout.strip()


def rows_from_run(run_dir: Path, machine: str, commit: str, when: datetime) -> list[HistoryRow]:
    """Per-route rows of a run directory; ValueError when it holds no known result."""
    stamp = when.astimezone(UTC).isoformat(timespec="seconds")
    summary, ab = run_dir / "summary.json", run_dir / "slices.csv"
    rows: list[HistoryRow] = []
    if summary.is_file():
        routes = json.loads(summary.read_text()).get("routes", {})
        for route, stats in sorted(routes.items()):
            hdr = stats.get("hdr") or {}
            if stats.get("count") and hdr.get("p50_ms"):
                rows.append(HistoryRow(machine, commit, stamp, run_dir.name, route,
                                       float(hdr["p50_ms"]), float(hdr["p95_ms"]),
                                       int(stats["count"])))  # fmt: skip
    elif ab.is_file():
        by_route: dict[str, list[tuple[float, float, int]]] = {}
        with ab.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["arm"] == "b" and row["p50_ms"]:
                    by_route.setdefault(row["route"], []).append(
                        (float(row["p50_ms"]), float(row["p95_ms"]), int(row["n"]))
                    )
        for route, values in sorted(by_route.items()):
            p50 = float(np.median([v[0] for v in values]))
            p95 = float(np.median([v[1] for v in values]))
            rows.append(HistoryRow(machine, commit, stamp, run_dir.name, route, p50, p95,
                                   sum(v[2] for v in values)))  # fmt: skip
    else:
        raise LoadTestInputError(f"{run_dir} has neither summary.json nor slices.csv")
    if not rows:
        raise LoadTestInputError(f"{run_dir} has no route with latencies")
    return rows


# -- stores ----------------------------------------------------------------------------------


def _is_postgres(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def _engine(store: str):
    from sqlalchemy import create_engine

    url = "postgresql+psycopg://" + store.split("://", 1)[1]
    return create_engine(url)


def _pg_table():
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table

    meta = MetaData()
    return meta, Table(
        TABLE, meta,
        Column("machine", String, nullable=False), Column("commit", String, nullable=False),
        Column("time_utc", String, nullable=False), Column("run", String, nullable=False),
        Column("route", String, nullable=False), Column("p50_ms", Float, nullable=False),
        Column("p95_ms", Float, nullable=False), Column("count", Integer, nullable=False),
    )  # fmt: skip


def add_run(
    run_dir: Path,
    store: str,
    *,
    machine: str | None = None,
    commit: str | None = None,
    when: datetime | None = None,
) -> list[HistoryRow]:
    """Append a run's per-route rows to the store; returns them."""
    if not run_dir.is_dir():
        raise LoadTestInputError(f"{run_dir} is not a directory")
    rows = rows_from_run(
        run_dir, machine or machine_name(), commit or head_commit(), when or datetime.now(UTC)
    )
    if _is_postgres(store):
        from sqlalchemy.exc import SQLAlchemyError

        meta, table = _pg_table()
        engine = _engine(store)
        try:
            with engine.begin() as conn:
                meta.create_all(conn)
                conn.execute(table.insert(), [r.__dict__ for r in rows])
        except SQLAlchemyError as exc:
            raise TargetUnreachableError(
                f"cannot use the history database: {type(exc).__name__}"
            ) from None
        finally:
            engine.dispose()
        return rows
    path = Path(store) / "history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(r.__dict__ for r in rows)
    return rows


def read_history(store: str) -> list[HistoryRow]:
    if _is_postgres(store):
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        meta, table = _pg_table()
        engine = _engine(store)
        try:
            with engine.connect() as conn:
                raw = [dict(r._mapping) for r in conn.execute(select(table))]
        except SQLAlchemyError as exc:
            raise TargetUnreachableError(
                f"cannot read the history database: {type(exc).__name__}"
            ) from None
        finally:
            engine.dispose()
    else:
        path = Path(store) / "history.csv"
        if not path.is_file():
            raise LoadTestInputError(f"no history at {path}")
        with path.open(newline="") as handle:
            raw = list(csv.DictReader(handle))
    return [
        HistoryRow(r["machine"], r["commit"], r["time_utc"], r["run"], r["route"],
                   float(r["p50_ms"]), float(r["p95_ms"]), int(r["count"]))
        for r in raw
    ]  # fmt: skip


# -- change points ---------------------------------------------------------------------------


def detect(values: Sequence[float], penalty: float = 5.0, min_size: int = 3) -> list[int]:
    """Indices where a series of positive latencies shifts (start of each new segment).

    PELT (ruptures) with an L2 cost on log values divided by a robust noise scale (the median
    absolute first difference / (0.6745 sqrt 2)), so the penalty `penalty * log n` is in units
    of the noise variance.
    """
    import ruptures

    x = np.log(np.asarray(values, dtype=float))
    n = x.size
    if n < 2 * min_size:
        return []
    scale = float(np.median(np.abs(np.diff(x)))) / (0.6745 * math.sqrt(2.0))
    if scale <= 0:
        scale = float(np.std(x)) or 1.0
    z = (x - x.mean()) / scale
    ends = (
        ruptures.Pelt(model="l2", min_size=min_size, jump=1)
        .fit(z)
        .predict(pen=penalty * math.log(n))
    )
    return [int(e) for e in ends[:-1]]


def change_points(rows: Sequence[HistoryRow], penalty: float = 5.0) -> list[ChangePoint]:
    """Change points of each (machine, route) series, in time order."""
    series: dict[tuple[str, str], list[HistoryRow]] = {}
    for row in rows:
        series.setdefault((row.machine, row.route), []).append(row)
    found: list[ChangePoint] = []
    for (machine, route), items in sorted(series.items()):
        items.sort(key=lambda r: r.time_utc)
        values = [r.p50_ms for r in items]
        cuts = detect(values, penalty)
        bounds = [0, *cuts, len(values)]
        for i, cut in enumerate(cuts):
            before = float(np.exp(np.mean(np.log(values[bounds[i] : cut]))))
            after = float(np.exp(np.mean(np.log(values[cut : bounds[i + 2]]))))
            found.append(ChangePoint(machine, route, cut, items[cut].commit, items[cut].time_utc,
                                     round(before, 4), round(after, 4),
                                     round(after / before - 1.0, 4)))  # fmt: skip
    return found


def plot_history(rows: Sequence[HistoryRow], points: Sequence[ChangePoint], path: Path) -> Path:
    """One panel per (machine, route): median latency per run, change points marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r.machine, r.route) for r in rows})
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.2 * len(keys)), squeeze=False)
    for ax, (machine, route) in zip(axes[:, 0], keys, strict=True):
        items = sorted((r for r in rows if (r.machine, r.route) == (machine, route)),
                       key=lambda r: r.time_utc)  # fmt: skip
        ax.plot(range(len(items)), [r.p50_ms for r in items], marker=".", lw=1)
        for p in points:
            if (p.machine, p.route) == (machine, route):
                ax.axvline(p.index - 0.5, color="tab:red", ls="--")
                ax.annotate(f"{p.change:+.0%} @ {p.commit[:8]}", (p.index, p.after_p50_ms),
                            color="tab:red", fontsize=8)  # fmt: skip
        ax.set_title(f"{route} on {machine}", fontsize=9)
        ax.set_ylabel("p50 ms")
    axes[-1, 0].set_xlabel("run (time order)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
