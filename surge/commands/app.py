"""`surge app ...`: the reference booking app (seed a dataset, serve it, make keys)."""

from __future__ import annotations

import argparse
import json

from surge.cli import UsageError


def _db_help() -> str:
    return (
        "database URL: sqlite:///path.db or postgresql://user@host/db "
        "(default: $SURGE_DATABASE_URL, else the SQLite file .surge/surge.db)"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _seed(args: argparse.Namespace) -> int:
    from datetime import date

    import psycopg
    from sqlalchemy.exc import SQLAlchemyError

    from reference_app.database import make_engine
    from reference_app.seed import SeedPlan, seed
    from reference_app.settings import default_database_url, normalize_database_url

    url = normalize_database_url(args.db) if args.db else default_database_url()
    first_day = date.fromisoformat(args.start) if args.start else None
    engine = make_engine(url)
    try:
        report = seed(
            engine,
            SeedPlan(centers=args.centers, days=args.days, seed=args.seed, first_day=first_day),
        )
    except (SQLAlchemyError, psycopg.Error) as exc:
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        raise UsageError(f"cannot use the database: {first}") from exc
    finally:
        engine.dispose()
    print(json.dumps(report))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from reference_app.serve import ServeOptions, serve
    from reference_app.settings import default_database_url

    if args.workers < 1:
        raise UsageError("--workers must be >= 1")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be in 0..65535")
    options = ServeOptions(
        database_url=args.db or default_database_url(),
        host=args.host,
        port=args.port,
        workers=args.workers,
        waiting_room_rate_per_s=args.waiting_room_rate,
        pass_lifetime_s=args.pass_lifetime,
        rate_limit_token_per_min=args.rate_limit_token,
        rate_limit_ip_per_min=args.rate_limit_ip,
        dev=args.dev,
        db_pool_size=args.db_pool_size,
        keep_alive_s=args.keep_alive_s,
        server_timing=args.server_timing,
    )
    try:
        return serve(options)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        raise UsageError(f"cannot use the database: {first}") from exc


def _keygen(_args: argparse.Namespace) -> int:
    import secrets

    from reference_app.identity import generate_data_key

    print(f"export SURGE_ADMIN_KEY={secrets.token_urlsafe(32)}")
    print(f"export SURGE_DATA_KEY={generate_data_key()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    app = sub.add_parser(
        "app",
        help="the reference booking app: seed, serve, keygen",
        description="The reference booking API (the system under test): seed a dataset, serve it.",
    )
    app.set_defaults(help_parser=app)
    app_sub = app.add_subparsers(dest="app_command", metavar="SUBCOMMAND")

    seed = app_sub.add_parser(
        "seed",
        help="build a deterministic synthetic national dataset (replaces the database content)",
        description=(
            "Drop and recreate the schema, then load centres over real French department postcodes, "
            "the four vaccines, opening hours, dose-1 slots for --days days from --start and dose-2 "
            "slots across each vaccine's window. Same --seed and --start: same dataset."
        ),
    )
    seed.add_argument("--db", metavar="URL", help=_db_help())
    seed.add_argument(
        "--centers", type=_positive_int, default=200, help="number of centres (default 200)"
    )
    seed.add_argument(
        "--days", type=_positive_int, default=14, help="days of dose-1 slots (default 14)"
    )
    seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    seed.add_argument(
        "--start", metavar="YYYY-MM-DD", help="first day of slots (default today, UTC)"
    )
    seed.set_defaults(func=_seed)

    serve = app_sub.add_parser(
        "serve",
        help="serve the booking API with uvicorn",
        description=(
            "Serve the booking API. Keys come from SURGE_ADMIN_KEY and SURGE_DATA_KEY (or "
            "SURGE_ADMIN_KEY_FILE / SURGE_DATA_KEY_FILE); without them the server refuses to start "
            "unless --dev, which creates local key files under .surge/. Stop it with SIGTERM or Ctrl-C."
        ),
    )
    serve.add_argument("--db", metavar="URL", help=_db_help())
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (default 1)"
    )
    serve.add_argument(
        "--waiting-room-rate",
        type=float,
        default=0.0,
        metavar="N",
        help="turn the waiting room on, admitting N visitors/s FIFO (default 0 = off; "
        "change at runtime with PUT /admin/waiting-room)",
    )
    serve.add_argument(
        "--pass-lifetime",
        type=float,
        default=600.0,
        metavar="S",
        help="waiting-room pass lifetime in s (default 600)",
    )
    serve.add_argument(
        "--rate-limit-token",
        type=_positive_int,
        default=30,
        metavar="PER_MIN",
        help="booking attempts per patient token per minute (default 30, 0 = off)",
    )
    serve.add_argument(
        "--rate-limit-ip",
        type=_positive_int,
        default=600,
        metavar="PER_MIN",
        help="booking attempts per client address per minute (default 600, 0 = off; "
        "a load generator on one address must raise or disable it)",
    )
    serve.add_argument(
        "--db-pool-size", type=int, default=10, help="database connections per worker (default 10)"
    )
    serve.add_argument(
        "--keep-alive-s",
        type=_positive_int,
        default=30,
        help="seconds an idle keep-alive connection stays open (default 30; uvicorn's own is 5, "
        "which closes pooled connections that clients are about to reuse)",
    )
    serve.add_argument(
        "--server-timing",
        action="store_true",
        help="add a Server-Timing header (pool;dur, db;dur, app;dur in ms) to every response and "
        "per-route histograms of each to /metrics (off by default: timings are a side channel)",
    )
    serve.add_argument(
        "--dev", action="store_true", help="development mode: create local key files in .surge/"
    )
    serve.set_defaults(func=_serve)

    keygen = app_sub.add_parser(
        "keygen", help="print fresh SURGE_ADMIN_KEY and SURGE_DATA_KEY exports"
    )
    keygen.set_defaults(func=_keygen)
