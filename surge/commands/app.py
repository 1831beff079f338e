"""`surge app ...`: the reference booking app (seed a dataset, serve it, make keys)."""

from __future__ import annotations

import argparse
import json

from surge.commands import types
from surge.errors import UsageError


def _db_help() -> str:
    return (
        "database URL: sqlite:///path.db or postgresql://user@host/db "
        "(default: $SURGE_DATABASE_URL, else the SQLite file .surge/surge.db)"
    )


def _database_url(text: str | None) -> str:
    """The --db URL normalised (an unsupported scheme is the user's error), or the default."""
    from reference_app.settings import default_database_url, normalize_database_url

    if not text:
        return default_database_url()
    try:
        return normalize_database_url(text)
    except ValueError as exc:  # normalize_database_url raises only for a bad URL
        raise UsageError(str(exc)) from None


def _seed(args: argparse.Namespace) -> int:
    import psycopg
    from sqlalchemy.exc import SQLAlchemyError

    from reference_app.database import make_engine
    from reference_app.seed import SeedPlan, seed

    url = _database_url(args.db)
    engine = make_engine(url)
    try:
        report = seed(
            engine,
            SeedPlan(centers=args.centers, days=args.days, seed=args.seed, first_day=args.start),
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

    from reference_app.patient_keys import IndexKeyMismatch
    from reference_app.rehearsal import parse_inject_cpu
    from reference_app.serve import ServeOptions, serve
    from reference_app.settings import MissingKeyError

    try:
        inject_cpu = tuple(parse_inject_cpu(spec) for spec in args.inject_cpu or ())
    except ValueError as exc:  # a malformed GLOB=MS rehearsal rule
        raise UsageError(str(exc)) from None
    options = ServeOptions(
        database_url=_database_url(args.db),
        host=args.bind,
        port=args.port,
        workers=args.app_workers,
        waiting_room_rate_per_s=args.waiting_room_rate,
        pass_lifetime_s=args.pass_lifetime,
        rate_limit_token_per_min=args.rate_limit_token,
        rate_limit_ip_per_min=args.rate_limit_ip,
        dev=args.dev,
        db_pool_size=args.db_pool_size,
        malloc_arenas=args.malloc_arenas,
        keep_alive_s=args.keep_alive_s,
        inject_cpu=inject_cpu,
        trusted_proxies=tuple(args.trusted_proxy or ()),
        purge_older_than=args.purge_older_than or "",
        server_timing=args.server_timing,
    )
    try:
        return serve(options)
    except (MissingKeyError, IndexKeyMismatch) as exc:  # keys the operator must fix
        raise UsageError(str(exc)) from None
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        raise UsageError(f"cannot use the database: {first}") from exc


def _keygen(_args: argparse.Namespace) -> int:
    import secrets

    from reference_app.identity import generate_data_key

    print(f"export SURGE_ADMIN_KEY={secrets.token_urlsafe(32)}")
    print(f"export SURGE_DATA_KEY={generate_data_key()}")
    print(f"export SURGE_INDEX_KEY=i{generate_data_key()[1:]}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    import sys

    from reference_app.rotation import rotate_command
    from reference_app.settings import default_database_url

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    index = args.app_command == "rotate-index-key"
    url = args.db or default_database_url()
    done = rotate_command(url, args.batch, getattr(args, "pause_s", 0.0), index, say)
    print(json.dumps(done), flush=True)
    return 0 if done.get("left", 0) == 0 else 1


def _purge(args: argparse.Namespace) -> int:
    from reference_app.retention import purge_command
    from reference_app.settings import default_database_url

    print(json.dumps(purge_command(args.db or default_database_url(), args.older_than)))
    return 0


def _age(text: str) -> str:
    """A retention age such as 90d, 12h or 30m (checked here, passed on as written)."""
    from reference_app.retention import parse_age_s

    try:
        parse_age_s(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _cidr(text: str) -> str:
    """An address or CIDR block of a trusted reverse proxy."""
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address or CIDR block: {text!r}") from None
    return text


def register(sub: argparse._SubParsersAction) -> None:
    from reference_app.memory import DEFAULT_MALLOC_ARENAS

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
        "--centers", type=types.positive_int, default=200, help="number of centres (default 200)"
    )
    seed.add_argument(
        "--days", type=types.positive_int, default=14, help="days of dose-1 slots (default 14)"
    )
    seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    seed.add_argument(
        "--start",
        type=types.date_iso,
        metavar="YYYY-MM-DD",
        help="first day of slots (default today, UTC)",
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
    serve.add_argument(
        "--bind", default="127.0.0.1", metavar="ADDRESS", help="bind address (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=types.port, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--app-workers",
        type=types.positive_int,
        default=1,
        metavar="N",
        help="app (uvicorn) worker processes (default 1)",
    )
    serve.add_argument(
        "--waiting-room-rate",
        type=types.rate_or_off,
        default=0.0,
        metavar="N",
        help="turn the waiting room on, admitting N visitors/s FIFO (default 0 = off; "
        "change at runtime with PUT /admin/waiting-room)",
    )
    serve.add_argument(
        "--pass-lifetime",
        type=types.duration_s,
        default=600.0,
        metavar="S",
        help="waiting-room pass lifetime in s (default 600)",
    )
    serve.add_argument(
        "--rate-limit-token",
        type=types.non_negative_int,
        default=30,
        metavar="PER_MIN",
        help="booking attempts per patient token per minute (default 30, 0 = off)",
    )
    serve.add_argument(
        "--rate-limit-ip",
        type=types.non_negative_int,
        default=600,
        metavar="PER_MIN",
        help="booking attempts per client address per minute (default 600, 0 = off; "
        "a load generator on one address must raise or disable it)",
    )
    serve.add_argument(
        "--db-pool-size",
        type=types.positive_int,
        default=10,
        help="database connections per worker (default 10)",
    )
    serve.add_argument(
        "--malloc-arenas",
        type=types.non_negative_int,
        default=DEFAULT_MALLOC_ARENAS,
        metavar="N",
        help=f"glibc malloc arenas per worker process (default {DEFAULT_MALLOC_ARENAS}; 0 = "
        "glibc's own, 8 per core, under which the RSS of a long run creeps up)",
    )
    serve.add_argument(
        "--keep-alive-s",
        type=types.non_negative_int,
        default=30,
        help="seconds an idle keep-alive connection stays open (default 30; uvicorn's own is 5, "
        "which closes pooled connections that clients are about to reuse)",
    )
    serve.add_argument(
        "--inject-cpu",
        action="append",
        metavar="GLOB=MS",
        help="rehearsal: requests whose path matches GLOB (e.g. /centers/*/availability) spin MS "
        "ms of CPU before the route runs (repeatable; first match applies)",
    )
    serve.add_argument(
        "--purge-older-than",
        type=_age,
        metavar="AGE",
        help="erase patient data beyond retention every hour, as `surge app purge` does "
        "(e.g. 90d; default off)",
    )
    serve.add_argument(
        "--trusted-proxy",
        type=_cidr,
        action="append",
        metavar="CIDR",
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable; default "
        "none: the TCP peer is the client, the header is ignored)",
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

    rotate = app_sub.add_parser(
        "rotate-keys",
        help="bring every patient row under the first SURGE_DATA_KEY key, online",
        description=(
            "Re-wrap per-patient keys wrapped by older master keys, and give rows from before "
            "per-patient keys a key of their own, in batches that commit one by one while the "
            "app serves. Resumable: kill it, run it again. Exit 0 when nothing needs an older "
            "key (it can then be dropped from SURGE_DATA_KEY), 1 otherwise. See docs/app.md#keys."
        ),
    )
    rotate.add_argument("--db", metavar="URL", help=_db_help())
    rotate.add_argument(
        "--batch", type=types.positive_int, default=500, help="rows per transaction"
    )
    rotate.add_argument(
        "--pause-s", type=float, default=0.0, help="pause between batches (spares the app)"
    )
    rotate.set_defaults(func=_rotate)

    reindex = app_sub.add_parser(
        "rotate-index-key",
        help="recompute the email blind index under SURGE_INDEX_KEY",
        description="Re-index every patient's email under the blind-index key of this "
        "environment and record its id; then restart the servers with it. See docs/app.md#keys.",
    )
    reindex.add_argument("--db", metavar="URL", help=_db_help())
    reindex.add_argument(
        "--batch", type=types.positive_int, default=500, help="rows per transaction"
    )
    reindex.set_defaults(func=_rotate)

    purge = app_sub.add_parser(
        "purge",
        help="erase patient data and old cancelled appointments beyond retention",
        description=(
            "Crypto-shred the patients whose last booking (or registration) is older than "
            "--older-than and who hold no future appointment; delete cancelled appointments "
            "older than it. Seat counts stay. See docs/app.md#retention."
        ),
    )
    purge.add_argument("--db", metavar="URL", help=_db_help())
    purge.add_argument(
        "--older-than", type=_age, required=True, metavar="AGE", help="e.g. 90d, 12h"
    )
    purge.set_defaults(func=_purge)

    keygen = app_sub.add_parser(
        "keygen", help="print fresh SURGE_ADMIN_KEY and SURGE_DATA_KEY exports"
    )
    keygen.set_defaults(func=_keygen)
