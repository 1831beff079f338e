"""The rig: CPU pinning of real processes, per-process telemetry (psutil) of real processes and
of a real PostgreSQL backend, and scraping of a real Prometheus endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pandas as pd
import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from loadtests.app_launcher import free_port
from loadtests.pinning import CorePlan, pin_tree, pinning_record, plan_cores
from loadtests.postgres import fresh_database
from loadtests.scrape import Scraper, check_target, parse_exposition
from loadtests.telemetry import COLUMNS, Telemetry, database_name, loadgen_load

TWO_CORES = len(os.sched_getaffinity(0)) >= 2
BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_cores_split_between_the_load_generator_and_the_app() -> None:
    assert plan_cores([0, 1]) == CorePlan(loadgen=(0,), app=(1,), db=(1,))
    assert plan_cores([0, 1, 2, 3, 4, 5, 6, 7]) == CorePlan(
        (0, 1), (2, 3, 4, 5, 6, 7), (2, 3, 4, 5, 6, 7)
    )
    assert plan_cores([3]) is None
    assert pinning_record(plan_cores([0, 1])) == {"loadgen": [0], "app": [1], "db": [1]}
    assert pinning_record(None) is None


@pytest.fixture
def parent_and_child() -> Iterator[subprocess.Popen]:
    code = "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\ntime.sleep(30)\n"
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield process
    finally:
        import psutil

        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
        process.wait()


@pytest.mark.skipif(not TWO_CORES, reason="needs two usable cores")
def test_pin_tree_pins_a_process_and_its_children(parent_and_child: subprocess.Popen) -> None:
    import psutil

    root = psutil.Process(parent_and_child.pid)
    for _ in range(100):
        if root.children():
            break
        threading.Event().wait(0.05)
    core = max(os.sched_getaffinity(0))
    pinned = pin_tree(root.pid, [core])
    assert len(pinned) == 2
    for pid in pinned:
        assert os.sched_getaffinity(pid) == {core}


def test_telemetry_samples_cpu_and_memory_of_watched_processes(tmp_path: Path) -> None:
    now = [1000.0]
    telemetry = Telemetry(tmp_path / "telemetry.csv", start_epoch_s=1000.0, clock=lambda: now[0])
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.6)])
    try:
        telemetry.watch("app", burner.pid)
        telemetry.watch("other", os.getpid(), tree=False)
        first = telemetry.sample()
        burner.wait(timeout=30)
    finally:
        burner.kill()
    assert {r["role"] for r in first} == {"app", "other"}
    (app,) = [r for r in first if r["role"] == "app"]
    assert app["pid"] == burner.pid and app["rss_bytes"] > 0 and set(app) == set(COLUMNS)
    # The burner is gone; a new one shows its CPU as the difference between two samples.
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.5) + "time.sleep(5)"])
    try:
        telemetry.watch("loadgen", burner.pid)
        before = [r for r in telemetry.sample() if r["pid"] == burner.pid][0]
        threading.Event().wait(1.5)
        now[0] = 1002.5
        after = [r for r in telemetry.sample() if r["pid"] == burner.pid][0]
    finally:
        burner.kill()
        burner.wait()
    assert after["role"] == "loadgen" and after["elapsed_s"] == 2.5
    assert after["cpu_s"] > before["cpu_s"]
    assert after["cpu_pct"] > 0
    # schedstat: the burner ran (and, on a busy machine, may have waited for a core)
    assert after["sched_run_s"] > before["sched_run_s"] > 0
    assert after["sched_wait_s"] >= before["sched_wait_s"] >= 0


def test_telemetry_thread_writes_the_csv_schema(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path / "telemetry.csv", interval_s=0.1)
    telemetry.watch("other", os.getpid(), tree=False)
    telemetry.start()
    threading.Event().wait(0.5)
    telemetry.stop()
    frame = pd.read_csv(tmp_path / "telemetry.csv")
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) >= 3 and (frame["role"] == "other").all()
    assert frame["elapsed_s"].is_monotonic_increasing


def test_database_name_only_for_a_local_postgresql_url() -> None:
    assert database_name("postgresql://postgres@127.0.0.1:5432/surge_run_ab?x=1") == "surge_run_ab"
    assert database_name("postgresql://u@db.example.org/x") is None
    assert database_name("sqlite:////tmp/app.db") is None
    assert database_name(None) is None


@pytest.mark.postgres
def test_telemetry_finds_and_pins_the_backends_of_the_run_database(
    postgres_url: str, tmp_path: Path
) -> None:
    if database_name(postgres_url) is None:
        pytest.skip("the PostgreSQL server is not local")
    core = max(os.sched_getaffinity(0))
    cores = CorePlan(loadgen=(core,), app=(core,), db=(core,))
    with fresh_database(postgres_url) as url, psycopg.connect(url, autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        telemetry = Telemetry(tmp_path / "t.csv", cores=cores)
        telemetry.watch_database(database_name(url))
        rows = telemetry.sample()
        db_pids = {r["pid"] for r in rows if r["role"] == "db"}
        assert backend in db_pids
        assert len(db_pids) >= 2  # the server's own processes too
        assert os.sched_getaffinity(backend) == {core}
        assert telemetry.pinned_db == {backend}
        os.sched_setaffinity(backend, os.sched_getaffinity(0))


@pytest.fixture
def metrics_endpoint() -> Iterator[str]:
    registry = CollectorRegistry()
    counter = Counter("bookings", "bookings made", ["route"], registry=registry)
    counter.labels(route="/book").inc(3)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = make_server("127.0.0.1", 0, make_wsgi_app(registry), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_scraper_reads_a_real_prometheus_endpoint(metrics_endpoint: str, tmp_path: Path) -> None:
    missing = f"http://127.0.0.1:{free_port()}/metrics"  # nothing listens there
    scraper = Scraper(tmp_path / "scrape.csv", [metrics_endpoint, missing], start_epoch_s=0.0)
    with httpx.Client() as client:
        rows = list(scraper.scrape(client))
    by = {(r[1], r[2], r[3]): r[4] for r in rows}
    assert by[(metrics_endpoint, "up", "{}")] == 1.0
    assert by[(metrics_endpoint, "bookings_total", json.dumps({"route": "/book"}))] == 3.0
    assert by[(missing, "up", "{}")] == 0.0


def test_scraper_thread_writes_the_csv_schema(metrics_endpoint: str, tmp_path: Path) -> None:
    scraper = Scraper(tmp_path / "scrape.csv", [metrics_endpoint], interval_s=0.1)
    scraper.start()
    threading.Event().wait(0.5)
    scraper.stop()
    frame = pd.read_csv(tmp_path / "scrape.csv")
    assert list(frame.columns) == ["elapsed_s", "target", "metric", "labels", "value"]
    assert (frame["metric"] == "up").sum() >= 2


def test_openmetrics_text_is_parsed_and_bad_targets_are_refused() -> None:
    text = '# TYPE x counter\nx_total{a="1"} 2.0\n# EOF\n'
    assert parse_exposition(text, "application/openmetrics-text; version=1.0.0") == [
        ("x_total", '{"a": "1"}', 2.0)
    ]
    for bad in ("127.0.0.1:9100/metrics", "ftp://host/metrics", "http:///metrics"):
        with pytest.raises(ValueError, match="--scrape needs an http"):
            check_target(bad)


def test_loadgen_load_per_step_flags_a_saturated_generator(tmp_path: Path) -> None:
    rows = []
    for t in range(0, 21):
        rows.append({"elapsed_s": t, "role": "loadgen", "pid": 7, "name": "python",
                     "cpu_s": 0.2 * t if t <= 10 else 2.0 + 0.95 * (t - 10), "cpu_pct": 0,
                     "rss_bytes": 1})  # fmt: skip
        rows.append({"elapsed_s": t, "role": "app", "pid": 8, "name": "python", "cpu_s": t,
                     "cpu_pct": 0, "rss_bytes": 1})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "telemetry.csv", index=False)
    pd.DataFrame(
        {"step": [0, 1], "users": [1, 32], "start_s": [100.0, 110.0], "end_s": [110.0, 120.0]}
    ).to_csv(tmp_path / "steps.csv", index=False)
    load = loadgen_load(tmp_path / "telemetry.csv", tmp_path / "steps.csv", 100.0)
    assert [s["busiest_pct"] for s in load["steps"]] == [20.0, 95.0]
    assert load["saturated_steps"] == [1]
    assert load["max_busiest_pct"] == 95.0
