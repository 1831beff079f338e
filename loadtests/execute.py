"""Execute a planned load test: (start the app,) run Locust as subprocesses, watch the app,
collect the run directory, judge it.

Locust always runs in its own processes (it monkey-patches the interpreter with gevent), never
inside this one. With `workers > 0` it runs distributed: one master and N worker processes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from loadtests.app_launcher import AppDidNotStart, AppUnderTest, free_port, started_app
from loadtests.errors import RunFailed
from loadtests.monitor import Monitor
from loadtests.pinning import CorePlan, pin_tree, pinning_record, plan_cores
from loadtests.plan import RunPlan, locust_command
from loadtests.postgres import PostgresUnavailable
from loadtests.reports.live import LiveStatus
from loadtests.scrape import Scraper
from loadtests.supply import Replenisher
from loadtests.telemetry import Telemetry, database_name

__all__ = ["RunFailed", "execute"]

log = logging.getLogger("surge.loadtest")


def check_reachable(
    base_url: str, timeout_s: float = 5.0, health_path: str | None = "/healthz"
) -> None:
    """Raise `RunFailed` unless `base_url` answers: `health_path` with 200, or (None) any HTTP
    answer at all at the base URL (a user's platform need not have a health route)."""
    try:
        response = httpx.get(f"{base_url}{health_path or '/'}", timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RunFailed(f"host {base_url} is unreachable: {type(exc).__name__}: {exc}") from None
    if health_path is not None and response.status_code != 200:
        raise RunFailed(f"host {base_url}/healthz answered {response.status_code}, not 200")


@contextlib.contextmanager
def _app(plan: RunPlan, out_dir: Path, cores: CorePlan | None = None) -> Iterator[AppUnderTest]:
    options = plan.options
    if options.host:
        base = options.host.rstrip("/")
        check_reachable(base, health_path=plan.health_path)
        app = AppUnderTest(base, os.environ.get("SURGE_ADMIN_KEY", ""), "external")
        if options.waiting_room_rate is not None:
            _set_waiting_room(app, options.waiting_room_rate)
        yield app
        return
    room = plan.waiting_room_rate_per_s
    try:
        with started_app(
            options.start_app or "sqlite",
            out_dir,
            db_server=options.db,
            seed=options.seed if options.seed is not None else 42,
            centers=plan.seed_centers,
            extra_args=["--waiting-room-rate", f"{room:g}"] if room > 0 else [],
            cpu_cores=cores.app if cores is not None else None,
        ) as app:
            yield app
    except AppDidNotStart as exc:  # its message names app.log and ends with the log's tail
        raise RunFailed(str(exc)) from exc
    except PostgresUnavailable as exc:
        raise RunFailed(str(exc)) from exc


def _set_waiting_room(app: AppUnderTest, rate_per_s: float) -> None:
    if not app.admin_key:
        raise RunFailed(
            "--waiting-room-rate with --host drives the reference app's waiting room: it needs "
            "that app's admin key in SURGE_ADMIN_KEY"
        )
    body = {"enabled": rate_per_s > 0, "rate_per_s": rate_per_s}
    try:
        r = httpx.put(
            f"{app.base_url}/admin/waiting-room",
            json=body,
            headers={"Authorization": f"Bearer {app.admin_key}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise RunFailed(f"could not set the waiting room: {type(exc).__name__}: {exc}") from None
    if r.status_code in (404, 405):
        raise RunFailed(
            f"--waiting-room-rate: {app.base_url} has no PUT /admin/waiting-room "
            f"({r.status_code}); the waiting-room options need the reference app"
        )
    if r.status_code != 200:
        raise RunFailed(f"could not set the waiting room: {r.status_code} {r.text[:200]}")


INVARIANTS_DEADLINE_S = 180.0
INVARIANTS_PAUSE_S = 2.0


def read_invariants(
    app: AppUnderTest,
    deadline_s: float = INVARIANTS_DEADLINE_S,
    pause_s: float = INVARIANTS_PAUSE_S,
) -> dict | None:
    """`/admin/invariants`, read once the app has drained its backlog: after an overload the
    app may still be answering queued requests (timeouts, 503s), so the read is retried every
    `pause_s` until it answers 200 or `deadline_s` has passed. None: never readable (or no
    admin key); the run then reports the invariants as unread, which fails its check."""
    if not app.admin_key:
        return None
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            r = httpx.get(
                f"{app.base_url}/admin/invariants",
                headers={"Authorization": f"Bearer {app.admin_key}"},
                timeout=max(1.0, min(10.0, deadline - time.monotonic())),
            )
            if r.status_code == 200:
                return r.json()
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() + pause_s > deadline:
            log.warning(
                "/admin/invariants unreadable for %.0f s: invariants not checked", deadline_s
            )
            return None
        time.sleep(pause_s)


def _replenisher(plan: RunPlan, app: AppUnderTest, out_dir: Path) -> Replenisher | None:
    """A soak's supply keeper (reference journey, admin key), started; None otherwise."""
    soak = plan.options.soak
    if soak is None or not soak.replenish or not plan.reference_journey:
        return None
    if not app.admin_key:
        log.warning("soak: no admin key (SURGE_ADMIN_KEY), so the supply is not replenished")
        return None
    supply = Replenisher(
        app.base_url,
        app.admin_key,
        plan.behaviour.vaccines,
        out_dir / "supply.csv",
        interval_s=soak.replenish_interval_s,
    )
    supply.start()
    return supply


def _started(process: subprocess.Popen, cores: CorePlan | None, telemetry: Telemetry) -> None:
    if cores is not None:
        pin_tree(process.pid, cores.loadgen)
    telemetry.watch("loadgen", process.pid)


def _run_locust(
    plan: RunPlan, app: AppUnderTest, out_dir: Path, cores: CorePlan | None, telemetry: Telemetry
) -> int:
    env = {**os.environ, "SURGE_ADMIN_KEY": app.admin_key, "PYTHONUNBUFFERED": "1"}
    log_path = out_dir / "locust.log"
    timeout_s = plan.duration_s + 120.0
    with log_path.open("ab") as log:
        if plan.worker_count <= 0:
            process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
                locust_command(plan, app.base_url, out_dir), env=env, stdout=log, stderr=log
            )
            _started(process, cores, telemetry)
            try:
                return process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
        port = plan.options.master_bind_port or free_port()
        master = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
            locust_command(plan, app.base_url, out_dir, "master", port),
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        _started(master, cores, telemetry)
        workers = [
            subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
                locust_command(plan, app.base_url, out_dir, "worker", port),
                env=env,
                stdout=log,
                stderr=log,
            )  # fmt: skip
            for _ in range(plan.options.workers)  # none with --expect-workers: they join
        ]
        for worker in workers:
            _started(worker, cores, telemetry)
        try:
            return master.wait(timeout=timeout_s)
        finally:
            for process in [master, *workers]:
                if process.poll() is None:
                    process.terminate()
            for process in [master, *workers]:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def merge_request_logs(out_dir: Path) -> Path:
    """One `requests.csv` from the per-process logs (sorted by start time)."""
    parts = sorted((out_dir / "requests").glob("requests-*.csv"))
    rows: list[list[str]] = []
    header: list[str] | None = None
    for part in parts:
        with part.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, header)
            rows.extend(reader)
    rows.sort(key=lambda row: float(row[0]))
    target = out_dir / "requests.csv"
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            header
            or ["start_epoch_s", "method", "name", "response_time_ms", "ok", "status", "error"]
        )
        writer.writerows(rows)
    for part in parts:
        part.unlink()
    with contextlib.suppress(OSError):
        (out_dir / "requests").rmdir()
    return target


