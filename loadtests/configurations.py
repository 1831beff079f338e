"""Held-out configurations: calibrate on one deployment, then predict others without refitting.

`surge calibrate --validate --start-app ... --config workers=2 --config cores=2,workers=2
--config pool=2` runs, after the calibration's steps, each configuration as its own deployment:
a fresh database, the app served with those limits, the held-out level(s) run again. The model
calibrated on the first deployment (`simulations.calibration.deployment.calibrated_network`) predicts each one
with its limits changed and nothing refitted:

- `workers=N`: app (uvicorn) worker processes, one GIL and one thread pool each;
- `cores=N`: cores the app and its database are pinned to. The load generator keeps its own
  core(s); with N above the cores left to the app it shares them (on a 2-core machine,
  `cores=2` puts the app on both, the generator on one of them);
- `pool=N`: DB connections per worker, pool_size + max_overflow (served as
  `--db-pool-size N/2`, so N is even).

When the app's cores include the load generator's, the generator's CPU per request (measured
in the calibration) is work on the same cores (`PlatformNetwork.loadgen_cpu_s`).

Each configuration is scored twice: its absolute throughput and p95 against the measurement,
and the throughput ratio to the calibrated deployment at the same level, predicted against
measured (target: within `RATIO_TARGET`). By the utilisation law X = U / D, so each ratio splits
into the app's CPU seconds per second (U, how much of its cores it used) and its CPU seconds
per request (D), measured from both runs' telemetry (`simulations.calibration.occupancy`):
`measured_utilisation_ratio` x `measured_demand_ratio` (D_base / D_config) = measured ratio.
The model's own D_base / D_config, from the occupancy fit at the occupancy each run measured, is
`predicted_demand_ratio`: where the two disagree, the model missed what the deployment does to
the app's cost per request; where the utilisation ratios do, what it does to its cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from loadtests.errors import LoadTestInputError
from loadtests.pinning import CorePlan

__all__ = ["HeldOutConfig", "RATIO_TARGET", "parse_config", "config_cores"]

RATIO_TARGET = 0.15  # |predicted ratio / measured ratio - 1| (issue 13)
KEYS = ("workers", "cores", "pool")


@dataclass(frozen=True)
class HeldOutConfig:
    """A deployment to predict: None keeps the calibrated deployment's value."""

    spec: str
    workers: int | None = None
    cores: int | None = None
    pool: int | None = None  # connections per worker (pool_size + max_overflow)

    @property
    def pool_size(self) -> int | None:
        return None if self.pool is None else self.pool // 2


def parse_config(spec: str) -> HeldOutConfig:
    """`workers=2`, `cores=2,workers=2`, `pool=2`: a clear error for anything else."""
    values: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, raw = part.strip().partition("=")
        if not sep or key not in KEYS:
            raise LoadTestInputError(
                f"--config {spec!r}: give key=value pairs, keys {', '.join(KEYS)} "
                "(e.g. workers=2 or cores=2,workers=2)"
            )
        if key in values:
            raise LoadTestInputError(f"--config {spec!r}: {key} given twice")
        try:
            value = int(raw)
        except ValueError:
            raise LoadTestInputError(f"--config {spec!r}: {key} must be an integer") from None
        if value < 1:
            raise LoadTestInputError(f"--config {spec!r}: {key} must be >= 1")
        values[key] = value
    if "pool" in values and (values["pool"] < 2 or values["pool"] % 2):
        raise LoadTestInputError(
            f"--config {spec!r}: pool is pool_size + max_overflow, served as two equal halves: "
            "give an even number >= 2"
        )
    if not values:
        raise LoadTestInputError(f"--config {spec!r}: nothing to change")
    return HeldOutConfig(spec=spec, **values)


def config_cores(config: HeldOutConfig, base: CorePlan | None, available: list[int]) -> CorePlan:
    """The core plan of a configuration: the calibrated plan, the app (and database) on
    `config.cores` cores: its own first, then the generator's when it asks for more."""
    if base is None:
        raise LoadTestInputError(
            "--config needs the app pinned: a machine with 2+ cores, no --no-pin"
        )
    if config.cores is None:
        return base
    if config.cores > len(available):
        raise LoadTestInputError(
            f"--config {config.spec!r}: {config.cores} cores asked, {len(available)} usable"
        )
    order = [*base.app, *[c for c in available if c not in base.app]]
    app = tuple(sorted(order[: config.cores]))
    return replace(base, app=app, db=app)


def config_meta(config: HeldOutConfig, out_dir: Path) -> dict:
    """What a configuration's run directory records about it."""
    return {"config": config.spec, "config_dir": str(out_dir)}


