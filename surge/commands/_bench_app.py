"""`surge bench app`: booking commits/s straight through the database layer vs through HTTP.

(a) direct: the booking transaction (`reference_app.bookings.book` in one write transaction),
issued by C threads; (b) HTTP: the same bookings sent as `POST /appointments` to the app served
by uvicorn, from a load generator of plain asyncio keep-alive connections in separate processes
(cheap enough per request that it is not the bottleneck). Both for a spread-out load (random
slots over many centres) and a hot-slot load (everyone books the same slot). Writes
results/bench/app.json.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from surge.bench.app import run as run_bench

    return run_bench(args)


def run_default(args: argparse.Namespace) -> int:
    """`surge bench all`: SQLite, and PostgreSQL when SURGE_TEST_POSTGRES_URL/SURGE_DATABASE_URL is set."""
    return run(
        argparse.Namespace(
            db=None, concurrency=16, duration=8.0, hot=False, workers=2, generators=2
        )
    )


def register(group_sub: argparse._SubParsersAction) -> None:
    parser = group_sub.add_parser(
        "app",
        help="booking commits/s: direct database path vs HTTP (spread-out and hot-slot loads)",
        description=__doc__.split("\n\n")[0]
        + " Without --db: SQLite in a temp dir, plus a fresh PostgreSQL database when "
        "SURGE_TEST_POSTGRES_URL or SURGE_DATABASE_URL is set. With --db, the database content is replaced.",
    )
    parser.add_argument(
        "--db", metavar="URL", help="benchmark this database (its content is replaced)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="threads / HTTP connections (default 16)"
    )
    parser.add_argument(
        "--duration", type=float, default=8.0, help="seconds per measurement (default 8)"
    )
    parser.add_argument(
        "--hot", action="store_true", help="only the hot-slot load (default: spread and hot)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument(
        "--generators", type=int, default=2, help="load-generator processes (default 2)"
    )
    parser.set_defaults(func=run)
