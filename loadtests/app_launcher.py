"""The reference app as a process under test: seeded, served on a free local port, stopped after.

A black box reached over HTTP. `surge app seed` and `surge app serve` run as subprocesses; the
command line and two environment secrets (SURGE_ADMIN_KEY, SURGE_DATA_KEY) are the whole
contract; the app is up when `GET /healthz` answers 200; it is stopped with SIGTERM, then
SIGKILL of its process group if it lingers. Its output goes to a log file (`app.log` in the run
directory); when it does not come up, `AppDidNotStart` names that log and carries its tail.

    with served_app("sqlite:////tmp/x.db", log_path=run_dir / "app.log") as app:
        httpx.get(app.base_url + "/healthz")

    with started_app("postgresql", run_dir, db_server="postgresql://postgres@127.0.0.1/test") as app:
        ...  # a fresh database, seeded, served; dropped afterwards
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.errors import LoadTestInputError, TargetUnreachableError
from loadtests.pinning import pin_tree
from loadtests.postgres import fresh_database

__all__ = [
    "AppDidNotStart",
    "AppUnderTest",
    "ServedApp",
    "free_port",
    "fresh_keys",
    "postgres_server_url",
    "seed_app",
    "served_app",
    "started_app",
]

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
SEED_TIMEOUT_S = 600.0
SEED_ATTEMPTS = 2  # a busy machine can hit the app's statement timeout once while seeding
SEED_CENTERS = 40
SEED_CENTERS_MAX = 100
SEED_DAYS = 7
LOG_TAIL_LINES = 20


class AppDidNotStart(TargetUnreachableError):
    """The app under test could not be seeded or did not come up; the message's first line
    names the log, the following lines are the log's tail."""

    def __init__(self, reason: str, log_path: Path) -> None:
        self.log_path = log_path
        self.tail = _tail(log_path)
        last = next((line.strip() for line in reversed(self.tail) if line.strip()), "")
        message = f"the app did not start: {reason} (see {log_path})"
        if last:
            message += f": {last}"
        if self.tail:
            message += f"\nlast lines of {log_path}:\n" + "\n".join(f"  {t}" for t in self.tail)
        super().__init__(message)


def _tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with log_path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines()[-lines:] if text.strip() else []


@dataclass(frozen=True)
class ServedApp:
    """One `surge app serve` process: where it listens, its keys, its process and log."""

    base_url: str
    port: int
    admin_key: str
    data_key: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True)
class AppUnderTest:
    """What a load test needs of its target; `pid` only when this run started the app."""

    base_url: str
    admin_key: str
    database: str  # "sqlite", "postgresql" or "external"
    pid: int | None = None
    database_url: str | None = None  # when this run created the database


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def fresh_keys() -> tuple[str, str]:
    """(admin key, data key) for one run; the data key in the `kid:base64(32 bytes)` format."""
    data_key = f"k{secrets.token_hex(4)}:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(32), data_key


def _surge(*args: str) -> list[str]:
    return [sys.executable, "-m", "surge", *args]


