"""A system whose latency is known: one server, FIFO, fixed service time D per request.

Under Poisson arrivals at rate lambda it is an M/D/1 queue, so the mean response time is
W = D + rho * D / (2 * (1 - rho)) with rho = lambda * D: the yardstick that checks the open-model
driver (`loadtests/driver/open_model.py`). With D = 0 it answers at once: the trivial endpoint of the
load-generator benchmark.

    python -m loadtests.driver.fifo_server --service-ms 20 [--port 0]

prints `listening on http://127.0.0.1:PORT` and serves until SIGTERM/SIGINT. Every path answers
200 `{"ok":true}`, except `GET /stats` (JSON: requests served, connections accepted, mean
server-side response in ms), which is not queued. A request with `Connection: close` gets its
answer with `Connection: close`, then the connection is closed (a visitor's own connection). Requests are served one at a time in arrival order; completions are scheduled on the
event loop's clock (start = max(now, previous end), end = start + D), so timer jitter does not
accumulate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

__all__ = ["mdl_mean_response_s", "serve"]

_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
_OK_CLOSE = _OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")


def mdl_mean_response_s(arrival_rate_per_s: float, service_s: float) -> float:
    """Mean response time of an M/D/1 queue (Pollaczek-Khinchine with zero service variance)."""
    rho = arrival_rate_per_s * service_s
    if rho >= 1:
        raise ValueError(f"M/D/1 is unstable at rho={rho:.3g} >= 1")
    return service_s + rho * service_s / (2 * (1 - rho))


class _Server:
    def __init__(self, service_s: float) -> None:
        self.service_s = service_s
        self.busy_until = 0.0
        self.served = 0
        self.connections = 0
        self.total_response_s = 0.0


class _Connection(asyncio.Protocol):
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.close_after = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.server.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
                elif name.strip().lower() == b"connection":
                    self.close_after = value.strip().lower() == b"close"
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self._answer(head.split(b" ", 2)[1] if b" " in head else b"/")

    def _answer(self, path: bytes) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if path == b"/stats":
            srv = self.server
            body = json.dumps(
                {
                    "served": srv.served,
                    "connections": srv.connections,
                    "mean_response_ms": 1000 * srv.total_response_s / srv.served
                    if srv.served
                    else None,
                    "service_ms": srv.service_s * 1000,
                }
            ).encode()
            self._send(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            return
        srv = self.server
        if srv.service_s <= 0:
            srv.served += 1
            self._send(_OK)
            return
        start = max(now, srv.busy_until)
        srv.busy_until = start + srv.service_s

        def done() -> None:
            srv.served += 1
            srv.total_response_s += loop.time() - now
            self._send(_OK)

        loop.call_at(srv.busy_until, done)

    def _send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.close_after and payload is _OK:
                self.transport.write(_OK_CLOSE)
                self.transport.close()
                return
            self.transport.write(payload)


async def serve(service_ms: float, host: str = "127.0.0.1", port: int = 0) -> None:
    loop = asyncio.get_running_loop()
    state = _Server(service_ms / 1000.0)
    server = await loop.create_server(lambda: _Connection(state), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-ms", type=float, default=0.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.service_ms, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