def execute(plan: RunPlan, echo: Callable[[str], None] = print) -> dict:
    """Run the load test; returns what the summary needs beyond the files of the run dir."""
    out_dir = plan.options.out_dir
    (out_dir / "requests").mkdir(parents=True, exist_ok=True)
    cores = plan_cores() if plan.options.pin and not plan.options.host else None
    origin = time.time()
    (out_dir / "plan.json").write_text(
        json.dumps(
            {
                "scenario": plan.scenario_name,
                "model": plan.model,
                "profile": {"kind": plan.profile.kind, "unit": plan.profile.unit,
                            "points": plan.profile.to_json_points()},
                "behaviour": json.loads(plan.behaviour.to_json()),
                "waiting_room_rate_per_s": plan.waiting_room_rate_per_s,
                "compress": plan.compress,
                "expected_arrivals": plan.expected_arrivals,
                "workers": plan.worker_count,
                "journey_file": str(plan.journey.path),
                "reference_journey": plan.reference_journey,
                "notes": list(plan.notes),
                "pinning": pinning_record(cores),
                "telemetry_start_epoch_s": origin,
                "scrape": list(plan.options.scrape),
            },
            indent=2,
        )
    )  # fmt: skip
    with _app(plan, out_dir, cores) as app:
        echo(
            f"surge loadtest: {plan.scenario_name}, {plan.model} model, {plan.profile.kind} "
            f"shape, {plan.duration_s:.0f}s against {app.base_url} ({app.database})"
        )
        if plan.options.web_port:
            echo(f"Locust web UI: http://127.0.0.1:{plan.options.web_port}")
        monitor = Monitor(app, out_dir / "monitor.csv")
        monitor.start()
        telemetry = Telemetry(out_dir / "telemetry.csv", start_epoch_s=origin, cores=cores)
        telemetry.watch("other", os.getpid(), tree=False)
        if app.pid is not None:
            telemetry.watch("app", app.pid)
        telemetry.watch_database(database_name(app.database_url))
        telemetry.start()
        targets = list(plan.options.scrape)
        if app.pid is not None:
            targets.insert(0, app.base_url + "/metrics")
        scraper = (
            Scraper(out_dir / "scrape.csv", targets, start_epoch_s=origin) if targets else None
        )
        if scraper is not None:
            scraper.start()
        supply = _replenisher(plan, app, out_dir)
        live = LiveStatus(out_dir, plan.duration_s, quiet=plan.options.quiet)
        live.start()
        started = time.time()
        try:
            code = _run_locust(plan, app, out_dir, cores, telemetry)
        except subprocess.TimeoutExpired:
            raise RunFailed(
                f"Locust did not finish in time; see {out_dir / 'locust.log'}"
            ) from None
        finally:
            live.stop()
            telemetry.stop()
            if scraper is not None:
                scraper.stop()
            monitor.stopped.set()
            monitor.join(timeout=5)
            if supply is not None:
                supply.stopped.set()
                supply.join(timeout=30)
        # The reference app's invariants: whenever it is the target (a started app runs any
        # journeys), or the reference journey runs against a --host with its admin key.
        reference_app = plan.reference_journey or plan.options.start_app is not None
        invariants = read_invariants(app) if reference_app else None
        database = app.database
    if code not in (0, 1) or not (out_dir / "locust_stats.csv").exists():
        raise RunFailed(f"Locust failed (exit {code}); see {out_dir / 'locust.log'}")
    merge_request_logs(out_dir)
    return {
        "invariants": invariants,
        "admin_key": bool(app.admin_key),
        "database": database,
        "wall_s": time.time() - started,
        "locust_exit_code": code,
    }
