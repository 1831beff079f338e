"""Fixtures of the load-test suite: servers run as subprocesses on free ports, always stopped."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.app_launcher import free_port

REPO = Path(__file__).resolve().parents[2]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def fifo_server() -> Iterator[Callable[[float], str]]:
    """Start `loadtests.driver.fifo_server` with a service time in ms; returns its base URL."""
    started: list[subprocess.Popen] = []

    def start(service_ms: float) -> str:
        process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
            [sys.executable, "-m", "loadtests.driver.fifo_server", "--service-ms", str(service_ms)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        started.append(process)
        line = process.stdout.readline().strip()
        assert line.startswith("listening on "), line
        return line.removeprefix("listening on ")

    yield start
    for process in started:
        process.stdout.close()
        _stop(process)


# A gunicorn config as a platform would deploy one: each worker exposes its own process metrics
# (prometheus_client's default registry: process_cpu_seconds_total) on METRICS_PORT.
GUNICORN_EXPORTER = """
import os


def post_worker_init(worker):
    from prometheus_client import start_http_server

    start_http_server(int(os.environ["METRICS_PORT"]), addr="127.0.0.1")
"""


@contextlib.contextmanager
def served_pypiserver(directory: Path, metrics_port: int | None = None) -> Iterator[str]:
    """pypiserver (a PyPI index, installed from PyPI) served by gunicorn on a free port; with
    `metrics_port`, its worker also serves Prometheus process metrics there."""
    packages = directory / "packages"
    packages.mkdir()
    port = free_port()
    config: list[str] = []
    env = None
    if metrics_port is not None:
        (directory / "gunicorn_conf.py").write_text(GUNICORN_EXPORTER)
        config = ["-c", str(directory / "gunicorn_conf.py")]
        env = {**os.environ, "METRICS_PORT": str(metrics_port)}
    process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "gunicorn", *config, "-b", f"127.0.0.1:{port}", "-w", "1",
         f"pypiserver:app(roots=[{str(packages)!r}])"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=packages, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/simple/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield base
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def pypiserver(tmp_path_factory) -> Iterator[str]:
    """A platform that is not Surge's: pypiserver from PyPI behind gunicorn."""
    with served_pypiserver(tmp_path_factory.mktemp("pypiserver")) as base:
        yield base


@pytest.fixture(scope="module")
def pypiserver_exporter(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """pypiserver behind gunicorn whose worker exports its CPU: (base URL, metrics URL)."""
    metrics_port = free_port()
    with served_pypiserver(tmp_path_factory.mktemp("pypiserver"), metrics_port) as base:
        yield base, f"http://127.0.0.1:{metrics_port}/metrics"
