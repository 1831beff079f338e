"""The demo's first step: seed the reference app on SQLite, serve it on a free port, book one
patient through HTTP (`reference_app.walkthrough`), stop the server."""

from __future__ import annotations

import time
from pathlib import Path

from surge.demo.page import StepRecord

__all__ = ["app_step", "run_app_demo"]


def run_app_demo(workdir: Path, centers: int = 30, days: int = 7) -> list[dict]:
    """Seed, serve on a free port, run the booking walkthrough, stop the server."""
    from loadtests.app_launcher import served_app
    from reference_app.database import make_engine
    from reference_app.seed import SeedPlan, seed
    from reference_app.walkthrough import run_booking_demo

    url = f"sqlite:///{workdir / 'demo.db'}"
    engine = make_engine(url)
    report = seed(engine, SeedPlan(centers=centers, days=days, seed=42))
    engine.dispose()
    print(
        f"seeded {report['centers']} centres, {report['slots']} slots in {report['seconds']} s ({url})"
    )
    with served_app(url, workers=1, log_path=workdir / "server.log") as app:
        print(f"serving at {app.base_url} (pid {app.pid})")
        steps = run_booking_demo(app.base_url, app.admin_key)
    return steps


def app_step(workdir: Path, fresh: bool) -> tuple[StepRecord, list[dict]]:
    """Run the walkthrough in `workdir` (from an empty database when `fresh`); its record on
    the demo page and its steps."""
    workdir.mkdir(parents=True, exist_ok=True)
    if fresh:
        for old in workdir.glob("demo.db*"):
            old.unlink()
    started = time.perf_counter()
    walkthrough = run_app_demo(workdir)
    for step in walkthrough:
        print(f"    {step['step']:<12} {step['status']}  {step['what']}")
    broken = [s for s in walkthrough if s["step"] == "invariants" and s["status"] != 200]
    record = StepRecord(
        "app",
        "Reference app: seed, serve, book through HTTP",
        "surge app seed + surge app serve + HTTP walkthrough",
        1 if broken else 0,
        time.perf_counter() - started,
        "app/server.log",
        "failed" if broken else "ok",
    )
    return record, walkthrough
