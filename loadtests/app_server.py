"""`surge app serve` as a subprocess on a free local port: started, waited for, stopped.

Process-level only: the app is a black box reached over HTTP. The command line and the two
environment secrets (SURGE_ADMIN_KEY, SURGE_DATA_KEY) are the whole contract; readiness is
`GET /healthz` answering 200; stopping is SIGTERM, then SIGKILL of the process group.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServedApp", "served_app"]

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    admin_key: str
    pid: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base_url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OSError(f"the app exited with code {process.returncode} before becoming healthy")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise OSError(f"the app at {base_url} was not healthy within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def served_app(
    database_url: str,
    *,
    workers: int = 1,
    extra_args: Sequence[str] = (),
    log_path: Path,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    source_dir: Path | None = None,
) -> Iterator[ServedApp]:
    """Serve the app on a free 127.0.0.1 port with fresh keys until the block ends.

    `source_dir`: serve the code of that checkout (another revision) instead of this one."""
    admin_key = secrets.token_urlsafe(32)
    data_key = "kload:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    port = _free_port()
    env = {**os.environ, "SURGE_ADMIN_KEY": admin_key, "SURGE_DATA_KEY": data_key}
    if source_dir is not None:
        env["PYTHONPATH"] = str(source_dir)
    command = [
        sys.executable, "-m", "surge", "app", "serve", "--db", database_url,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *extra_args,
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=log, start_new_session=True, cwd=source_dir
        )
        try:
            _wait_healthy(base_url, process, startup_timeout_s)
            yield ServedApp(base_url, admin_key, process.pid)
        finally:
            _stop(process)
