"""The app factory: `create_app(settings)` builds the booking API against one database.

`create_app_from_env()` is the uvicorn factory used by `surge app serve` (one call per worker).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reference_app import admin, appointments, centers, patients, practitioners, waiting_room
from reference_app import vaccines as vaccine_rules
from reference_app.context import AppContext, context
from reference_app.database import init_db, insert_statement, make_engine, reading, writing
from reference_app.errors import DB_RETRY_AFTER_S, error_response, install_error_handlers
from reference_app.identity import Keyring
from reference_app.instrumentation import Instrumentation
from reference_app.metrics import SNAPSHOT_FRESH_S, Metrics, dumps, render
from reference_app.rehearsal import CpuInjection
from reference_app.room_edge import WaitingRoomEdge
from reference_app.schema import worker_metrics
from reference_app.settings import Settings, settings_from_env

log = logging.getLogger("reference_app")
FLUSH_EVERY_S = 2.0


def _snapshot(ctx: AppContext) -> dict:
    snap = ctx.metrics.snapshot()
    pool = ctx.engine.pool
    snap["pool"] = {
        "size": getattr(pool, "size", lambda: 0)(),
        "checked_out": getattr(pool, "checkedout", lambda: 0)(),
        "overflow": max(0, getattr(pool, "overflow", lambda: 0)()),
    }
    return snap


def _flush(ctx: AppContext) -> None:
    with writing(ctx.engine) as conn:
        stmt = insert_statement(conn, worker_metrics).values(
            worker=ctx.metrics.worker, updated_s=time.time(), payload=dumps(_snapshot(ctx))
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[worker_metrics.c.worker],
                set_={"updated_s": stmt.excluded.updated_s, "payload": stmt.excluded.payload},
            )
        )


def _flusher(ctx: AppContext, stop: threading.Event) -> None:
    while not stop.wait(FLUSH_EVERY_S):
        # When the database is down, /metrics still serves this worker's live numbers.
        with contextlib.suppress(SQLAlchemyError):
            _flush(ctx)


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.database_url, settings.db_pool_size, settings.db_timeout_s)
    with contextlib.suppress(IntegrityError):  # another worker created the default rows at once
        init_db(engine)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        keyring=Keyring.parse(settings.data_keys),
        metrics=Metrics(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = threading.Thread(
            target=_flusher, args=(ctx, stop), name="metrics-flush", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            try:
                with writing(engine) as conn:
                    conn.execute(
                        delete(worker_metrics).where(worker_metrics.c.worker == ctx.metrics.worker)
                    )
            except SQLAlchemyError:
                pass
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
    app.include_router(appointments.router)
    app.include_router(practitioners.router)
    app.include_router(waiting_room.router)
    app.include_router(admin.router)
    _add_service_routes(app)
    if settings.waiting_room_edge:  # inside Instrumentation, so its answers are measured too
        app.add_middleware(WaitingRoomEdge, ctx=ctx)
    if settings.inject_cpu:  # inside Instrumentation: the burnt CPU counts in the route's time
        app.add_middleware(CpuInjection, rules=settings.inject_cpu)
    app.add_middleware(Instrumentation, metrics=ctx.metrics, max_body_bytes=settings.max_body_bytes)
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
    def get_metrics(ctx: Annotated[AppContext, Depends(context)]) -> PlainTextResponse:
        """Prometheus text format, summed over every worker with a fresh snapshot."""
        now = time.time()
        own = _snapshot(ctx)
        snapshots = {ctx.metrics.worker: own}
        gauges: list[tuple[str, str, dict[str, str], float]] = []
        database_up = 1.0
        try:
            with reading(ctx.engine) as conn:
                for worker, payload in conn.execute(
                    select(worker_metrics.c.worker, worker_metrics.c.payload).where(
                        worker_metrics.c.updated_s > now - SNAPSHOT_FRESH_S
                    )
                ):
                    if worker != ctx.metrics.worker:
                        snapshots[worker] = json.loads(payload)
                config = waiting_room.read_config(conn)
                queued = waiting_room.queue_length(conn, now)
            gauges += [
                (
                    "surge_waiting_room_enabled",
                    "1 when the waiting room is on.",
                    {},
                    float(config.enabled),
                ),
                (
                    "surge_waiting_room_size",
                    "Visitors queued, not yet admitted.",
                    {},
                    float(queued),
                ),
                (
                    "surge_waiting_room_admission_rate",
                    "Admissions per second when on.",
                    {},
                    config.rate_per_s,
                ),
            ]
        except SQLAlchemyError:
            database_up = 0.0
        gauges.append(
            ("surge_database_up", "1 when the database answered this scrape.", {}, database_up)
        )
        for worker, snap in sorted(snapshots.items()):
            pool = snap.get("pool", {})
            for key in ("size", "checked_out", "overflow"):
                gauges.append(
                    (
                        f"surge_db_pool_{key}",
                        f"Database pool {key.replace('_', ' ')}, per worker.",
                        {"worker": worker},
                        float(pool.get(key, 0)),
                    )
                )
        return PlainTextResponse(
            render(list(snapshots.values()), gauges), media_type="text/plain; version=0.0.4"
        )


def create_app_from_env() -> FastAPI:
    """uvicorn factory: settings from SURGE_* environment variables (set by `surge app serve`)."""
    return create_app(settings_from_env())
