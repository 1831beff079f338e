"""Pure-ASGI middleware: request-body limit (413) and per-route metrics, without per-request I/O."""

from __future__ import annotations

import json
import time

from reference_app import server_timing
from reference_app.metrics import Metrics


async def _send_json(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _default_json(scope: dict) -> None:
    """The API speaks JSON only: a body sent without a Content-Type is read as JSON."""
    if not any(name == b"content-type" for name, _ in scope["headers"]):
        scope["headers"] = [*scope["headers"], (b"content-type", b"application/json")]


class Instrumentation:
    def __init__(
        self,
        app,
        metrics: Metrics,
        max_body_bytes: int,
        server_timing: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.server_timing = server_timing

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        self.metrics.started()
        status = [503]
        token = server_timing.begin() if self.server_timing else None
        timing = server_timing.current() if self.server_timing else None
        app_s = [0.0]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if timing is not None:
                    app_s[0] = time.perf_counter() - timing.started
                    value = server_timing.header_value(timing, app_s[0])
                    headers = [*message.get("headers", []), (server_timing.HEADER, value)]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                _default_json(scope)
            inner_receive = await self._bounded_receive(scope, receive)
            if inner_receive is None:
                status[0] = 413
                await _send_json(
                    send,
                    413,
                    {
                        "error": "body_too_large",
                        "detail": f"request body over {self.max_body_bytes} bytes",
                    },
                )
                return
            await self.app(scope, inner_receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "<unmatched>"
            self.metrics.finished(scope["method"], path, status[0], time.perf_counter() - started)
            if timing is not None:
                self.metrics.timed_components(
                    scope["method"], path, timing.pool_s, timing.db_s, app_s[0]
                )
                server_timing.end(token)

    async def _bounded_receive(self, scope, receive):
        """Read the whole (small) body up front; None when it is over the limit."""
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            declared = dict(scope["headers"]).get(b"content-length")
            if not declared or declared == b"0":
                return receive
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return None
        chunks = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = [False]

        async def replay() -> dict:
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
