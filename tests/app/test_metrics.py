"""Multiprocess metrics: a worker that stops or dies leaves the live gauges of the scrape while
its counts stay; each `surge app serve --app-workers N` run starts from an empty metrics directory. Workers
here are real processes writing to a real directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from support.metrics import metric

from reference_app.metrics import forget_dead_workers
from reference_app.serve import metrics_dir

REPO = Path(__file__).resolve().parents[2]
WORKER = """
import os, sys
from reference_app.metrics import Metrics
metrics = Metrics(os.environ["PROMETHEUS_MULTIPROC_DIR"])
metrics.started()
metrics.finished("GET", "/vaccines", 200, 0.01)
metrics.started()  # a request still in flight
print("ready", flush=True)
if sys.stdin.readline().strip() == "stop":
    metrics.close()
os._exit(0)  # no clean-up of any kind, as when a worker is killed
"""


def _worker(directory: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-c", WORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout.readline().strip() == b"ready"
    return process


def _scrape(directory: Path) -> str:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry).decode()


def _end(process: subprocess.Popen, how: str) -> None:
    process.communicate(f"{how}\n".encode(), timeout=30)


@pytest.mark.parametrize("how", ["stop", "die"])
def test_a_gone_worker_leaves_the_live_gauges_and_its_counts_stay(tmp_path: Path, how: str) -> None:
    process = _worker(tmp_path)
    alive = _scrape(tmp_path)
    assert metric(alive, "surge_workers") == 1
    assert metric(alive, "surge_http_requests_in_flight") == 1
    assert forget_dead_workers(str(tmp_path)) == []  # a live worker is kept
    _end(process, how)
    if how == "die":  # nobody marked it dead: the next scrape's sweep does
        assert metric(_scrape(tmp_path), "surge_workers") == 1
        assert forget_dead_workers(str(tmp_path)) == [process.pid]
    gone = _scrape(tmp_path)
    assert metric(gone, "surge_workers") is None
    assert metric(gone, "surge_http_requests_in_flight") is None
    assert metric(gone, "surge_http_requests_total", route="/vaccines", status="200") == 1


def test_each_serve_run_starts_from_an_empty_metrics_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with metrics_dir(workers=2) as made:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == made
        assert os.listdir(made) == []
    assert not os.path.exists(made) and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_12345.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    with metrics_dir(workers=1) as single:  # one worker: in memory, the directory is not used
        assert single is None and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert os.listdir(given) == ["counter_12345.db"]
    with metrics_dir(workers=2) as used:
        assert used == str(given) and os.listdir(given) == []
