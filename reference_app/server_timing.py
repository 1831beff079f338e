"""Where a request's time goes inside the app, as a `Server-Timing` header (opt-in).

Off by default: timings sent to anonymous clients are a side channel. With `surge app serve
--server-timing` every response carries

    Server-Timing: pool;dur=0.012, db;dur=1.834, app;dur=3.410

in milliseconds, where `pool` is the time spent waiting for a database connection (the pool's
checkout, and on SQLite the wait for the process's single writer), `db` the time spent executing
statements (cursor executions, BEGIN included), and `app` the total time inside the app, from
the request reaching its outermost middleware to the response's first byte. `pool` and `db` are
disjoint intervals inside `app`, so `app - pool - db` is the app's own time, and the client's
response time minus `app` is the time outside the app (socket backlog, network, thread-pool
queueing before the middleware). `/metrics` gets the per-route histogram
`surge_server_timing_seconds{method, route, component}` of each component.

The components are residence times, not demands: under load they include queueing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Engine, event

__all__ = ["RequestTiming", "begin", "end", "header_value", "install", "pool_wait"]

HEADER = b"server-timing"


@dataclass
class RequestTiming:
    """Seconds accumulated by one request (mutable: threads of the request add to it)."""

    started: float
    pool_s: float = 0.0
    db_s: float = 0.0


_current: ContextVar[RequestTiming | None] = ContextVar("surge_request_timing", default=None)


def begin() -> object:
    """Start timing the current request; returns the token for `end`."""
    return _current.set(RequestTiming(started=time.perf_counter()))


def current() -> RequestTiming | None:
    return _current.get()


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def pool_wait() -> Iterator[None]:
    """Time a wait for a database connection (a no-op when the request is not timed)."""
    timing = _current.get()
    if timing is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timing.pool_s += time.perf_counter() - started


def install(engine: Engine) -> None:
    """Time every statement executed through `engine` into the current request's `db`."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, _statement, _params, _context, _many) -> None:
        conn.info["surge_statement_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, _cursor, _statement, _params, _context, _many) -> None:
        started = conn.info.pop("surge_statement_started", None)
        timing = _current.get()
        if timing is not None and started is not None:
            timing.db_s += time.perf_counter() - started

    @event.listens_for(engine, "handle_error")
    def _failed(context) -> None:
        conn = context.connection
        started = conn.info.pop("surge_statement_started", None) if conn is not None else None
        timing = _current.get()
        if timing is not None and started is not None:
            timing.db_s += time.perf_counter() - started


def header_value(timing: RequestTiming, app_s: float) -> bytes:
    """`pool;dur=…, db;dur=…, app;dur=…` in milliseconds."""
    return (
        f"pool;dur={timing.pool_s * 1000:.3f}, db;dur={timing.db_s * 1000:.3f}, "
        f"app;dur={app_s * 1000:.3f}"
    ).encode()
