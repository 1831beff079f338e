"""The app monitor: once a second, the waiting-room length, requests in flight, and (for an app
this run started) its resident memory, CPU and TCP connections, and on PostgreSQL the database
sessions of its database, into `monitor.csv`.

Columns: `epoch_s`, `waiting_room_queued`, `in_flight`, `app_rss_mb`, `app_cpu_pct` (% of one
core), `app_tcp_connections` (established TCP connections of the app's process tree: clients
and, on PostgreSQL, its pool), `db_connections` (`pg_stat_activity` rows of the app's database,
the monitor's own session excluded). A field the run cannot measure is blank.
"""

from __future__ import annotations

import contextlib
import csv
import re
import threading
import time
from pathlib import Path

import httpx
import psutil

from loadtests.app_launcher import AppUnderTest

__all__ = ["COLUMNS", "INTERVAL_S", "AppProcess", "DatabaseSessions", "Monitor"]

INTERVAL_S = 1.0
COLUMNS = (
    "epoch_s",
    "waiting_room_queued",
    "in_flight",
    "app_rss_mb",
    "app_cpu_pct",
    "app_tcp_connections",
    "db_connections",
)


class AppProcess:
    """Resident memory, CPU and established TCP connections of the app's process tree
    (supervisor and workers), when this run started the app; blank fields otherwise."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.cpu: dict[int, psutil.Process] = {}  # cpu_percent() needs the same objects

    def sample(self) -> tuple[str, str, str]:
        if self.pid is None:
            return "", "", ""
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree) / 2**20
            cpu = 0.0
            connections = 0
            for p in tree:
                known = self.cpu.setdefault(p.pid, p)
                cpu += known.cpu_percent()
                connections += sum(
                    c.status == psutil.CONN_ESTABLISHED for c in p.net_connections(kind="tcp")
                )
        except psutil.Error:
            return "", "", ""
        return f"{rss:.1f}", f"{cpu:.1f}", str(connections)


class DatabaseSessions:
    """Sessions of the app's PostgreSQL database (`pg_stat_activity`), over one connection of
    the monitor's own; '' for SQLite or when the server cannot be read."""

    QUERY = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str | None) -> None:
        self.conninfo = None
        if database_url and database_url.startswith(("postgresql", "postgres")):
            self.conninfo = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", database_url)
        self.connection = None

    def sample(self) -> str:
        if self.conninfo is None:
            return ""
        import psycopg

        try:
            if self.connection is None:
                self.connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=2)
            row = self.connection.execute(self.QUERY).fetchone()
        except psycopg.Error:
            self.close()
            return ""
        return str(row[0]) if row else ""

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


class Monitor(threading.Thread):
    """Samples the app once a second into monitor.csv (see the module docstring)."""

    def __init__(self, app: AppUnderTest, path: Path) -> None:
        super().__init__(daemon=True)
        self.app, self.path = app, path
        self.stopped = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.app.admin_key}"} if self.app.admin_key else {}
        sessions = DatabaseSessions(self.app.database_url)
        with self.path.open("w", newline="") as f, httpx.Client(timeout=2.0) as client:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            process = AppProcess(self.app.pid)
            process.sample()  # the first CPU reading is only a baseline
            try:
                while not self.stopped.wait(INTERVAL_S):
                    queued = in_flight = ""
                    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                        if headers:
                            r = client.get(
                                f"{self.app.base_url}/admin/waiting-room", headers=headers
                            )
                            queued = r.json()["queued"] if r.status_code == 200 else ""
                    with contextlib.suppress(httpx.HTTPError):
                        r = client.get(f"{self.app.base_url}/metrics")
                        for line in r.text.splitlines():
                            if line.startswith("surge_http_requests_in_flight "):
                                in_flight = line.split()[-1]
                    rss, cpu, tcp = process.sample()
                    row = [f"{time.time():.3f}", queued, in_flight, rss, cpu, tcp]
                    writer.writerow([*row, sessions.sample()])
                    f.flush()
            finally:
                sessions.close()
