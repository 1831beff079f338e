"""The platform as a queueing network: per-route demands at its stations, and its deployed limits.

Each route (a request class) places a CPU demand on the app (`cpu_demand_s`: Python work per
request, summed over the request's visits) and a demand on the database (`db_demand_s`: time
PostgreSQL or SQLite spends on the request's queries). The stations are:

- `cpu`: the machine's cores, shared by processor sharing with `servers` cores (a multi-server PS
  station: with k requests inside each runs at min(k, c) / k of a core). A Python worker holds
  the GIL while it runs Python, so app work uses at most one core per worker: with the database
  on another host the station has min(cores, workers) servers. With PostgreSQL on the app host
  (`db_servers=None`) its work runs on the same cores: the station has `cores` servers and
  serves both demands (the GIL cap is then not represented: `gil_not_in_stations` flags the
  deployments, workers < cores, where that matters; the SimPy network adds it). A load
  generator on the same cores adds `loadgen_cpu_s` per request to this station.
- `loadgen`: a load generator pinned to cores of its own (`loadgen_servers` set: one server per
  Locust process), where `loadgen_cpu_s` goes instead; a request visits it outside the app's
  limits (sending and reading the response is the client's work).
- `db`: a remote PostgreSQL with `db_servers` cores (multi-server PS).
- `writer`: SQLite's single writer. Writes (`writes=True` routes) run their database demand one
  at a time; reads run in-process, on the `cpu` station.

The app's speed may depend on how many requests it holds (`cpu_slowdown`, g): with k requests
at the `cpu` station, spread over the workers (u = max(k / workers, 1) each), each request's
work there costs 1 + g (u - 1) times its demand (`cpu_slowdown_form = "linear"`) or
1 + g ln u (`"log"`) (`cpu_stretch`). Thread switching, GIL
hand-offs and lock convoys grow with the threads a worker runs at once; g is measured per load
level from the app's CPU per request (`simulations/calibration/occupancy.py`); g = 0 is the
plain processor-sharing station.

A request holds a worker thread and, for PostgreSQL, a pooled connection for its whole stay
(FastAPI's per-request session), while it uses the CPU and the database: simultaneous resource
possession. The deployed limits therefore cap the number of requests inside the stations at

    workers * min(threads_per_worker, pool_size + max_overflow)     (PostgreSQL)
    workers * threads_per_worker                                    (SQLite)

assuming requests spread evenly over workers (a shared accept queue). `threads_per_worker` is
the size of the thread pool running sync endpoints (AnyIO's default is 40); pool defaults are
SQLAlchemy's (5 + 10). Requests beyond the cap wait, FIFO, outside the stations.

Usage (demands in seconds per request; solvers in `flow_equivalent`, simulation in
`network_sim`):

    net = PlatformNetwork(
        routes=(RouteDemand("search", 0.7, cpu_demand_s=0.004, db_demand_s=0.002),
                RouteDemand("book", 0.3, cpu_demand_s=0.010, db_demand_s=0.006, writes=True)),
        cores=4, workers=4, db_servers=2,
    )
    solve_closed(net, users=200, think_s=1.0).classes       # per-route means (FES)
    solve_open(net, rate_per_s=300.0).stations              # utilisation, queue per station
    summarise(simulate_network(net, rate_per_s=300.0, seed=np.random.SeedSequence(1)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["PlatformNetwork", "RouteDemand", "Station"]


@dataclass(frozen=True)
class RouteDemand:
    """One request class: its share of requests and its demands per request (seconds)."""

    name: str
    share: float
    cpu_demand_s: float
    db_demand_s: float
    writes: bool = False
    work_cv: float = 1.0  # coefficient of variation of a visit's work (1: exponential)

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"route {self.name!r}: share must be in (0, 1] (got {self.share})")
        if self.cpu_demand_s < 0 or self.db_demand_s < 0:
            raise ValueError(f"route {self.name!r}: demands must be >= 0")
        if self.cpu_demand_s + self.db_demand_s <= 0:
            raise ValueError(f"route {self.name!r}: needs a positive demand somewhere")
        if not self.work_cv > 0:
            raise ValueError(f"route {self.name!r}: work_cv must be > 0 (got {self.work_cv})")


@dataclass(frozen=True)
class Station:
    """A processor-sharing station with `servers` servers."""

    name: str
    servers: int


@dataclass(frozen=True)
class PlatformNetwork:
    """The deployed platform: route demands, cores, workers and the database's limits."""

    routes: tuple[RouteDemand, ...]
    cores: int
    workers: int
    threads_per_worker: int = 40
    database: Literal["postgresql", "sqlite"] = "postgresql"
    pool_size: int = 5
    max_overflow: int = 10
    db_servers: int | None = None  # None: PostgreSQL shares the app host's cores
    loadgen_cpu_s: float = 0.0  # per request, on the cores or at its own station
    loadgen_servers: int | None = None  # None: the generator shares the `cpu` station
    cpu_slowdown: float = 0.0  # g: extra work per extra request a worker holds (see above)
    cpu_slowdown_form: Literal["linear", "log"] = "linear"

    def __post_init__(self) -> None:
        if not self.routes:
            raise ValueError("a platform network needs at least one route")
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError(f"route names must be unique (got {names})")
        total = sum(r.share for r in self.routes)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"route shares must sum to 1 (got {total:.6f})")
        for name in ("cores", "workers", "threads_per_worker", "pool_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.max_overflow < 0 or self.loadgen_cpu_s < 0 or self.cpu_slowdown < 0:
            raise ValueError("max_overflow, loadgen_cpu_s and cpu_slowdown must be >= 0")
        if self.database not in ("postgresql", "sqlite"):
            raise ValueError(f"database must be 'postgresql' or 'sqlite' (got {self.database!r})")
        if self.cpu_slowdown_form not in ("linear", "log"):
            raise ValueError(
                f"cpu_slowdown_form must be linear or log (got {self.cpu_slowdown_form!r})"
            )
        if self.loadgen_servers is not None and self.loadgen_servers < 1:
            raise ValueError(f"loadgen_servers must be >= 1 (got {self.loadgen_servers})")
        if self.db_servers is not None and self.db_servers < 1:
            raise ValueError(f"db_servers must be >= 1 (got {self.db_servers})")
        if self.database == "sqlite" and self.db_servers is not None:
            raise ValueError("SQLite runs in the app process: leave db_servers unset")

    @property
    def concurrency_limit(self) -> int:
        """Requests that can be inside the stations at once (threads, pooled connections)."""
        per_worker = self.threads_per_worker
        if self.database == "postgresql":
            per_worker = min(per_worker, self.pool_size + self.max_overflow)
        return self.workers * per_worker

    def cpu_stretch(self, k: np.ndarray | int) -> np.ndarray:
        """Work multiplier at the `cpu` station with k requests inside (1 when g = 0)."""
        per_worker = np.maximum(np.asarray(k, dtype=float) / self.workers, 1.0)
        if self.cpu_slowdown_form == "log":
            return 1.0 + self.cpu_slowdown * np.log(per_worker)
        return 1.0 + self.cpu_slowdown * (per_worker - 1.0)

    @property
    def _db_on_cores(self) -> bool:
        return self.database == "postgresql" and self.db_servers is None

    @property
    def gil_not_in_stations(self) -> bool:
        """True when the `cpu` station cannot express the GIL (DB on the cores, workers < cores)."""
        return self._db_on_cores and self.workers < self.cores

    @property
    def stations(self) -> tuple[Station, ...]:
        cpu_servers = self.cores if self._db_on_cores else min(self.cores, self.workers)
        out = [Station("cpu", cpu_servers)]
        if self.database == "sqlite":
            out.append(Station("writer", 1))
        elif self.db_servers is not None:
            out.append(Station("db", self.db_servers))
        if self.loadgen_servers is not None:
            out.append(Station("loadgen", self.loadgen_servers))
        return tuple(out)

    @property
    def servers(self) -> np.ndarray:
        return np.array([s.servers for s in self.stations], dtype=int)

    @property
    def shares(self) -> np.ndarray:
        return np.array([r.share for r in self.routes], dtype=float)

    @property
    def demands_s(self) -> np.ndarray:
        """Demand per request (seconds), classes x stations, in `stations` order."""
        names = [s.name for s in self.stations]
        d = np.zeros((len(self.routes), len(names)))
        for c, route in enumerate(self.routes):
            d[c, 0] = route.cpu_demand_s
            if self.loadgen_servers is None:
                d[c, 0] += self.loadgen_cpu_s
            else:
                d[c, names.index("loadgen")] = self.loadgen_cpu_s
            if self.database == "sqlite":
                d[c, names.index("writer") if route.writes else 0] += route.db_demand_s
            elif self._db_on_cores:
                d[c, 0] += route.db_demand_s
            else:
                d[c, names.index("db")] += route.db_demand_s
        return d

    @property
    def mean_demands_s(self) -> np.ndarray:
        """Demand of the average request (share-weighted), per station."""
        return self.shares @ self.demands_s
