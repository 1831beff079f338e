"""Fixtures of the load-test suite: servers run as subprocesses on free ports, always stopped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
