"""The app launcher: `surge app seed|serve` as real subprocesses. When the app does not come up,
one exception type (AppDidNotStart) names the log and carries its tail, and `surge loadtest`
turns it into one line with the hint; a served app answers and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from loadtests.app_launcher import AppDidNotStart, seed_app, served_app, stop
from surge.cli import main


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of the group that still run (a zombie waiting to be reaped does not)."""
    alive = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


def test_serve_with_a_bad_argument_raises_app_did_not_start_with_the_log_tail(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run" / "app.log"
    with (
        pytest.raises(AppDidNotStart) as caught,
        served_app(f"sqlite:///{tmp_path / 'a.db'}", extra_args=["--no-such-flag"], log_path=log),
    ):
        pytest.fail("the block must not run when the app did not start")
    error = caught.value
    first, *rest = str(error).splitlines()
    assert first.startswith("the app did not start: `surge app serve` exited with code 2")
    assert str(log) in first and "unrecognized arguments: --no-such-flag" in first
    assert error.log_path == log and log.is_file()
    assert any("--no-such-flag" in line for line in rest)  # the tail, below the first line
    assert isinstance(error, OSError)  # the CLI's one-line error, exit 2


def test_without_a_log_path_the_failed_start_keeps_a_temporary_log_and_names_it(
    tmp_path: Path,
) -> None:
    with (
        pytest.raises(AppDidNotStart) as caught,
        served_app(f"sqlite:///{tmp_path / 'a.db'}", extra_args=["--app-workers", "none"]),
    ):
        pass
    log = caught.value.log_path
    try:
        assert log.is_file() and log.name.startswith("surge-app-")
        assert str(log) in str(caught.value).splitlines()[0]
        assert "--app-workers" in log.read_text()
    finally:
        log.unlink()


def test_seeding_into_an_unwritable_path_raises_app_did_not_start(tmp_path: Path) -> None:
    (tmp_path / "app.db").mkdir()  # a directory where the database file should go
    log = tmp_path / "app.log"
    with pytest.raises(AppDidNotStart) as caught:
        seed_app(f"sqlite:///{tmp_path / 'app.db'}", log, centers=1, days=1, attempts=1)
    assert "`surge app seed` failed" in str(caught.value)
    assert (
        caught.value.tail
        and caught.value.tail == log.read_text().splitlines()[-len(caught.value.tail) :]
    )


@pytest.mark.slow
def test_loadtest_with_an_app_that_cannot_start_says_so_in_one_line_with_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "app.db").mkdir(parents=True)  # seeding fails: the database path is a directory
    code = main(
        ["loadtest", "run", "--scenario", "smoke", "--start-app", "sqlite", "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("surge: error: the app did not start:")
    assert str(out / "app.log") in err
    assert "Traceback" not in err


def test_a_served_app_answers_and_its_process_group_is_gone_after(tmp_path: Path) -> None:
    with served_app(f"sqlite:///{tmp_path / 'a.db'}") as app:
        assert httpx.get(f"{app.base_url}/healthz", timeout=10).status_code == 200
        log = app.log_path
        assert log.is_file()
    # stopped by the SIGTERM, not killed (uvicorn re-raises the signal after a graceful shutdown)
    assert app.process.returncode in (0, -signal.SIGTERM)
    assert _alive_in_group(app.pid) == []
    assert not log.exists()  # the temporary log of a clean run is removed


IGNORES_SIGTERM = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_process_that_ignores_sigterm_is_killed_with_its_group() -> None:
    process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())  # SIGTERM is ignored from here on
    process.stdout.close()
    assert stop(process, timeout_s=0.5) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while child in _alive_in_group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive_in_group(process.pid) == []