def _wait_healthy(
    base_url: str, process: subprocess.Popen, timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AppDidNotStart(
                f"`surge app serve` exited with code {process.returncode} before answering "
                "GET /healthz",
                log_path,
            )
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise AppDidNotStart(f"{base_url}/healthz did not answer 200 within {timeout_s:g} s", log_path)


def stop(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM (graceful), then SIGKILL of the whole process group if it lingers; any process
    left in the group after the leader exited is killed too. Returns the leader's exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait(timeout=5)
    _kill_group(process.pid)
    return process.returncode


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left in the group
        os.killpg(pgid, signal.SIGKILL)


@contextmanager
def _log_file(log_path: Path | None) -> Iterator[Path]:
    """The given log, or a temporary one removed afterwards unless the app failed to start."""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        yield log_path
        return
    handle, name = tempfile.mkstemp(prefix="surge-app-", suffix=".log")
    os.close(handle)
    path = Path(name)
    try:
        yield path
    except AppDidNotStart:
        raise  # its message names the log: keep it
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)


@contextmanager
def served_app(
    database_url: str,
    *,
    workers: int = 1,
    extra_args: Sequence[str] = (),
    admin_key: str | None = None,
    data_key: str | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    cwd: Path | None = None,
    source_dir: Path | None = None,
    cpu_cores: Sequence[int] | None = None,
) -> Iterator[ServedApp]:
    """Serve the app on a free 127.0.0.1 port until the block ends (fresh keys unless given).

    `source_dir` serves the code of that checkout (a git worktree of another revision) instead
    of this one.

    Output goes to `log_path` (appended), or to a temporary log kept only if the app fails to
    start. Raises AppDidNotStart when it exits or is not healthy within `startup_timeout_s`.
    With `cpu_cores`, the app is pinned to those cores as soon as it starts (its workers, forked
    later, inherit it), and its whole process tree again once it is healthy.
    """
    generated_admin, generated_data = fresh_keys()
    admin_key = admin_key or generated_admin
    data_key = data_key or generated_data
    port = free_port()
    env = {**os.environ, "SURGE_ADMIN_KEY": admin_key, "SURGE_DATA_KEY": data_key}
    if source_dir is not None:
        env["PYTHONPATH"] = str(source_dir)
        cwd = cwd or source_dir
    command = _surge(
        "app", "serve", "--db", database_url, "--bind", "127.0.0.1", "--port", str(port),
        "--app-workers", str(workers), *extra_args,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with _log_file(log_path) as log_file, log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
            command,
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(cwd) if cwd else None,
        )
        try:
            if cpu_cores:
                pin_tree(process.pid, cpu_cores)
            _wait_healthy(base_url, process, startup_timeout_s, log_file)
            if cpu_cores:
                pin_tree(process.pid, cpu_cores)
            yield ServedApp(base_url, port, admin_key, data_key, process, log_file)
        finally:
            stop(process)


def seed_app(
    database_url: str,
    log_path: Path,
    *,
    centers: int = SEED_CENTERS,
    days: int = SEED_DAYS,
    seed: int = 42,
    attempts: int = SEED_ATTEMPTS,
    source_dir: Path | None = None,
) -> None:
    """`surge app seed` into `database_url` (output appended to `log_path`), tried `attempts`
    times. Raises AppDidNotStart when it fails."""
    command = _surge(
        "app", "seed", "--db", database_url, "--centers", str(centers), "--days", str(days),
        "--seed", str(seed),
    )  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(max(1, attempts)):
        with log_path.open("ab") as log:
            done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
                command,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                timeout=SEED_TIMEOUT_S,
                cwd=source_dir,
                env={**os.environ, "PYTHONPATH": str(source_dir)} if source_dir else None,
            )
        if done.returncode == 0:
            return
    raise AppDidNotStart(f"`surge app seed` failed with code {done.returncode}", log_path)


def postgres_server_url(explicit: str | None) -> str:
    """The PostgreSQL server to create a fresh database on: `explicit`, else SURGE_DATABASE_URL,
    else SURGE_TEST_POSTGRES_URL."""
    for url in (
        explicit,
        os.environ.get("SURGE_DATABASE_URL"),
        os.environ.get("SURGE_TEST_POSTGRES_URL"),
    ):
        if url and url.startswith(("postgresql", "postgres")):
            return url
    raise LoadTestInputError(
        "--start-app postgresql needs a PostgreSQL server: its URL, or SURGE_DATABASE_URL or "
        "SURGE_TEST_POSTGRES_URL"
    )


@contextmanager
def started_app(
    database: str,
    run_dir: Path,
    *,
    db_server: str | None = None,
    workers: int = 1,
    seed: int = 42,
    centers: int = SEED_CENTERS,
    days: int = SEED_DAYS,
    extra_args: Sequence[str] = (),
    source_dir: Path | None = None,
    cpu_cores: Sequence[int] | None = None,
) -> Iterator[AppUnderTest]:
    """A fresh database (`sqlite`: run_dir/app.db; `postgresql`: a new database on `db_server`,
    see `postgres_server_url`, dropped after), seeded with `centers` centres (at most
    SEED_CENTERS_MAX) and `days` days of slots, served with the per-address rate limit off (the
    load comes from one address) plus `extra_args`, pinned to `cpu_cores` when given; output in
    run_dir/app.log. `source_dir` seeds and serves another checkout's code (see `served_app`)."""
    log_path = run_dir / "app.log"
    serve_args = ["--rate-limit-ip", "0", *extra_args]
    centers = max(1, min(centers, SEED_CENTERS_MAX))
    with ExitStack() as stack:
        if database == "sqlite":
            run_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{(run_dir / 'app.db').resolve()}"
        elif database == "postgresql":
            server = postgres_server_url(db_server)
            url = stack.enter_context(fresh_database(server, prefix="surge_run"))
        else:
            raise LoadTestInputError(f"unknown --start-app {database!r}: use sqlite or postgresql")
        seed_app(url, log_path, centers=centers, days=days, seed=seed, source_dir=source_dir)
        with served_app(
            url,
            workers=workers,
            extra_args=serve_args,
            log_path=log_path,
            source_dir=source_dir,
            cpu_cores=cpu_cores,
        ) as app:
            yield AppUnderTest(app.base_url, app.admin_key, database, app.pid, url)
