"""The app monitor's connection counts (`loadtests.monitor`): the established TCP connections
of a real process tree, and the sessions of one PostgreSQL database in `pg_stat_activity`."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest

from loadtests.monitor import AppProcess, DatabaseSessions
from loadtests.postgres import fresh_database


def test_the_established_tcp_connections_of_the_process_are_counted() -> None:
    process = AppProcess(os.getpid())
    before = int(process.sample()[2])
    with socket.create_server(("127.0.0.1", 0)) as server:
        clients = [socket.create_connection(server.getsockname()) for _ in range(3)]
        accepted = [server.accept()[0] for _ in clients]
        assert int(process.sample()[2]) == before + 6  # both ends of each are this process's
        for s in clients + accepted:
            s.close()
    assert AppProcess(None).sample() == ("", "", "")


@pytest.mark.postgres
def test_the_sessions_of_the_apps_database_are_counted_not_the_monitors(postgres_url) -> None:
    with fresh_database(postgres_url, prefix="surge_monitor") as url:
        sessions = DatabaseSessions(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            assert sessions.sample() == "0"
            held = [psycopg.connect(url) for _ in range(3)]
            assert sessions.sample() == "3"
            for connection in held:
                connection.close()
        finally:
            sessions.close()
    assert DatabaseSessions("sqlite:///x.db").sample() == ""
