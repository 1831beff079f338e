"""Rehearsal option: burn CPU in chosen routes (`surge app serve --inject-cpu 'GLOB=MS'`).

A real regression does not only wait: it burns CPU and slows everything that shares the machine.
With `--inject-cpu '/centers/*/availability=3'` each request whose path matches the glob
(`fnmatch`) spins 3 ms of thread CPU time in a worker thread before the route runs. It is a
server option like any other; off unless asked for.
"""

from __future__ import annotations

import fnmatch
import math
import time

import anyio.to_thread

ENV_INJECT_CPU = "SURGE_INJECT_CPU"


def parse_inject_cpu(spec: str) -> tuple[str, float]:
    """'GLOB=MS' -> (glob, ms); raises ValueError with one line on bad input."""
    glob, sep, value = spec.rpartition("=")
    glob = glob.strip()
    if not sep or not glob.startswith("/") or any(c.isspace() for c in glob):
        raise ValueError(f"malformed --inject-cpu {spec!r}: expected GLOB=MS, e.g. /centers/*=2")
    if glob.count("[") != glob.count("]"):
        raise ValueError(f"malformed --inject-cpu {spec!r}: unbalanced [ ]")
    try:
        ms = float(value)
    except ValueError:
        raise ValueError(f"malformed --inject-cpu {spec!r}: {value!r} is not a number") from None
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"malformed --inject-cpu {spec!r}: milliseconds must be >= 0")
    return glob, ms


def encode(rules: tuple[tuple[str, float], ...]) -> str:
    return ";".join(f"{glob}={ms:g}" for glob, ms in rules)


def decode(text: str) -> tuple[tuple[str, float], ...]:
    return tuple(parse_inject_cpu(part) for part in text.split(";") if part.strip())


def spin_cpu(ms: float) -> None:
    """Busy-loop until this thread has used `ms` of CPU time."""
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass


class CpuInjection:
    """Pure-ASGI middleware: spin the CPU for the first rule whose glob matches the path."""

    def __init__(self, app, rules: tuple[tuple[str, float], ...]) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            ms = next((ms for g, ms in self.rules if fnmatch.fnmatchcase(scope["path"], g)), 0.0)
            if ms > 0:
                await anyio.to_thread.run_sync(spin_cpu, ms)
        await self.app(scope, receive, send)
