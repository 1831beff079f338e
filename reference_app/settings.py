"""The app's configuration: one frozen object, read once from flags, environment and key files.

Secrets (the admin key and the patient-data keys) come from the environment or from key files,
never from the database or git. `Settings.from_env()` is what each uvicorn worker calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from reference_app.memory import DEFAULT_MALLOC_ARENAS

DEFAULT_DB_PATH = Path(".surge/surge.db")
DEV_DIR = Path(".surge")

ENV_DATABASE_URL = "SURGE_DATABASE_URL"
ENV_ADMIN_KEY = "SURGE_ADMIN_KEY"
ENV_DATA_KEY = "SURGE_DATA_KEY"
ENV_DATA_KEY_FILE = "SURGE_DATA_KEY_FILE"
ENV_ADMIN_KEY_FILE = "SURGE_ADMIN_KEY_FILE"
ENV_INDEX_KEY = "SURGE_INDEX_KEY"
ENV_INDEX_KEY_FILE = "SURGE_INDEX_KEY_FILE"


class MissingKeyError(ValueError):
    """A secret the server needs is not configured."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs; build variants with `dataclasses.replace`."""

    database_url: str
    admin_key: str = field(repr=False)
    # "kid:base64,kid:base64": the first key encrypts, all of them decrypt (rotation).
    data_keys: str = field(repr=False)
    # "iid:base64": the blind-index key; empty: derived from the last data key (see identity).
    index_key: str = field(default="", repr=False)
    waiting_room_rate_per_s: float = 0.0
    pass_lifetime_s: float = 600.0
    rate_limit_token_per_min: int = 30
    rate_limit_ip_per_min: int = 600
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = 10
    # glibc malloc arenas of a worker process (reference_app.memory; 0: glibc's 8 per core).
    malloc_arenas: int = DEFAULT_MALLOC_ARENAS
    db_timeout_s: float = 5.0
    waiting_room_cache_s: float = 1.0
    # Answer queue requests and turn passless visitors away in a pure-ASGI layer in front of the
    # app (reference_app.room_edge); off: the FastAPI routes and dependency do it.
    waiting_room_edge: bool = True
    # Rehearsal: (path glob, CPU ms) pairs; matching requests spin that long (reference_app.rehearsal).
    inject_cpu: tuple[tuple[str, float], ...] = ()
    # Peers whose X-Forwarded-For is believed (CIDR blocks); empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    # `serve --purge-older-than`: erase what is beyond retention every purge_every_s (0: off).
    purge_older_than_s: int = 0
    purge_every_s: float = 3600.0
    # A Server-Timing header (pool, db, app) on every response: off, a side channel otherwise.
    server_timing: bool = False

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def default_database_url() -> str:
    """`SURGE_DATABASE_URL`, else the embedded SQLite file `.surge/surge.db`."""
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{DEFAULT_DB_PATH}"


def normalize_database_url(url: str) -> str:
    """Accept `postgresql://`, `postgres://`, `sqlite:///path` or a bare file path."""
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    if "://" in url:
        raise ValueError(
            f"unsupported database URL scheme: {url.split('://')[0]}:// (use sqlite:/// or postgresql://)"
        )
    return f"sqlite:///{url}"


def _read_secret(env_name: str, file_env_name: str, dev_file: Path | None) -> str | None:
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    path = os.environ.get(file_env_name, "").strip()
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise MissingKeyError(f"cannot read {file_env_name}={path}: {exc.strerror}") from exc
    if dev_file is not None and dev_file.exists():
        return dev_file.read_text().strip() or None
    return None


