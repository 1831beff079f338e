"""Parameter sweeps: every combination of parameter values, replicated, in parallel.

A sweep is a list of variants (one per combination of `--param` values) of a model input, a
picklable model function `model(variant, seed) -> dict of KPIs`, and a number of replications.
Replication r of every variant uses child r of `SeedSequence(seed)`, the same child the
model's own `run_replications` would use, so variants are compared with common random numbers.
The unit of work is one (variant, replication) run; runs go to a local `ProcessPoolExecutor`
(or run in-process with one worker) or to a Dask cluster given its scheduler address.
The result is tidy: one row per (combination, KPI) with mean and 95% interval.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulations.replications import confidence_interval
from surge.errors import SurgeError

__all__ = [
    "Param",
    "SweepError",
    "SweepResult",
    "center_kpis",
    "combinations",
    "parse_param",
    "center_variants",
    "run_sweep",
    "scenario_kpis",
    "scenario_variants",
]

_RANGE = re.compile(r"^([^=\s]+)=(.+)$")


class SweepError(SurgeError, ValueError):
    """A parameter specification that cannot be swept."""


@dataclass(frozen=True)
class Param:
    key: str
    values: tuple[Any, ...]


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"--param {spec!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"--param {spec!r}: {text!r} is not finite")
    return value


def parse_param(spec: str) -> Param:
    """`key=start:stop:step` (stop included when on the grid) or `key=a,b,c`."""
    match = _RANGE.match(spec.strip())
    if not match:
        raise SweepError(f"--param {spec!r} is not like key=start:stop:step or key=a,b,c")
    key, body = match.groups()
    if ":" in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise SweepError(f"--param {spec!r}: a range is start:stop:step")
        start, stop, step = (_number(p, spec) for p in parts)
        if step <= 0:
            raise SweepError(f"--param {spec!r}: step must be positive")
        if stop < start:
            raise SweepError(f"--param {spec!r}: stop is below start")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > 10_000:
            raise SweepError(f"--param {spec!r}: {count} values is too many")
        values = [start + i * step for i in range(count)]
        if all(float(p).is_integer() for p in (start, step)):
            values = [int(round(v)) for v in values]
        else:
            values = [round(v, 12) for v in values]
        return Param(key, tuple(values))
    values = []
    for item in body.split(","):
        item = item.strip()
        try:
            values.append(int(item))
        except ValueError:
            try:
                values.append(float(item))
            except ValueError:
                values.append(item)
    if not values or any(v == "" for v in values):
        raise SweepError(f"--param {spec!r}: empty value")
    return Param(key, tuple(values))


def combinations(params: Sequence[Param]) -> list[dict[str, Any]]:
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise SweepError("each --param key may be given only once")
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(p.values for p in params))
    ]


def scenario_kpis(scenario: Any, seed: np.random.SeedSequence) -> dict[str, float]:
    """Model function for national opening-day scenarios."""
    from simulations.national.opening_day import simulate

    return {k: float(v) for k, v in simulate(scenario, seed).kpis.items()}


def center_kpis(config: Any, seed: np.random.SeedSequence) -> dict[str, float]:
    """Model function for vaccination-centre configs."""
    from simulations.center.report import run_kpis
    from simulations.center.simulation import simulate_center

    return run_kpis(simulate_center(config, seed))


def scenario_variants(ref: str, params: Sequence[Param]) -> list[tuple[dict[str, Any], Any]]:
    """Every combination as a validated scenario (bad keys fail here, before any run)."""
    from simulations.scenario.scenario import load_scenario

    return [(combo, load_scenario(ref, combo)) for combo in combinations(params)]


def center_variants(ref: str, params: Sequence[Param]) -> list[tuple[dict[str, Any], Any]]:
    from simulations.center.config import load_center

    return [(combo, load_center(ref, combo)) for combo in combinations(params)]


def _run_task(
    task: tuple[Callable, Any, np.random.SeedSequence, int, int],
) -> tuple[int, int, dict]:
    model, variant, seed, index, replication = task
    # A fresh copy: SeedSequence.spawn counts children, so a reused object would change streams.
    fresh = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    return index, replication, model(variant, fresh)


@dataclass(frozen=True)
class SweepResult:
    runs: pd.DataFrame  # one row per (combination, replication): parameters then KPIs
    params: list[str]

    def tidy(self) -> pd.DataFrame:
        """One row per (combination, KPI): parameters, kpi, mean, ci_low, ci_high, replications."""
        rows = []
        kpi_columns = [c for c in self.runs.columns if c not in (*self.params, "replication")]
        for values, group in self.runs.groupby(self.params, sort=False, dropna=False):
            values = values if isinstance(values, tuple) else (values,)
            for kpi in kpi_columns:
                mean, low, high = confidence_interval(group[kpi].to_numpy())
                rows.append(
                    {
                        **dict(zip(self.params, values, strict=True)),
                        "kpi": kpi,
                        "mean": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "replications": len(group),
                    }
                )
        return pd.DataFrame(rows)


def _local(tasks: list, workers: int) -> Iterator[tuple[int, int, dict]]:
    if workers == 1:
        for task in tasks:
            yield _run_task(task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_task, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def _dask(tasks: list, address: str) -> Iterator[tuple[int, int, dict]]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise SweepError(
            "a Dask scheduler needs the 'distributed' extra: pip install -e '.[distributed]'"
        ) from None
    try:
        client = Client(address, timeout="3s")
    except OSError as exc:
        raise SweepError(f"cannot reach Dask scheduler {address}: {exc}") from None
    try:
        futures = client.map(_run_task, tasks, pure=False)
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.close()


def run_sweep(
    model: Callable[[Any, np.random.SeedSequence], dict[str, float]],
    variants: Sequence[tuple[dict[str, Any], Any]],
    replications: int,
    seed: int = 1,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run `model` on every (parameters, variant) pair `replications` times."""
    if replications < 1:
        raise SweepError("--replications must be at least 1")
    if not variants:
        raise SweepError("nothing to sweep")
    seeds = np.random.SeedSequence(seed).spawn(replications)
    tasks = [
        (model, variant, seeds[r], i, r)
        for i, (_, variant) in enumerate(variants)
        for r in range(replications)
    ]
    workers = workers or os.cpu_count() or 1
    stream = _dask(tasks, scheduler) if scheduler else _local(tasks, min(workers, len(tasks)))
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=len(tasks), desc="sweep", unit="run")
    results = sorted(stream, key=lambda item: (item[0], item[1]))
    params = list(variants[0][0])
    rows = [{**variants[i][0], "replication": r, **kpis} for i, r, kpis in results]
    return SweepResult(pd.DataFrame(rows), params)
