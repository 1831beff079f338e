"""`surge demo`: seed a small app on SQLite, serve it, book through HTTP, print what happened."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def run_app_demo(workdir: Path, centers: int = 30, days: int = 7) -> list[dict]:
    """Seed, serve on a free port, run the booking walkthrough, stop the server."""
    from reference_app.database import make_engine
    from reference_app.launcher import served_app
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


def _demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="surge-demo-") as tmp:
        steps = run_app_demo(Path(args.workdir) if args.workdir else Path(tmp))
    for step in steps:
        print(f"  {step['step']:<12} {step['status']}  {step['what']}")
    print(f"demo finished in {time.perf_counter() - started:.1f} s")
    failed = [s for s in steps if s["step"] == "invariants" and s["status"] != 200]
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="end-to-end demo: seed a small app, serve it, book through HTTP",
        description="Seed a small national dataset on SQLite, serve the app on a free local port, "
        "make real bookings through HTTP (search, availability, booking with dose 2, replay, list, "
        "cancel, invariants), print what happened and stop the server.",
    )
    demo.add_argument(
        "--workdir", help="keep the database and server log here (default: a temp dir)"
    )
    demo.set_defaults(func=_demo)
