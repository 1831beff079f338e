"""`surge app` commands: deterministic seed, one clear line and exit 2 on bad input."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from reference_app.database import make_engine
from reference_app.seed import SeedPlan, seed
from surge.cli import main


def _fingerprint(url: str) -> str:
    engine = make_engine(url)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in ("centers", "center_vaccines", "slots"):
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")):  # noqa: S608 - identifiers are module constants; values are bound
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return digest.hexdigest()


def test_seed_is_deterministic(tmp_path: Path) -> None:
    plan = SeedPlan(centers=12, days=2, seed=5, first_day=date(2030, 1, 7))
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db")]
    for url, p in zip(
        urls,
        (plan, plan, SeedPlan(centers=12, days=2, seed=6, first_day=date(2030, 1, 7))),
        strict=True,
    ):
        engine = make_engine(url)
        report = seed(engine, p)
        engine.dispose()
        assert report["centers"] == 12 and report["slots"] > 0
    first, second, other = (_fingerprint(u) for u in urls)
    assert first == second != other


def test_seed_cli_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "cli.db"
    assert (
        main(["app", "seed", "--db", str(db), "--centers", "3", "--days", "1", "--seed", "1"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["centers"] == 3 and report["seed"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["app", "serve", "--db", "mysql://x/y"], "unsupported database URL scheme"),
        (
            ["app", "serve", "--db", "postgresql://postgres@127.0.0.1:1/nowhere"],
            "cannot use the database",
        ),
        (["app", "serve", "--app-workers", "0"], "argument --app-workers: must be an integer >= 1"),
        (["app", "seed", "--db", "ftp://x"], "unsupported database URL scheme"),
        (["app", "seed", "--db", "x.db", "--start", "soon"], "not a date (YYYY-MM-DD): 'soon'"),
    ],
)
def test_bad_app_input_is_one_line_and_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SURGE_ADMIN_KEY", "an-admin-key-for-tests")
    monkeypatch.setenv("SURGE_DATA_KEY", "kt:" + "A" * 43 + "=")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("surge: error:") and message in err[0]


def _idle_connection_closed_within(base_url: str, idle_s: float) -> bool:
    """Send one keep-alive request on a raw socket, stay idle, and see whether the server hangs
    up within `idle_s` (waiting on the hang-up itself, not on a clock)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(base_url)
    with socket.create_connection((where.hostname, where.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        assert b" 200 " in sock.recv(65536).split(b"\r\n", 1)[0]
        deadline = time.monotonic() + idle_s
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                # the rest of the response may come in a later packet; b"" is the hang-up
                if not sock.recv(65536):
                    return True
            except TimeoutError:
                break
        return False  # still open after idle_s


@pytest.mark.parametrize(("keep_alive_s", "closed"), [(1, True), (30, False)])
def test_serve_keeps_idle_connections_open_for_keep_alive_s(
    tmp_path: Path, keep_alive_s: int, closed: bool
) -> None:
    from loadtests.app_launcher import served_app

    extra = ["--keep-alive-s", str(keep_alive_s)]
    with served_app(f"sqlite:///{tmp_path / 'k.db'}", extra_args=extra) as app:
        assert _idle_connection_closed_within(app.base_url, 2.5) is closed
