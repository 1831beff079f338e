"""A fault-injecting reverse proxy: known regressions without touching the system under test.

`surge proxy --target URL --port P --delay 'GLOB=MS' --error 'GLOB=RATE'` forwards every request
to the target and, for request paths matching a glob (`fnmatch` on the path, e.g.
`/centers/*/availability`), holds the answer back for MS milliseconds (`=12.5`) or for a multiple
of the upstream time (`=x2`: the answer takes twice as long as the target took), or answers 503 at
the given rate instead of forwarding. The first matching rule of each kind applies.

Built on well-kept parts: uvicorn serves a small ASGI app, an `httpx.AsyncClient` with a
keep-alive pool forwards. Its own overhead (no rule matching) is measured by `surge bench gate`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from loadtests.errors import LoadTestInputError, TargetUnreachableError

__all__ = [
    "DelayRule",
    "ErrorRule",
    "ProxyConfig",
    "make_proxy_app",
    "parse_delay",
    "parse_error",
    "serve_proxy",
    "started_proxy",
]

# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), plus the ones httpx
# recomputes.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_GLOB_CHARS = re.compile(r"^/[A-Za-z0-9_\-./*?\[\]{}~%:@!$&'()+,;]*$")


def _glob(text: str, option: str) -> str:
    glob = text.strip()
    if not glob.startswith("/") or not _GLOB_CHARS.match(glob):
        raise LoadTestInputError(
            f"malformed {option} glob {text!r}: a request path such as /centers/*"
        )
    if glob.count("[") != glob.count("]"):
        raise LoadTestInputError(f"malformed {option} glob {text!r}: unbalanced [ ]")
    return glob


def _split(spec: str, option: str) -> tuple[str, str]:
    if "=" not in spec:
        raise LoadTestInputError(f"malformed {option} {spec!r}: expected GLOB=VALUE")
    glob, value = spec.rsplit("=", 1)
    return _glob(glob, option), value.strip()


@dataclass(frozen=True)
class DelayRule:
    """Hold matching answers back `delay_ms`, or until they took `factor` x the upstream time."""

    glob: str
    delay_ms: float = 0.0
    factor: float | None = None

    def describe(self) -> str:
        return f"x{self.factor:g}" if self.factor is not None else f"{self.delay_ms:g} ms"

    def extra_s(self, upstream_s: float) -> float:
        if self.factor is not None:
            return max(0.0, (self.factor - 1.0) * upstream_s)
        return self.delay_ms / 1000.0


@dataclass(frozen=True)
class ErrorRule:
    """Answer 503 instead of forwarding, for a share `rate` of matching requests."""

    glob: str
    rate: float


def parse_delay(spec: str) -> DelayRule:
    """'GLOB=MS' (a fixed delay) or 'GLOB=xF' (F times the upstream time, F >= 1)."""
    glob, value = _split(spec, "--delay")
    try:
        number = float(value[1:] if value[:1] in ("x", "X") else value)
    except ValueError:
        raise LoadTestInputError(f"malformed --delay {spec!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise LoadTestInputError(f"malformed --delay {spec!r}: not a finite number")
    if value[:1] in ("x", "X"):
        if number < 1.0:
            raise LoadTestInputError(f"malformed --delay {spec!r}: a factor must be >= 1")
        return DelayRule(glob, factor=number)
    if number < 0:
        raise LoadTestInputError(f"malformed --delay {spec!r}: milliseconds must be >= 0")
    return DelayRule(glob, delay_ms=number)


def parse_error(spec: str) -> ErrorRule:
    """'GLOB=RATE' with RATE in [0, 1]."""
    glob, value = _split(spec, "--error")
    try:
        rate = float(value)
    except ValueError:
        raise LoadTestInputError(f"malformed --error {spec!r}: {value!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise LoadTestInputError(f"malformed --error {spec!r}: the rate must be in [0, 1]")
    return ErrorRule(glob, rate)


@dataclass(frozen=True)
class ProxyConfig:
    target: str
    delays: tuple[DelayRule, ...] = ()
    errors: tuple[ErrorRule, ...] = ()
    seed: int | None = None
    timeout_s: float = 30.0
    max_connections: int = 100

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadTestInputError(f"invalid --target {self.target!r}: use http://host:port")

    def delay_for(self, path: str) -> DelayRule | None:
        return next((r for r in self.delays if fnmatch.fnmatchcase(path, r.glob)), None)

    def error_for(self, path: str) -> ErrorRule | None:
        return next((r for r in self.errors if fnmatch.fnmatchcase(path, r.glob)), None)


def config_from_specs(
    target: str, delays: Sequence[str] = (), errors: Sequence[str] = (), seed: int | None = None
) -> ProxyConfig:
    return ProxyConfig(
        target=target.rstrip("/"),
        delays=tuple(parse_delay(s) for s in delays),
        errors=tuple(parse_error(s) for s in errors),
        seed=seed,
    )


async def _read_body(receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(send, status: int, body: dict, headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def make_proxy_app(config: ProxyConfig):
    """The ASGI app: forward through one pooled `httpx.AsyncClient`, inject faults by path."""
    import httpx

    rng = random.Random(config.seed)  # noqa: S311 - load-test randomness, not security
    state: dict = {}

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["client"] = httpx.AsyncClient(
                        base_url=config.target,
                        timeout=config.timeout_s,
                        limits=httpx.Limits(
                            max_connections=config.max_connections,
                            max_keepalive_connections=config.max_connections,
                        ),
                    )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["client"].aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        error = config.error_for(path)
        if error is not None and rng.random() < error.rate:
            await _read_body(receive)
            await _answer(send, 503, {"error": "injected", "detail": "surge proxy: injected 503"})
            return
        body = await _read_body(receive)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_HEADERS
        ]
        url = path + (
            ("?" + scope["query_string"].decode("latin-1")) if scope["query_string"] else ""
        )
        started = time.perf_counter()
        try:
            upstream = await state["client"].request(
                scope["method"], url, headers=headers, content=body
            )
        except httpx.HTTPError as exc:
            await _answer(send, 502, {"error": "bad_gateway", "detail": type(exc).__name__})
            return
        upstream_s = time.perf_counter() - started
        delay = config.delay_for(path)
        if delay is not None:
            await asyncio.sleep(delay.extra_s(upstream_s))
        out_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in _HOP_HEADERS and k.lower() != "content-encoding"
        ]
        content = upstream.content
        out_headers.append((b"content-length", str(len(content)).encode()))
        await send(
            {"type": "http.response.start", "status": upstream.status_code, "headers": out_headers}
        )
        await send({"type": "http.response.body", "body": content})

    return app


def serve_proxy(config: ProxyConfig, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Serve until SIGTERM / Ctrl-C; returns 0."""
    import uvicorn

    rules = [f"delay {r.glob}={r.describe()}" for r in config.delays]
    rules += [f"error {r.glob}={r.rate:g}" for r in config.errors]
    print(
        f"surge proxy: http://{host}:{port} -> {config.target}"
        + (f" ({', '.join(rules)})" if rules else ""),
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        make_proxy_app(config),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        lifespan="on",
    )
    return 0


@contextmanager
def started_proxy(
    target: str,
    delays: Sequence[str] = (),
    errors: Sequence[str] = (),
    *,
    log_path: Path | None = None,
    startup_timeout_s: float = 30.0,
) -> Iterator[str]:
    """`surge proxy` as a subprocess on a free 127.0.0.1 port; yields its base URL.

    The specs are checked here first, so bad input fails in this process with one line.
    """
    import httpx

    config_from_specs(target, delays, errors)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "surge", "proxy", "--target", target, "--port", str(port)]
    command += [arg for spec in delays for arg in ("--delay", spec)]
    command += [arg for spec in errors for arg in ("--error", spec)]
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)  # noqa: S603 - an argument list of our own, no shell
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise TargetUnreachableError(f"surge proxy exited with code {process.returncode}")
            try:
                httpx.get(url + "/healthz", timeout=2.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TargetUnreachableError(f"surge proxy at {url} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if log_path:
            log.close()
