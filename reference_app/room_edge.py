"""The waiting room's edge: a pure-ASGI layer in front of the FastAPI app.

At several times the app's capacity nearly every request is a queue request: a visitor without
a pass meeting the funnel, a join, a poll. The edge answers those before routing, validation,
dependency injection or a thread hand-off (the way a CDN worker fronts a real waiting room),
which costs a fraction of a FastAPI request (`surge bench room`). It uses the same functions as
the documented `/queue` routes and the `require_pass` dependency, which stay behind it; with
`waiting_room_edge` off they answer instead.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from reference_app import waiting_room
from reference_app.context import AppContext
from reference_app.errors import DB_RETRY_AFTER_S, error_response

AVAILABILITY = re.compile(r"^/centers/[0-9]+/availability$")
ROUTES = {  # metrics label the edge's answers like the routes they stand for
    "join": SimpleNamespace(path="/queue"),
    "poll": SimpleNamespace(path="/queue/{ticket}"),
    "/patients": SimpleNamespace(path="/patients"),
    "/appointments": SimpleNamespace(path="/appointments"),
    "/centers": SimpleNamespace(path="/centers"),
    "availability": SimpleNamespace(path="/centers/{center_id}/availability"),
}


def funnel_route(method: str, path: str) -> SimpleNamespace | None:
    """Register, search, availability, book: the requests the room stands in front of."""
    if method == "POST" and path in ("/patients", "/appointments"):
        return ROUTES[path]
    if method == "GET" and path == "/centers":
        return ROUTES[path]
    if method == "GET" and AVAILABILITY.match(path):
        return ROUTES["availability"]
    return None


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class WaitingRoomEdge:
    def __init__(self, app, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            try:
                response = await self._answer(scope)
            except SQLAlchemyError:
                response = error_response(
                    503,
                    "db_unavailable",
                    "database unavailable; retry shortly",
                    {"Retry-After": str(DB_RETRY_AFTER_S)},
                )
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: dict) -> JSONResponse | None:
        """The edge's answer, or None to let the app handle the request."""
        method, path = scope["method"], scope["path"]
        if path == "/queue" and method == "POST":
            scope["route"] = ROUTES["join"]
            return JSONResponse(await waiting_room.join_line(self.ctx), status_code=201)
        if method == "GET" and path.startswith("/queue/") and path.count("/") == 2:
            scope["route"] = ROUTES["poll"]
            found = await waiting_room.poll(self.ctx, path[len("/queue/") :])
            if found is None:
                return error_response(404, "not_found", "ticket not found")
            return JSONResponse(found)
        route = funnel_route(method, path)
        if route is None:
            return None
        if await waiting_room.admits(
            self.ctx,
            _header(scope, b"x-waiting-room-pass"),
            _header(scope, b"authorization"),
        ):
            # Checked once: the route's `require_pass` dependency sees this and does not redo it.
            scope.setdefault("state", {})[waiting_room.ADMITTED_STATE] = True
            return None
        scope["route"] = route
        refused = waiting_room.refusal()
        return error_response(503, refused.error, refused.detail, refused.headers, **refused.extra)
