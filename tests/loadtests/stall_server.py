"""A server that stalls: every request arriving in the first STALL seconds of each PERIOD is
answered at the end of that stall; any other request is answered at once.

For Poisson arrivals the response time L then has P(L > x) = (STALL - x) / PERIOD for
0 <= x < STALL: with a 1 s stall every 5 s, p90 = 0.5 s and p99 = 0.95 s. A load generator
that waits for answers before sending more (a closed loop, coordinated omission) sends almost
nothing during the stall and so hides it.

    python tests/loadtests/stall_server.py [--period-s 5] [--stall-s 1]

prints `listening on http://127.0.0.1:PORT` and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Stalling(asyncio.Protocol):
    def __init__(self, period_s: float, stall_s: float, origin: float) -> None:
        self.period_s, self.stall_s, self.origin = period_s, stall_s, origin
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs only: no body
            _, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            loop = asyncio.get_running_loop()
            phase = (loop.time() - self.origin) % self.period_s
            delay = self.stall_s - phase if phase < self.stall_s else 0.0
            loop.call_later(delay, self._answer)

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(OK)


async def serve(period_s: float, stall_s: float) -> None:
    loop = asyncio.get_running_loop()
    origin = loop.time()
    server = await loop.create_server(
        lambda: Stalling(period_s, stall_s, origin), "127.0.0.1", 0, backlog=4096
    )
    print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a server that stalls STALL s every PERIOD s")
    parser.add_argument("--period-s", type=float, default=5.0)
    parser.add_argument("--stall-s", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(serve(args.period_s, args.stall_s))
