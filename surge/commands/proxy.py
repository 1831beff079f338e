"""`surge proxy`: a fault-injecting reverse proxy (delays and errors by request-path glob)."""

from __future__ import annotations

import argparse

from surge.errors import UsageError


def _proxy(args: argparse.Namespace) -> int:
    from loadtests.proxy import config_from_specs, serve_proxy

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be in 0..65535")
    config = config_from_specs(args.target, args.delay or (), args.error or (), args.seed)
    return serve_proxy(config, host=args.bind, port=args.port)


def register(sub: argparse._SubParsersAction) -> None:
    proxy = sub.add_parser(
        "proxy",
        help="a reverse proxy that injects delays and errors by request path",
        description=(
            "Forward every request to --target; for request paths matching a glob (fnmatch, e.g. "
            "/centers/*/availability), add a delay (GLOB=MS, or GLOB=xF: F times the target's "
            "own time) or answer 503 at a rate (GLOB=RATE). Rehearse a slow dependency, or make "
            "a regression of known size for `surge loadtest ab`. Stop it with SIGTERM or Ctrl-C."
        ),
        epilog="exit codes: 0 stopped, 2 bad usage",
    )
    proxy.add_argument("--target", required=True, help="base URL to forward to")
    proxy.add_argument("--port", type=int, required=True, help="port to listen on")
    proxy.add_argument("--bind", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    proxy.add_argument("--delay", action="append", metavar="GLOB=MS|GLOB=xF",
                       help="delay matching answers (repeatable; first match applies)")  # fmt: skip
    proxy.add_argument("--error", action="append", metavar="GLOB=RATE",
                       help="answer 503 to this share of matching requests (repeatable)")  # fmt: skip
    proxy.add_argument("--seed", type=int, help="seed of the error draws")
    proxy.set_defaults(func=_proxy)
