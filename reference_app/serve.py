"""Serving the app through uvicorn (one or several worker processes).

The supervisor prepares everything once (keys, schema, waiting-room switch), then exports the
resolved settings as SURGE_* variables for the workers, each of which calls
`reference_app.app:create_app_from_env`. SIGTERM stops the workers gracefully and exits 0.
With several workers, each run gets an empty PROMETHEUS_MULTIPROC_DIR where its workers keep
their metrics (one given in the environment is emptied at start; a temporary one is removed at
exit), so a scrape of /metrics covers every worker of this run and none of an earlier one. One
worker keeps its metrics in memory (the multiprocess files cost ~3x per request).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reference_app.memory import DEFAULT_MALLOC_ARENAS
from reference_app.rehearsal import ENV_INJECT_CPU, encode
from reference_app.settings import (
    DEV_DIR,
    MissingKeyError,
    load_index_key,
    load_secrets,
    normalize_database_url,
)


@dataclass(frozen=True)
class ServeOptions:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    waiting_room_rate_per_s: float = 0.0
    pass_lifetime_s: float = 600.0
    rate_limit_token_per_min: int = 30
    rate_limit_ip_per_min: int = 600
    dev: bool = False
    db_pool_size: int = 10
    malloc_arenas: int = DEFAULT_MALLOC_ARENAS  # per worker process, see reference_app.memory
    # Idle keep-alive connections stay open this long; uvicorn's 5 s default closes pooled
    # connections that clients (and load generators) are about to reuse.
    keep_alive_s: int = 30
    # Rehearsal: (path glob, CPU ms) pairs, see reference_app.rehearsal.
    inject_cpu: tuple[tuple[str, float], ...] = ()
    # X-Forwarded-For is believed only from these peers (CIDR blocks); uvicorn's own
    # proxy-header handling is off, so no other client can choose its address.
    trusted_proxies: tuple[str, ...] = ()
    purge_older_than: str = ""  # e.g. "90d"; empty: no periodic purge
    server_timing: bool = False  # Server-Timing headers: off by default (a side channel)


def masked(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


def prepare(options: ServeOptions) -> dict[str, str]:
    """Check keys and database, create the schema, set the waiting room; returns worker env."""
    from reference_app import room_line
    from reference_app.client_address import parse_networks
    from reference_app.database import init_db, make_engine

    url = normalize_database_url(options.database_url)
    from reference_app.retention import parse_age_s

    parse_networks(options.trusted_proxies)  # one line, exit 2, on a bad block
    purge_s = parse_age_s(options.purge_older_than) if options.purge_older_than else 0
    admin_key, data_keys, notes = load_secrets(dev=options.dev, dev_dir=DEV_DIR)
    for note in notes:
        print(f"surge app: {note}", file=sys.stderr)
    from reference_app.identity import Keyring
    from reference_app.patient_keys import check_index_key

    # Fail now, in one line, if a key is malformed or would break the email index.
    try:
        keyring = Keyring.parse(data_keys, load_index_key())
    except ValueError as exc:
        raise MissingKeyError(f"unusable patient-data key: {exc}") from None
    engine = make_engine(url, pool_size=2)
    try:
        init_db(engine)
        check_index_key(engine, keyring)
        room_line.configure(
            engine,
            options.waiting_room_rate_per_s > 0,
            options.waiting_room_rate_per_s,
            options.pass_lifetime_s,
        )
    finally:
        engine.dispose()
    return {
        "SURGE_DATABASE_URL": url,
        "SURGE_ADMIN_KEY": admin_key,
        "SURGE_DATA_KEY": data_keys,
        "SURGE_WAITING_ROOM_RATE": str(options.waiting_room_rate_per_s),
        "SURGE_PASS_LIFETIME_S": str(options.pass_lifetime_s),
        "SURGE_RATE_LIMIT_TOKEN": str(options.rate_limit_token_per_min),
        "SURGE_RATE_LIMIT_IP": str(options.rate_limit_ip_per_min),
        "SURGE_DB_POOL_SIZE": str(options.db_pool_size),
        "SURGE_MALLOC_ARENAS": str(options.malloc_arenas),
        ENV_INJECT_CPU: encode(options.inject_cpu),
        "SURGE_TRUSTED_PROXIES": ",".join(options.trusted_proxies),
        "SURGE_PURGE_OLDER_THAN_S": str(purge_s),
        "SURGE_SERVER_TIMING": "1" if options.server_timing else "0",
    }


@contextmanager
def metrics_dir(workers: int) -> Iterator[str | None]:
    """An empty multiprocess-metrics directory for this run's workers, exported to them (None
    and unset for a single worker). Set before anything imports `prometheus_client`, which
    reads it at import time."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers <= 1:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        try:
            yield None
        finally:
            if given is not None:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = given
        return
    if given:
        os.makedirs(given, exist_ok=True)
        for stale in glob.glob(os.path.join(given, "*.db")):
            os.remove(stale)
        yield given
        return
    made = tempfile.mkdtemp(prefix="surge-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    try:
        yield made
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(made, ignore_errors=True)


def serve(options: ServeOptions) -> int:
    with metrics_dir(options.workers):
        return _serve(options)


def _serve(options: ServeOptions) -> int:
    import uvicorn

    env = prepare(options)
    os.environ.update(env)
    where = masked(env["SURGE_DATABASE_URL"])
    print(
        f"surge app: serving http://{options.host}:{options.port} with {options.workers} worker(s) on {where}"
        + (
            f", waiting room {options.waiting_room_rate_per_s:g}/s"
            if options.waiting_room_rate_per_s > 0
            else ""
        )
        + "".join(f", rehearsal: {ms:g} ms CPU in {glob}" for glob, ms in options.inject_cpu),
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "reference_app.app:create_app_from_env",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        access_log=False,  # paths carry queue tickets; addresses identify people
        log_level="warning",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=options.keep_alive_s,
        proxy_headers=False,  # the app reads X-Forwarded-For from trusted proxies only
        app_dir=str(Path.cwd()),
    )
    return 0
