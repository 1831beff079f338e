"""A fresh PostgreSQL database for one run or one test: created with a random name on a server,
dropped afterwards.

    with fresh_database("postgresql://postgres@127.0.0.1:5432/test") as url:
        ...  # url names a new, empty database on that server

Only the server is touched (CREATE DATABASE, DROP DATABASE ... WITH (FORCE), PostgreSQL 13+);
the shared database named in the server URL is never written.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from loadtests.errors import LoadTestInputError, TargetUnreachableError

__all__ = ["PostgresUnavailable", "fresh_database"]

CONNECT_TIMEOUT_S = 5
SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")


class PostgresUnavailable(TargetUnreachableError):
    """The PostgreSQL server could not be reached, or refused to create or drop a database."""


def _server_conninfo(server_url: str) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver suffix)."""
    scheme = urlsplit(server_url).scheme
    if scheme not in SCHEMES:
        raise LoadTestInputError(
            f"not a PostgreSQL URL: {scheme or server_url!r} (use postgresql://...)"
        )
    return "postgresql" + server_url[len(scheme) :]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _where(conninfo: str) -> str:
    parts = urlsplit(conninfo)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def _execute(conninfo: str, statement: sql.Composed, doing: str) -> None:
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(statement)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresUnavailable(
            f"cannot {doing} on the PostgreSQL server at {_where(conninfo)}: {reason}"
        ) from exc


@contextmanager
def fresh_database(server_url: str, prefix: str = "surge") -> Iterator[str]:
    """Create `<prefix>_<random hex>` on the server at `server_url`, yield its `postgresql://`
    URL (the server URL with the database replaced), and drop it when the block ends.

    Raises PostgresUnavailable (an OSError) when the server cannot be reached or refuses.
    """
    conninfo = _server_conninfo(server_url)
    name = f"{prefix}_{secrets.token_hex(6)}"
    database = sql.Identifier(name)
    _execute(conninfo, sql.SQL("CREATE DATABASE {}").format(database), f"create database {name}")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database)
    try:
        yield _with_database(conninfo, name)
    except BaseException as error:
        try:  # the block's own error is the one to see; the drop is best effort
            _execute(conninfo, drop, f"drop database {name}")
        except PostgresUnavailable as not_dropped:
            error.add_note(f"and the database was left behind: {not_dropped}")
        raise
    _execute(conninfo, drop, f"drop database {name}")
