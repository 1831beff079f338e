"""Record what an httpx client (or Starlette's TestClient) sends and gets as a HAR 1.2 log, the
format browsers' developer tools export: the small recording step behind the tests of
`surge loadtest init --har`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["HarRecorder"]


def _headers(headers: httpx.Headers) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers.multi_items()]


class HarRecorder:
    """`recorder.attach(client)`, make requests, then `recorder.har()`."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._sent: dict[int, float] = {}

    def attach(self, client: httpx.Client) -> None:
        client.event_hooks = {"request": [self._request], "response": [self._response]}

    def _request(self, request: httpx.Request) -> None:
        self._sent[id(request)] = time.perf_counter()

    def _response(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        elapsed_ms = (time.perf_counter() - self._sent.pop(id(request))) * 1000
        entry: dict[str, Any] = {
            "startedDateTime": datetime.now(UTC).isoformat(),
            "time": elapsed_ms,
            "request": {
                "method": request.method,
                "url": str(request.url),
                "httpVersion": "HTTP/1.1",
                "headers": _headers(request.headers),
                "queryString": [
                    {"name": k, "value": v} for k, v in request.url.params.multi_items()
                ],  # fmt: skip
                "cookies": [],
                "headersSize": -1,
                "bodySize": len(request.content),
            },
            "response": {
                "status": response.status_code,
                "statusText": response.reason_phrase,
                "httpVersion": "HTTP/1.1",
                "headers": _headers(response.headers),
                "cookies": [],
                "content": {
                    "size": len(response.content),
                    "mimeType": response.headers.get("content-type", ""),
                    "text": response.text,
                },  # fmt: skip
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": len(response.content),
            },
            "cache": {},
            "timings": {"send": 0, "wait": elapsed_ms, "receive": 0},
        }
        if request.content:
            entry["request"]["postData"] = {
                "mimeType": request.headers.get("content-type", ""),
                "text": request.content.decode(),
            }
        self.entries.append(entry)

    def har(self) -> dict[str, Any]:
        return {"log": {"version": "1.2", "creator": {"name": "surge tests", "version": "1"},
                        "entries": self.entries}}  # fmt: skip
