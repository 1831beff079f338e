"""After a run the invariants are read once the app has drained its backlog: the read is
retried (bounded) while `/admin/invariants` times out or answers 503, and gives up clearly.

The target is a real HTTP server on 127.0.0.1 that answers like an app still draining."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loadtests.app_launcher import AppUnderTest
from loadtests.execute import read_invariants

HEALTHY = {"overbooked_slots": 0, "double_bookings": 0, "appointments": 7}


@contextmanager
def draining_app(busy_answers: int) -> Iterator[tuple[AppUnderTest, list[int]]]:
    """Answers 503 to the first `busy_answers` reads, then the invariants."""
    seen: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server interface names it
            seen.append(1)
            ready = len(seen) > busy_answers
            body = json.dumps(HEALTHY if ready else {"error": "db_unavailable"}).encode()
            self.send_response(200 if ready else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        yield AppUnderTest(url, "admin-key", "external"), seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_invariants_are_read_once_the_backlog_drains() -> None:
    with draining_app(busy_answers=3) as (app, seen):
        assert read_invariants(app, deadline_s=10, pause_s=0.05) == HEALTHY
    assert len(seen) == 4


def test_an_app_that_never_drains_gives_no_invariants_after_the_deadline() -> None:
    with draining_app(busy_answers=10**6) as (app, seen):
        assert read_invariants(app, deadline_s=0.5, pause_s=0.1) is None
    assert 2 <= len(seen) <= 7  # retried, and bounded