def load_secrets(dev: bool = False, dev_dir: Path = DEV_DIR) -> tuple[str, str, list[str]]:
    """Return (admin_key, data_keys, notes). In dev mode, missing keys are generated into files.

    Raises MissingKeyError when a key is missing and `dev` is false.
    """
    import secrets

    from reference_app.identity import generate_data_key

    notes: list[str] = []
    admin_file = dev_dir / "admin.key" if dev else None
    data_file = dev_dir / "data.key" if dev else None
    admin = _read_secret(ENV_ADMIN_KEY, ENV_ADMIN_KEY_FILE, admin_file)
    data = _read_secret(ENV_DATA_KEY, ENV_DATA_KEY_FILE, data_file)
    if dev:
        dev_dir.mkdir(parents=True, exist_ok=True)
        if admin is None:
            admin = secrets.token_urlsafe(32)
            _write_private(admin_file, admin)
            notes.append(
                f"--dev: created admin key file {admin_file} (use it as the admin Bearer token)"
            )
        if data is None:
            data = generate_data_key()
            _write_private(data_file, data)
            notes.append(f"--dev: created patient-data key file {data_file} (keep it out of git)")
    if admin is None:
        raise MissingKeyError(
            f"no admin key: set {ENV_ADMIN_KEY} (or {ENV_ADMIN_KEY_FILE}), or pass --dev for local keys"
        )
    if data is None:
        raise MissingKeyError(
            f"no patient-data key: set {ENV_DATA_KEY} (or {ENV_DATA_KEY_FILE}), or pass --dev for local keys"
        )
    return admin, data, notes


def _write_private(path: Path | None, value: str) -> None:
    if path is None:
        raise RuntimeError("key files are written in --dev mode only")
    path.write_text(value + "\n")
    path.chmod(0o600)


def load_keyring_spec() -> tuple[str, str]:
    """(data keys, index key) for the offline commands (rotate-keys, purge); the data key is
    required. Raises MissingKeyError."""
    data = _read_secret(ENV_DATA_KEY, ENV_DATA_KEY_FILE, None)
    if data is None:
        raise MissingKeyError(f"no patient-data key: set {ENV_DATA_KEY} (or {ENV_DATA_KEY_FILE})")
    return data, load_index_key()


def load_index_key() -> str:
    """`SURGE_INDEX_KEY` (or the file `SURGE_INDEX_KEY_FILE` names); empty when unset."""
    return _read_secret(ENV_INDEX_KEY, ENV_INDEX_KEY_FILE, None) or ""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def settings_from_env() -> Settings:
    """Settings for a uvicorn worker: `surge app serve` exports them as SURGE_* variables."""
    from reference_app.rehearsal import ENV_INJECT_CPU, decode

    admin, data, _ = load_secrets(dev=os.environ.get("SURGE_DEV") == "1")
    return Settings(
        database_url=default_database_url(),
        admin_key=admin,
        data_keys=data,
        index_key=load_index_key(),
        waiting_room_rate_per_s=_env_float("SURGE_WAITING_ROOM_RATE", 0.0),
        pass_lifetime_s=_env_float("SURGE_PASS_LIFETIME_S", 600.0),
        rate_limit_token_per_min=int(_env_float("SURGE_RATE_LIMIT_TOKEN", 30)),
        rate_limit_ip_per_min=int(_env_float("SURGE_RATE_LIMIT_IP", 600)),
        db_pool_size=int(_env_float("SURGE_DB_POOL_SIZE", 10)),
        malloc_arenas=int(_env_float("SURGE_MALLOC_ARENAS", DEFAULT_MALLOC_ARENAS)),
        waiting_room_edge=os.environ.get("SURGE_WAITING_ROOM_EDGE", "1") != "0",
        inject_cpu=decode(os.environ.get(ENV_INJECT_CPU, "")),
        purge_older_than_s=int(_env_float("SURGE_PURGE_OLDER_THAN_S", 0)),
        trusted_proxies=tuple(
            c for c in os.environ.get("SURGE_TRUSTED_PROXIES", "").split(",") if c.strip()
        ),
        server_timing=os.environ.get("SURGE_SERVER_TIMING", "0") == "1",
    )
