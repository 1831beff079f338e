"""The reference app as a subprocess under test: seeded, served on a free port, stopped after.

A black box: `surge app seed` and `surge app serve` subprocesses (loadtests/app_server.py),
`GET /healthz` to know it is up, SIGTERM to stop. SQLite lives in a file of the run
directory; PostgreSQL gets a fresh database (random name) on the given server, dropped after.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from loadtests.app_server import served_app

__all__ = ["AppUnderTest", "fresh_postgres_database", "postgres_server_url", "started_app"]

SEED_CENTRES = 40
SEED_CENTRES_MAX = 100
SEED_DAYS = 7


@dataclass(frozen=True)
class AppUnderTest:
    base_url: str
    admin_key: str
    database: str  # "sqlite" or "postgresql"
    pid: int | None = None  # the `surge app serve` process, when this run started it


def postgres_server_url(explicit: str | None) -> str:
    """--db, else SURGE_DATABASE_URL, else SURGE_TEST_POSTGRES_URL (a server to create a db on)."""
    for url in (
        explicit,
        os.environ.get("SURGE_DATABASE_URL"),
        os.environ.get("SURGE_TEST_POSTGRES_URL"),
    ):
        if url and url.startswith(("postgresql", "postgres")):
            return url
    raise ValueError(
        "--start-app postgresql needs a server: --db URL, SURGE_DATABASE_URL or "
        "SURGE_TEST_POSTGRES_URL"
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"surge_lt_{secrets.token_hex(6)}"
    admin_url = server_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise OSError(f"cannot create a database on {urlsplit(admin_url).hostname}: {exc}") from exc
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(
    database_url: str, log_path: Path, seed: int, centres: int, source_dir: Path | None = None
) -> None:
    command = [
        sys.executable, "-m", "surge", "app", "seed", "--db", database_url,
        "--centers", str(centres), "--days", str(SEED_DAYS), "--seed", str(seed),
    ]  # fmt: skip
    for _attempt in range(2):  # a busy machine can hit the app's statement timeout once
        with log_path.open("ab") as log:
            done = subprocess.run(
                command,
                stdout=log,
                stderr=log,
                check=False,
                timeout=600,
                cwd=source_dir,
                env={**os.environ, "PYTHONPATH": str(source_dir)} if source_dir else None,
            )
        if done.returncode == 0:
            return
    raise OSError(f"seeding the app failed (exit {done.returncode}); see {log_path}")


@contextmanager
def started_app(
    backend: str,
    run_dir: Path,
    *,
    db_server: str | None = None,
    waiting_room_rate_per_s: float = 0.0,
    workers: int = 1,
    seed: int = 42,
    centres: int = SEED_CENTRES,
    source_dir: Path | None = None,
    serve_args: Sequence[str] = (),
) -> Iterator[AppUnderTest]:
    """Seed `centres` centres (at most SEED_CENTRES_MAX) with SEED_DAYS days of slots and serve
    the app (per-address rate limit off: the load comes from one address).

    `source_dir` serves another checkout's code (a git worktree of another revision);
    `serve_args` are extra `surge app serve` options (e.g. `--inject-cpu`)."""
    log_path = run_dir / "app.log"
    extra = ["--rate-limit-ip", "0", *serve_args]
    if waiting_room_rate_per_s > 0:
        extra += ["--waiting-room-rate", f"{waiting_room_rate_per_s:g}"]
    centres = max(1, min(centres, SEED_CENTRES_MAX))
    if backend == "sqlite":
        url = f"sqlite:///{(run_dir / 'app.db').resolve()}"
        _seed(url, log_path, seed, centres, source_dir)
        with served_app(
            url, workers=workers, extra_args=extra, log_path=log_path, source_dir=source_dir
        ) as app:
            yield AppUnderTest(app.base_url, app.admin_key, "sqlite", app.pid)
    elif backend == "postgresql":
        with fresh_postgres_database(postgres_server_url(db_server)) as url:
            _seed(url, log_path, seed, centres, source_dir)
            with served_app(
                url, workers=workers, extra_args=extra, log_path=log_path, source_dir=source_dir
            ) as app:
                yield AppUnderTest(app.base_url, app.admin_key, "postgresql", app.pid)
    else:
        raise ValueError(f"unknown --start-app {backend!r}: use sqlite or postgresql")
