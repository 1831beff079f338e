"""API errors: every failure is `{"error": "<machine_code>", "detail": "<human message>"}`.

Validation errors map to 400/422, database outages to 503 with `Retry-After`, and anything
unexpected to a clean JSON 503 as well: clients never see a 500 or an HTML page.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_app.identity import KeyUnavailable

log = logging.getLogger("reference_app")

DB_RETRY_AFTER_S = 2
# Free text must not carry control characters (PostgreSQL text cannot even store NUL).
NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"


class ApiError(Exception):
    """Raise from a route to answer with a JSON error."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "detail": detail, **extra}, status_code=status, headers=headers
    )


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def _describe(errors: list[dict]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def _document_errors(app: FastAPI) -> None:
    """Make /openapi.json tell the truth about errors: every 4xx/5xx body is `ERROR_SCHEMA`
    (FastAPI would document 422 as its own `HTTPValidationError` shape)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["HTTPValidationError"] = (
            ERROR_SCHEMA
        )
        content = {"application/json": {"schema": ERROR_SCHEMA}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                operation.setdefault("responses", {}).setdefault(
                    "default", {"description": "Error", "content": content}
                )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "bad_json", "request body is not valid JSON")
        return error_response(422, "invalid_request", _describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's body-parsing failure (e.g. invalid UTF-8)
            return error_response(400, "bad_json", "request body is not valid JSON (or not UTF-8)")
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        status = exc.status_code if exc.status_code < 500 else 503
        return error_response(status, code, detail, getattr(exc, "headers", None))

    @app.exception_handler(KeyUnavailable)
    async def _key(_request: Request, exc: KeyUnavailable) -> JSONResponse:
        # The key id only: never the value, the patient or the request.
        log.error("stored data under a key this server lacks: key id %s", exc.kid)
        return _unavailable(
            "stored data are encrypted under a key this server does not hold",
            error="key_unavailable",
        )

    @app.exception_handler(PoolTimeoutError)
    async def _pool(_request: Request, _exc: PoolTimeoutError) -> JSONResponse:
        return _unavailable("database connection pool exhausted; retry shortly")

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return _unavailable("database unavailable; retry shortly")

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        # The client's value cannot be stored (e.g. a NUL character in PostgreSQL text).
        log.warning("database refused a value: %s", type(exc.orig).__name__)
        return error_response(422, "invalid_value", "a value in the request cannot be stored")

    @app.exception_handler(DBAPIError)
    async def _dbapi(_request: Request, exc: DBAPIError) -> JSONResponse:
        log.warning("database error: %s", type(exc.orig).__name__)
        return _unavailable("database error; retry shortly")

    @app.exception_handler(SQLAlchemyError)
    async def _sqlalchemy(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.warning("database layer error: %s", type(exc).__name__)
        return _unavailable("database error; retry shortly")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__)
        return _unavailable("temporary server error; retry shortly", error="unavailable")


def _unavailable(detail: str, error: str = "db_unavailable") -> JSONResponse:
    return error_response(503, error, detail, {"Retry-After": str(DB_RETRY_AFTER_S)})
