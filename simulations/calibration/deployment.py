"""The deployment as calibrated: per-route demands and the limits as deployed, as a network.

A calibration knows each route's response time at the lowest load (the client's view), the
peak throughput it measured and, when the run carries `telemetry.csv`, the app's CPU seconds
per request. `route_demands_s` turns those into demands per route:

- telemetry (`source = "telemetry"`): the share-weighted mean demand is the app's CPU per
  request (utilisation law), split over routes in proportion to their client times;
- otherwise (`source = "client"`): the client times, scaled down when the utilisation law says
  the app's servers cannot have been that busy (mean demand <= servers / peak throughput, with
  servers = min(cores, workers): one GIL per worker).

`Deployment` holds the limits as deployed (workers, threads per worker, the DB pool =
pool_size + max_overflow per worker, SQLite's single writer) and `network` builds the
`PlatformNetwork` that `flow_equivalent` (means) and `network_sim` (percentiles) solve.
`predict_network_levels` does both for closed load levels, beside the USL's descriptive fit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from simulations.calibration.flow_equivalent import solve_closed
from simulations.calibration.network_sim import simulate_network
from simulations.calibration.platform_network import PlatformNetwork, RouteDemand
from simulations.calibration.profile import PlatformProfile

__all__ = [
    "Deployment",
    "RouteDemands",
    "calibrated_network",
    "predict_network_levels",
    "route_demands_s",
    "route_work_cv",
]


@dataclass(frozen=True)
class RouteDemands:
    """Seconds per request by route, where they came from, and how they were derived."""

    demands_s: Mapping[str, float]
    source: Literal["client", "telemetry", "scrape"]
    note: str


def route_demands_s(
    profile: PlatformProfile,
    *,
    peak_throughput_per_s: float,
    servers: int,
    cpu_s_per_request: float | None = None,
    cpu_source: Literal["telemetry", "scrape"] = "telemetry",
) -> RouteDemands:
    """Per-route demands from the profile's client times and the measured peak (or CPU: from
    the run's process telemetry, or from the target's own exporter scraped)."""
    if not peak_throughput_per_s > 0 or not np.isfinite(peak_throughput_per_s):
        raise ValueError(f"peak throughput must be > 0 (got {peak_throughput_per_s})")
    if servers < 1:
        raise ValueError(f"servers must be >= 1 (got {servers})")
    client = {r.name: r.service.mean_s for r in profile.routes}
    mean_client = sum(r.share * r.service.mean_s for r in profile.routes)
    if cpu_s_per_request is not None:
        if cpu_s_per_request <= 0:
            raise ValueError(f"CPU per request must be > 0 (got {cpu_s_per_request})")
        target = cpu_s_per_request
        source: Literal["client", "telemetry", "scrape"] = cpu_source
        note = f"mean demand {target * 1000:.3g} ms: app CPU seconds per request ({source})"
    else:
        bound = servers / peak_throughput_per_s
        target, source = min(mean_client, bound), "client"
        note = (
            f"mean demand {target * 1000:.3g} ms: client response time at the lowest level "
            f"{mean_client * 1000:.3g} ms, utilisation-law bound {servers} / "
            f"{peak_throughput_per_s:.4g} req/s = {bound * 1000:.3g} ms"
        )
    scale = target / mean_client
    return RouteDemands({r: t * scale for r, t in client.items()}, source, note)


@dataclass(frozen=True)
class Deployment:
    """The limits as deployed (the reference app's defaults: SQLAlchemy pool of 10 + 10)."""

    cores: int
    workers: int = 1
    threads_per_worker: int = 40
    database: Literal["sqlite", "postgresql"] = "sqlite"
    pool_size: int = 10
    max_overflow: int = 10

    def __post_init__(self) -> None:
        for name in ("cores", "workers", "threads_per_worker", "pool_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.max_overflow < 0:
            raise ValueError(f"max_overflow must be >= 0 (got {self.max_overflow})")
        if self.database not in ("sqlite", "postgresql"):
            raise ValueError(f"database must be sqlite or postgresql (got {self.database!r})")

    @property
    def servers(self) -> int:
        """App servers: one GIL per worker, at most one per core."""
        return min(self.cores, self.workers)

    @property
    def db_connections(self) -> int:
        return self.workers * (self.pool_size + self.max_overflow)

    def network(
        self,
        demands_s: Mapping[str, float],
        shares: Mapping[str, float],
        work_cv: Mapping[str, float] | None = None,
    ) -> PlatformNetwork:
        """The platform network with these demands (all at the app: the client cannot split
        them), route shares (normalised over the routes with a demand) and each route's
        variability of work (`work_cv`, default 1: exponential)."""
        kept = {r: s for r, s in shares.items() if r in demands_s and s > 0}
        total = sum(kept.values())
        if total <= 0:
            raise ValueError("no route with both a share and a demand")
        names = sorted(kept)
        fractions = [kept[r] / total for r in names]
        fractions[-1] = 1.0 - sum(fractions[:-1])
        routes = tuple(
            RouteDemand(
                r,
                f,
                cpu_demand_s=demands_s[r],
                db_demand_s=0.0,
                work_cv=(work_cv or {}).get(r, 1.0),
            )  # fmt: skip
            for r, f in zip(names, fractions, strict=True)
        )
        return PlatformNetwork(
            routes=routes,
            cores=self.cores,
            workers=self.workers,
            threads_per_worker=self.threads_per_worker,
            database=self.database,
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
        )

    def as_record(self) -> dict[str, object]:
        return {
            "cores": self.cores,
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "database": self.database,
            "pool_size": self.pool_size,
            "max_overflow": self.max_overflow,
            "db_connections": self.db_connections,
            "single_writer": self.database == "sqlite",
        }


def predict_network_levels(
    net: PlatformNetwork,
    levels: list[int],
    *,
    think_s: float,
    replications: int = 3,
    requests: int = 5000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per closed level: flow-equivalent throughput and mean (ms), SimPy p95 (ms)."""
    rows = []
    for users, level_seed in zip(
        levels, np.random.SeedSequence(seed).spawn(len(levels)), strict=True
    ):
        fes = solve_closed(net, int(users), think_s)
        p95 = []
        for s in level_seed.spawn(replications):
            run = simulate_network(
                net, seed=s, users=int(users), think_s=think_s, requests=requests
            )
            p95.append(float(np.percentile(run.records["response_s"], 95)) * 1000.0)
        rows.append(
            {
                "users": int(users),
                "network_throughput_per_s": fes.throughput_per_s,
                "network_mean_ms": fes.response_s * 1000.0,
                "network_p95_ms": float(np.mean(p95)),
            }
        )
    return pd.DataFrame(rows)


def route_work_cv(profile: PlatformProfile) -> dict[str, float]:
    """Each route's variability of work: the coefficient of variation of its fitted response
    times at the lowest level (one request at a time; capped at 1, exponential)."""
    out = {}
    for r in profile.routes:
        dist = r.service.frozen()
        mean, std = float(dist.mean()), float(dist.std())
        out[r.name] = min(std / mean, 1.0) if mean > 0 and std > 0 else 1.0
    return out


def calibrated_network(cal, run, run_dir: str | Path, workers: int) -> dict:
    """The network a stepped run calibrates (`net`) and how (`deployment`, `demand_source`,
    `demand_note`, `demands_ms`, `occupancy`): the app's cores are those it was pinned to."""
    from simulations.calibration.occupancy import fit_occupancy, level_table
    from simulations.calibration.telemetry import run_cpu_demand_s, scrape_cpu_demand_s

    meta = run.meta
    database = "postgresql" if "postgres" in str(meta.get("database", "")) else "sqlite"
    pool = int(meta.get("db_pool_size", 10))
    pinned = (meta.get("pinning") or {}).get("app")
    deployment = Deployment(
        cores=len(pinned) if pinned else len(os.sched_getaffinity(0)),
        workers=workers,
        database=database,
        pool_size=pool,
        max_overflow=int(meta.get("db_max_overflow", pool)),
    )
    fitted = cal.steps[cal.steps["used_for_fit"]]
    fit_users = sorted(int(u) for u in fitted["users"].unique())
    levels = level_table(run_dir, run.steps, run.requests, fit_users)
    occupancy = (
        fit_occupancy(levels, workers=workers, servers=deployment.servers)
        if levels is not None
        else None
    )
    if occupancy is not None:
        cpu, cpu_source = occupancy.demand_at_one_s / occupancy.share, "telemetry"
    else:
        cpu, cpu_source = run_cpu_demand_s(run_dir, run.steps, run.requests), "telemetry"
    if cpu is None:  # a target this run did not start: its own exporter's CPU, when scraped
        cpu, cpu_source = scrape_cpu_demand_s(run_dir, run.steps, run.requests), "scrape"
    demands = route_demands_s(
        cal.profile,
        peak_throughput_per_s=float(fitted["throughput_per_s"].max()),
        servers=deployment.servers,
        cpu_s_per_request=cpu,
        cpu_source=cpu_source,
    )
    shares = {r.name: r.share for r in cal.profile.routes}
    net = deployment.network(demands.demands_s, shares, route_work_cv(cal.profile))
    if occupancy is not None:
        net = replace(
            net, cpu_slowdown=occupancy.stretch_per_request, cpu_slowdown_form=occupancy.form
        )
    return {
        "net": net,
        "deployment": deployment.as_record(),
        "demand_source": demands.source,
        "demand_note": demands.note,
        "demands_ms": {r: d * 1000 for r, d in demands.demands_s.items()},
        "occupancy": occupancy.as_record() if occupancy is not None else None,
        "occupancy_levels": levels.to_dict(orient="records") if levels is not None else [],
    }
