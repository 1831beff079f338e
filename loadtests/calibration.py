"""Drive a stepped calibration run: start the reference app (optional), run Locust with
`loadtests/journeys/steps.py`, and leave a run directory that `surge calibrate` reads.

The app is a black box over HTTP, seeded and served by `loadtests.app_launcher` (`surge app
seed` and `surge app serve` subprocesses, `GET /healthz`, SIGTERM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadtests import app_launcher
from loadtests.errors import LoadTestInputError, RunFailed
from loadtests.execute import check_reachable
from loadtests.pinning import CorePlan, pin_tree, pinning_record, plan_cores
from loadtests.scrape import Scraper
from loadtests.telemetry import Telemetry, database_name, loadgen_load

STEPS_LOCUSTFILE = Path(__file__).parent / "journeys" / "steps.py"
DB_POOL_SIZE = 10  # served with --db-pool-size; the reference app's max_overflow equals it


@dataclass(frozen=True)
class StepPlan:
    """Levels held `hold_s` each. Every level runs once per pass (3 by default), in a fresh
    random order per pass (seeded), so a drift of background load on a shared machine spreads
    over all levels instead of looking like contention at the last ones, and the held-out level
    does not always run last. `passes=1` runs the levels once, ascending."""

    levels: tuple[int, ...]
    hold_s: float = 20.0
    settle_s: float = 5.0
    passes: int = 3
    order_seed: int = 0

    def __post_init__(self) -> None:
        if not self.levels or any(n < 1 for n in self.levels):
            raise LoadTestInputError("step levels must be positive integers")
        if self.hold_s <= self.settle_s or self.settle_s < 0:
            raise LoadTestInputError("hold must be longer than settle, and settle >= 0")
        if self.passes < 1:
            raise LoadTestInputError("passes must be >= 1")

    def schedule(self) -> tuple[int, ...]:
        if self.passes == 1:
            return tuple(self.levels)
        import numpy as np

        rng = np.random.default_rng(np.random.SeedSequence(self.order_seed))
        return tuple(int(n) for _ in range(self.passes) for n in rng.permutation(self.levels))


def _journey_args(locustfile: Path | None) -> tuple[str, list[str]]:
    """Locust's `-f` list and extra arguments: the reference CalibrationPatient, or the
    user's journeys beside the step shape and recorder (its ArrivalUsers back to back, else its
    plain users as they are)."""
    if locustfile is None:
        return str(STEPS_LOCUSTFILE), []
    from loadtests.journeys.journey_file import read_journey_file

    journey = read_journey_file(locustfile)
    chosen = journey.arrival_classes or journey.plain_classes
    back_to_back = ["--arrivals-back-to-back"] if journey.arrival_classes else []
    files = f"{STEPS_LOCUSTFILE},{Path(locustfile).resolve()}"
    return files, [*back_to_back, *(c.name for c in chosen)]


def run_steps(
    host: str,
    plan: StepPlan,
    out_dir: Path,
    meta: dict | None = None,
    *,
    cores: CorePlan | None = None,
    app_pid: int | None = None,
    database_url: str | None = None,
    scrape: Sequence[str] = (),
    locustfile: Path | None = None,
) -> Path:
    """Run Locust headless through every level of `plan`; returns the run directory.

    Locust is pinned to `cores.loadgen` (when given); `telemetry.csv` samples the load
    generator, this process, the app's tree (`app_pid`) and a local PostgreSQL server of
    `database_url` once a second; `scrape.csv` scrapes each `scrape` URL. `run.json` records
    the pinning, the telemetry's time origin and the load generator's CPU per step. The
    journeys are the reference CalibrationPatient's, or those of `locustfile`."""
    files, journey_args = _journey_args(locustfile)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SURGE_STEPS": ",".join(str(n) for n in plan.schedule()),
        "SURGE_HOLD_S": str(plan.hold_s),
        "SURGE_RECORD_DIR": str(out_dir),
    }
    cmd = [
        sys.executable, "-m", "locust", "-f", files, "--headless", "-H", host,
        "--only-summary", "--csv", str(out_dir / "locust"), "--loglevel", "WARNING",
        *journey_args,
    ]  # fmt: skip
    timeout = plan.hold_s * len(plan.schedule()) + 120
    started = time.time()
    telemetry = Telemetry(out_dir / "telemetry.csv", start_epoch_s=started, cores=cores)
    telemetry.watch("other", os.getpid(), tree=False)
    if app_pid is not None:
        telemetry.watch("app", app_pid)
    telemetry.watch_database(database_name(database_url))
    scraper = Scraper(out_dir / "scrape.csv", scrape, start_epoch_s=started) if scrape else None
    telemetry.start()
    if scraper is not None:
        scraper.start()
    try:
        with (out_dir / "locust.log").open("wb") as log:
            process = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)  # noqa: S603 - an argument list of our own, no shell
            if cores is not None:
                pin_tree(process.pid, cores.loadgen)
            telemetry.watch("loadgen", process.pid)
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RunFailed(
                    f"Locust did not finish the steps in {timeout:g}s; see {out_dir}/locust.log"
                ) from None
    finally:
        telemetry.stop()
        if scraper is not None:
            scraper.stop()
    if not (out_dir / "steps.csv").is_file():
        raise RunFailed(
            f"locust exited with code {returncode} without a step schedule (see {out_dir}/locust.log)"
        )
    record = {
        "host": host,
        "levels": list(plan.levels),
        "schedule": list(plan.schedule()),
        "hold_s": plan.hold_s,
        "settle_s": plan.settle_s,
        "passes": plan.passes,
        "order_seed": plan.order_seed,
        "think_time_s": 0.0,
        "journey_file": str(locustfile) if locustfile is not None else None,
        "locust_exit_code": returncode,
        "run_dir": str(out_dir),
        "pinning": pinning_record(cores),
        "telemetry_start_epoch_s": started,
        "load_average_1m_5m_15m": list(os.getloadavg()),
        "cpu_count": os.cpu_count(),
        "loadgen": loadgen_load(out_dir / "telemetry.csv", out_dir / "steps.csv", started),
        **(meta or {}),
    }
    (out_dir / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return out_dir


@contextmanager
def started_app(
    backend: str, out_dir: Path, workers: int, postgres_url: str | None
) -> Iterator[tuple[str, dict]]:
    """`--start-app sqlite|postgresql`, unpinned: yields (base URL, run metadata)."""
    with started_target(backend, out_dir, workers, postgres_url) as (app, meta):
        yield app.base_url, meta


@contextmanager
def started_target(
    backend: str,
    out_dir: Path,
    workers: int,
    postgres_url: str | None,
    cores: CorePlan | None = None,
    pool_size: int = DB_POOL_SIZE,
) -> Iterator[tuple[app_launcher.AppUnderTest, dict]]:
    """`--start-app sqlite|postgresql`: a fresh database, seeded, served with no rate limits
    (`loadtests.app_launcher`), pinned to `cores.app` when given; yields (the app, run
    metadata)."""
    if backend == "postgresql":
        postgres_url = (
            postgres_url
            or os.environ.get("SURGE_TEST_POSTGRES_URL")
            or os.environ.get("SURGE_POSTGRES_URL")
        )
        if not postgres_url:
            raise LoadTestInputError(
                "--start-app postgresql needs --db URL (or SURGE_TEST_POSTGRES_URL)"
            )
    with app_launcher.started_app(
        backend,
        out_dir,
        db_server=postgres_url,
        workers=workers,
        extra_args=["--rate-limit-token", "0", "--db-pool-size", str(pool_size)],
        cpu_cores=cores.app if cores is not None else None,
    ) as app:
        meta = {
            "database": app.database,
            "web_workers": workers,
            "db_pool_size": pool_size,
            "db_max_overflow": pool_size,
            "db_connections": 2 * pool_size * workers,  # pool_size + max_overflow per worker
        }
        yield app, meta


def plan_record(plan: StepPlan) -> dict:
    return asdict(plan)


@dataclass(frozen=True)
class Validation:
    records: list[dict]
    out_dir: Path
    fit_levels: tuple[int, ...]
    held_out: tuple[int, ...]
    written: dict[str, Path]
    usl_kappa: list[dict] = field(default_factory=list)
    run_meta: dict = field(default_factory=dict)
    configurations: list[dict] = field(default_factory=list)


def validate(
    out_dir: Path,
    plan: StepPlan,
    *,
    holdout: int = 1,
    host: str | None = None,
    backend: str | None = None,
    workers: int = 1,
    postgres_url: str | None = None,
    replications: int = 5,
    requests: int = 20_000,
    bootstrap_replicates: int = 200,
    seed: int = 0,
    pin: bool = True,
    scrape: Sequence[str] = (),
    locustfile: Path | None = None,
    configs: Sequence = (),
) -> Validation:
    """Run the steps, fit on all but the `holdout` highest levels, predict those, compare.

    The held-out steps run in the same Locust session (same warm app), but nothing measured at
    them reaches the fit: `calibrate` only reads the fit levels. With `pin` (and a started
    app on a machine with 2+ cores) Locust runs on its own core(s), the app and its database on
    the others (see `loadtests.pinning`).
    """
    from simulations.calibration.calibrate import calibrate, write_outputs
    from simulations.calibration.deployment import calibrated_network
    from simulations.calibration.prediction import predict_levels
    from simulations.calibration.step_run import read_step_run
    from simulations.calibration.validation import (
        compare,
        compare_usl_kappa,
        signed_error,
        write_validation,
    )

    levels = sorted(set(plan.levels))
    if holdout < 1 or len(levels) - holdout < 3:
        raise LoadTestInputError(
            f"need at least 3 fit levels plus {holdout} held out; got levels {levels}"
        )
    if (host is None) == (backend is None):
        raise LoadTestInputError("give exactly one of --host URL or --start-app sqlite|postgresql")
    if configs and (backend is None or locustfile is not None):
        raise LoadTestInputError("--config serves the reference app again: use it with --start-app")
    cores = plan_cores() if pin and backend is not None else None
    if configs and cores is None:
        raise LoadTestInputError(
            "--config needs the app pinned: a machine with 2+ cores, no --no-pin"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = out_dir / "run"
    health = "/healthz" if locustfile is None else None  # a user's platform: any answer
    if host is not None:
        meta = {"database": "external", "web_workers": workers}
        check_reachable(host.rstrip("/"), timeout_s=10, health_path=health)
        run_steps(host.rstrip("/"), plan, run_dir, meta, scrape=scrape, locustfile=locustfile)
    else:
        with started_target(backend, out_dir, workers, postgres_url, cores) as (app, meta):
            run_steps(
                app.base_url, plan, run_dir, meta, cores=cores, app_pid=app.pid,
                database_url=app.database_url, scrape=[app.base_url + "/metrics", *scrape],
                locustfile=locustfile,
            )  # fmt: skip

    run = read_step_run(run_dir, settle_s=plan.settle_s)
    fit_levels, held = levels[:-holdout], levels[-holdout:]
    cal = calibrate(
        run, fit_levels=fit_levels, bootstrap_replicates=bootstrap_replicates, seed=seed
    )
    predicted = predict_levels(
        cal.profile, levels, replications=replications, requests=requests, seed=seed
    )
    records = compare(predicted, run.summary(), held)
    usl_kappa = compare_usl_kappa(run.window_throughputs(), run.summary(), fit_levels, held)
    built = calibrated_network(cal, run, run_dir, workers)
    network = _network_predictions(built, cal, levels, replications, seed)
    by_level = network["levels"].set_index("users")
    for record in records:
        row = by_level.loc[record["load"]]
        record["network_throughput"] = float(row["network_throughput_per_s"])
        record["network_throughput_error"] = signed_error(
            record["network_throughput"], record["measured_throughput"]
        )
        record["network_p95_ms"] = float(row["network_p95_ms"])
        record["network_p95_error"] = signed_error(
            record["network_p95_ms"], record["measured_p95_ms"]
        )
    config_records = []
    if configs:
        from loadtests.configurations import run_configs

        def serve_and_run(here: Path, n: int, at: CorePlan, pool: int, extra: dict) -> None:
            sub = StepPlan(tuple(held), plan.hold_s, plan.settle_s, plan.passes, plan.order_seed)
            with started_target(backend, here, n, postgres_url, at, pool) as (app, meta):
                run_steps(
                    app.base_url, sub, here / "run", {**meta, **extra}, cores=at,
                    app_pid=app.pid, database_url=app.database_url,
                    scrape=[app.base_url + "/metrics"],
                )  # fmt: skip

        config_records = run_configs(
            list(configs), out_dir=out_dir, settle_s=plan.settle_s, held_out=held,
            serve_and_run=serve_and_run, workers=workers, default_pool_size=DB_POOL_SIZE,
            base_cores=cores, built=built, base_run=run, base_predicted=network["levels"],
            think_s=cal.profile.think_time_s, replications=min(replications, 3), seed=seed,
        )  # fmt: skip
    written = write_outputs(cal, out_dir / "profile.toml", predicted)
    written["validation"] = write_validation(
        out_dir / "validation.json",
        records,
        {
            "fit_levels": fit_levels,
            "held_out_levels": held,
            "plan": plan_record(plan),
            "run": run.meta,
            "usl": cal.usl_fit.as_record(),
            "usl_kappa": usl_kappa,
            "replications": replications,
            "network": {k: v for k, v in network.items() if k != "levels"},
            "network_levels": network["levels"].to_dict(orient="records"),
            "configurations": config_records,
        },
    )
    (out_dir / "predictions.csv").write_text(predicted.to_csv(index=False), encoding="utf-8")
    return Validation(
        records, out_dir, tuple(fit_levels), tuple(held), written, usl_kappa, dict(run.meta),
        config_records,
    )  # fmt: skip


def _network_predictions(built: dict, cal, levels, replications: int, seed: int) -> dict:
    """The platform network of the calibrated deployment (`calibrated_network`), solved at
    every level."""
    from simulations.calibration.deployment import predict_network_levels

    table = predict_network_levels(
        built["net"], list(levels), think_s=cal.profile.think_time_s,
        replications=min(replications, 3), seed=seed,
    )  # fmt: skip
    return {**{k: v for k, v in built.items() if k != "net"}, "levels": table}
