"""The app factory: `create_app(settings)` builds the booking API against one database.

`create_app_from_env()` is the uvicorn factory used by `surge app serve` (one call per worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reference_app import (
    admin,
    appointments,
    centers,
    patients,
    practitioners,
    retention,
    room_line,
    server_timing,
    waiting_room,
)
from reference_app import vaccines as vaccine_rules
from reference_app.context import AppContext, context
from reference_app.database import init_db, make_engine, reading
from reference_app.errors import DB_RETRY_AFTER_S, error_response, install_error_handlers
from reference_app.identity import Keyring
from reference_app.instrumentation import Instrumentation
from reference_app.memory import cap_malloc_arenas
from reference_app.metrics import CONTENT_TYPE, MULTIPROC_DIR_ENV, Metrics, ScrapeGauge
from reference_app.patient_keys import check_index_key
from reference_app.rehearsal import CpuInjection
from reference_app.room_edge import WaitingRoomEdge
from reference_app.settings import Settings, settings_from_env

log = logging.getLogger("reference_app")


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> FastAPI:
    """The app against `settings.database_url`; `clock` (seconds since the epoch) times the
    waiting room. With PROMETHEUS_MULTIPROC_DIR set, /metrics covers every worker sharing it."""
    engine = make_engine(settings.database_url, settings.db_pool_size, settings.db_timeout_s)
    with contextlib.suppress(IntegrityError):  # another worker created the default rows at once
        init_db(engine)
    keyring = Keyring.parse(settings.data_keys, settings.index_key)
    check_index_key(engine, keyring)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        keyring=keyring,
        metrics=Metrics(os.environ.get(MULTIPROC_DIR_ENV) or None),
        clock=clock,
    )
    ctx.metrics.watch_pool(engine.pool)
    if settings.server_timing:
        server_timing.install(engine)
        ctx.metrics.enable_server_timing()
    ctx.metrics.read_at_scrape(lambda: _scrape_gauges(ctx))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        purging = None
        if settings.purge_older_than_s > 0:
            purging = asyncio.create_task(retention.purge_periodically(ctx))
        try:
            yield
        finally:
            if purging is not None:
                purging.cancel()
            ctx.metrics.close()
            engine.dispose()

    app = FastAPI(
        title="Surge reference booking API",
        version="1.0",
        description="A minimal but real national vaccination-booking API (the system under test).",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(centers.router)
    app.include_router(patients.router)
    app.include_router(retention.router)
    app.include_router(appointments.router)
    app.include_router(practitioners.router)
    app.include_router(waiting_room.router)
    app.include_router(admin.router)
    _add_service_routes(app)
    if settings.waiting_room_edge:  # inside Instrumentation, so its answers are measured too
        app.add_middleware(WaitingRoomEdge, ctx=ctx)
    if settings.inject_cpu:  # inside Instrumentation: the burnt CPU counts in the route's time
        app.add_middleware(CpuInjection, rules=settings.inject_cpu)
    app.add_middleware(
        Instrumentation,
        metrics=ctx.metrics,
        max_body_bytes=settings.max_body_bytes,
        server_timing=settings.server_timing,
    )
    return app


def _add_service_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["service"])
    def healthz(ctx: Annotated[AppContext, Depends(context)]) -> JSONResponse:
        """200 when the database answers, else 503 with Retry-After."""
        try:
            with reading(ctx.engine) as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return error_response(
                503,
                "db_unavailable",
                "database unavailable",
                {"Retry-After": str(DB_RETRY_AFTER_S)},
                database="down",
            )
        return JSONResponse({"status": "ok", "database": "ok", "backend": ctx.engine.dialect.name})

    @app.get("/vaccines", tags=["vaccines"])
    def get_vaccines(ctx: Annotated[AppContext, Depends(context)]) -> list[dict]:
        """Vaccines with their rules: doses, and min/max days between doses."""
        with reading(ctx.engine) as conn:
            return vaccine_rules.list_vaccines(conn)

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    def get_metrics(ctx: Annotated[AppContext, Depends(context)]) -> Response:
        """Prometheus text format: every worker of this instance in one scrape."""
        return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE)


def _scrape_gauges(ctx: AppContext) -> list[ScrapeGauge]:
    """The waiting room's gauges and whether the database answered, read at each scrape."""
    try:
        with reading(ctx.engine) as conn:
            config = room_line.read_config(conn)
            queued = room_line.queue_length(conn, ctx.clock())
    except SQLAlchemyError:
        return [("surge_database_up", "1 when the database answered this scrape.", 0.0)]
    return [
        ("surge_waiting_room_enabled", "1 when the waiting room is on.", float(config.enabled)),
        ("surge_waiting_room_size", "Visitors queued, not yet admitted.", float(queued)),
        ("surge_waiting_room_admission_rate", "Admissions per second when on.", config.rate_per_s),
        ("surge_database_up", "1 when the database answered this scrape.", 1.0),
    ]


def create_app_from_env() -> FastAPI:
    """uvicorn factory: settings from SURGE_* environment variables (set by `surge app serve`).

    The worker process's malloc arenas are capped here, before it starts its threads."""
    settings = settings_from_env()
    cap_malloc_arenas(settings.malloc_arenas)
    return create_app(settings)