def run_configs(
    configs: list[HeldOutConfig],
    *,
    out_dir: Path,
    settle_s: float,
    held_out: list[int],
    serve_and_run: Callable[[Path, int, CorePlan, int, dict], None],
    workers: int,
    default_pool_size: int,
    base_cores: CorePlan | None,
    built: dict,
    base_run,
    base_predicted,
    think_s: float,
    replications: int,
    seed: int,
) -> list[dict]:
    """Serve, run and score every configuration at the held-out levels: one record per
    (configuration, level), with absolute errors and the ratio to the calibrated deployment.

    `serve_and_run(dir, workers, cores, pool_size, meta)` serves the app so and runs the
    held-out steps into `dir/run` (`loadtests.calibration.validate` gives it); `built` is
    `calibrated_network`'s output (the calibrated network); `base_run` the calibration's
    `StepRun` as validate read it, and `base_predicted` the network's predictions at its levels
    (`network_throughput_per_s` per `users`), as validate solved them."""
    import os

    import numpy as np

    from simulations.calibration.deployment import predict_network_levels
    from simulations.calibration.occupancy import level_table
    from simulations.calibration.step_run import read_step_run
    from simulations.calibration.telemetry import run_cpu_demand_s
    from simulations.calibration.validation import signed_error

    base_net = built["net"]
    base_levels = _by_users(level_table(out_dir / "run", base_run.steps, base_run.requests,
                                        held_out))  # fmt: skip
    loadgen_cpu_s = run_cpu_demand_s(out_dir / "run", base_run.steps, base_run.requests, "loadgen")
    base_measured = base_run.summary().set_index("users")
    base_pred = base_predicted.set_index("users")
    available = sorted(os.sched_getaffinity(0))
    records = []
    for i, config in enumerate(configs):
        cores = config_cores(config, base_cores, available)
        n_workers = config.workers or workers
        pool_size = config.pool_size or default_pool_size
        shared = bool(set(cores.app) & set(cores.loadgen))
        net = replace(
            base_net,
            workers=n_workers,
            cores=len(cores.app),
            pool_size=pool_size,
            max_overflow=pool_size,
            loadgen_cpu_s=(loadgen_cpu_s or 0.0) if shared else 0.0,
            loadgen_servers=None,
        )
        here = out_dir / "configs" / f"{i + 1}"
        serve_and_run(here, n_workers, cores, pool_size, config_meta(config, here))
        cfg_run = read_step_run(here / "run", settle_s=settle_s)
        measured = cfg_run.summary().set_index("users")
        cfg_levels = _by_users(level_table(here / "run", cfg_run.steps, cfg_run.requests,
                                           held_out))  # fmt: skip
        predicted = predict_network_levels(
            net, held_out, think_s=think_s, replications=replications, seed=seed
        ).set_index("users")
        for users in held_out:
            x_pred = float(predicted.loc[users, "network_throughput_per_s"])
            x_meas = float(measured.loc[users, "throughput_per_s"])
            q_pred = float(predicted.loc[users, "network_p95_ms"])
            q_meas = float(measured.loc[users, "p95_ms"])
            ratio_pred = x_pred / float(base_pred.loc[users, "network_throughput_per_s"])
            ratio_meas = x_meas / float(base_measured.loc[users, "throughput_per_s"])
            ratio_err = signed_error(ratio_pred, ratio_meas)
            records.append(
                {
                    "config": config.spec,
                    "load": int(users),
                    "deployment": {
                        "workers": n_workers,
                        "cores": list(cores.app),
                        "loadgen_cores": list(cores.loadgen),
                        "pool_size": pool_size,
                        "max_overflow": pool_size,
                        "db_connections": n_workers * 2 * pool_size,
                    },
                    "predicted_throughput": x_pred,
                    "measured_throughput": x_meas,
                    "throughput_error": signed_error(x_pred, x_meas),
                    "predicted_p95_ms": q_pred,
                    "measured_p95_ms": q_meas,
                    "p95_error": signed_error(q_pred, q_meas),
                    "predicted_ratio": ratio_pred,
                    "measured_ratio": ratio_meas,
                    "ratio_error": ratio_err,
                    "ratio_within_target": bool(np.isfinite(ratio_err))
                    and abs(ratio_err) <= RATIO_TARGET,
                    **_decomposition(
                        built.get("occupancy"), base_levels, cfg_levels, users, workers, n_workers
                    ),  # fmt: skip
                    "loadgen_on_app_cores": shared,
                    "measured_failures": int(measured.loc[users, "failures"]),
                    "run_dir": str(here / "run"),
                }
            )
    return records


def _by_users(table):
    return None if table is None else table.set_index("users")


def _decomposition(occupancy: dict | None, base, cfg, users: int, base_workers: int,
                   cfg_workers: int) -> dict:  # fmt: skip
    """The measured ratio split by the utilisation law (U ratio x D_base / D_config), and the
    model's D_base / D_config from the occupancy fit at the occupancies measured."""
    keys = ("measured_utilisation_ratio", "measured_demand_ratio", "predicted_demand_ratio")
    if base is None or cfg is None or users not in base.index or users not in cfg.index:
        return dict.fromkeys(keys)
    b, c = base.loc[users], cfg.loc[users]
    out = {
        "measured_utilisation_ratio": float(c["utilisation"] / b["utilisation"]),
        "measured_demand_ratio": float(b["cpu_ms_per_request"] / c["cpu_ms_per_request"]),
        "predicted_demand_ratio": None,
        "base_cpu_ms_per_request": float(b["cpu_ms_per_request"]),
        "config_cpu_ms_per_request": float(c["cpu_ms_per_request"]),
        "base_utilisation": float(b["utilisation"]),
        "config_utilisation": float(c["utilisation"]),
    }
    if occupancy:
        from simulations.calibration.occupancy import demand_ms

        d_base = demand_ms(occupancy, float(b["inside"]) / base_workers)
        d_cfg = demand_ms(occupancy, float(c["inside"]) / cfg_workers)
        out["predicted_demand_ratio"] = d_base / d_cfg
    return out
