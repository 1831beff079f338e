"""Engines and transactions for both backends, plus schema creation and default rows.

SQLite: WAL, busy timeout, `BEGIN IMMEDIATE` for write transactions (no lock-upgrade deadlocks),
short transactions. PostgreSQL: psycopg 3 behind SQLAlchemy's connection pool, bounded connect,
checkout and statement timeouts so an outage fails fast instead of hanging workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from reference_app import schema, server_timing
from reference_app.vaccines import DEFAULT_VACCINES


def make_engine(url: str, pool_size: int = 10, timeout_s: float = 5.0) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size, timeout_s)
    return create_engine(
        url,
        hide_parameters=True,  # error messages must not carry patient data or token hashes
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_s,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, int(timeout_s)),
            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
        },
    )


def _sqlite_engine(url: str, pool_size: int, timeout_s: float) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_s,
        connect_args={"timeout": timeout_s, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed, not left in free space (erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        writing = conn.get_execution_options().get("surge_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


_SQLITE_WRITERS: dict[int, threading.Lock] = {}


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A short write transaction (on SQLite it takes the write lock up front).

    SQLite allows one writer per file; threads of one process queue on a lock here instead of
    in SQLite's busy handler, whose back-off sleeps would leave the lock idle under contention.
    """
    if engine.dialect.name != "sqlite":
        with server_timing.pool_wait():
            conn = engine.connect()
        with conn:
            conn.execution_options(surge_write=True)
            with conn.begin():
                yield conn
        return
    lock = _SQLITE_WRITERS.setdefault(id(engine), threading.Lock())
    # Bounded like every other wait: when another process holds the file's write lock, each
    # queued thread must not add its own busy timeout to the ones ahead of it.
    with server_timing.pool_wait():  # the single writer is the connection that counts
        acquired = lock.acquire(timeout=engine.pool.timeout())  # type: ignore[attr-defined]
    if not acquired:
        raise PoolTimeoutError("timed out waiting for this process's SQLite writer lock")
    try:
        with server_timing.pool_wait():
            conn = engine.connect()
        with conn:
            conn.execution_options(surge_write=True)
            with conn.begin():
                yield conn
    finally:
        lock.release()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with server_timing.pool_wait():
        conn = engine.connect()
    with conn, conn.begin():
        yield conn


def is_sqlite(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "sqlite"


def init_db(engine: Engine) -> None:
    """Create the schema and the default rows (idempotent; safe to call at every start)."""
    schema.metadata.create_all(engine, checkfirst=True)
    with writing(engine) as conn:
        have = {row[0] for row in conn.execute(select(schema.vaccines.c.code))}
        missing = [v for v in DEFAULT_VACCINES if v["code"] not in have]
        if missing:
            conn.execute(insert(schema.vaccines), missing)
        if conn.execute(select(schema.waiting_room.c.id)).first() is None:
            conn.execute(
                insert(schema.waiting_room).values(
                    id=1, enabled=0, rate_per_s=0.0, pass_lifetime_s=600.0, cursor_s=0.0
                )
            )
        if conn.execute(select(schema.waiting_room_line.c.id)).first() is None:
            conn.execute(
                insert(schema.waiting_room_line).values(
                    id=1, next_number=0, anchor_number=0.0, anchor_s=0.0
                )
            )


def insert_statement(conn: Connection, table):
    """The backend's `insert()` (with `on_conflict_do_*` and `returning`)."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
