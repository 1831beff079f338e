"""Run `surge app serve` as a subprocess on a free local port, for demos, tests and benchmarks.

Process-level only (no import of the app itself), so black-box testers can use or copy it:

    with served_app("sqlite:///tmp/x.db", extra_args=["--rate-limit-ip", "0"]) as app:
        httpx.get(app.base_url + "/healthz")
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    port: int
    admin_key: str
    data_key: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def fresh_keys() -> tuple[str, str]:
    """(admin key, data key) generated for one run."""
    import base64

    data = "kdemo:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(32), data


def wait_healthy(base_url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the app exited with code {process.returncode} before becoming healthy"
            )
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the app at {base_url} was not healthy within {timeout_s:.0f} s")


def stop(process: subprocess.Popen, timeout_s: float = 15.0) -> int:
    """SIGTERM (graceful), then SIGKILL of the whole process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    return process.returncode


@contextmanager
def served_app(
    database_url: str,
    *,
    workers: int = 1,
    extra_args: Sequence[str] = (),
    admin_key: str | None = None,
    data_key: str | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = 60.0,
    cwd: Path | None = None,
) -> Iterator[ServedApp]:
    """Serve the app on a free port until the block ends, then stop it with SIGTERM."""
    generated_admin, generated_data = fresh_keys()
    admin_key = admin_key or generated_admin
    data_key = data_key or generated_data
    port = free_port()
    env = {**os.environ, "SURGE_ADMIN_KEY": admin_key, "SURGE_DATA_KEY": data_key}
    command = [
        sys.executable, "-m", "surge", "app", "serve", "--db", database_url,
        "--bind", "127.0.0.1", "--port", str(port), "--app-workers", str(workers), *extra_args,
    ]  # fmt: skip
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd=str(cwd) if cwd else None,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, startup_timeout_s, process)
        yield ServedApp(base_url, port, admin_key, data_key, process, log_path)
    finally:
        stop(process)
        if log is not subprocess.DEVNULL:
            log.close()
