"""The worker process's malloc arenas are capped (reference_app.memory): counted by glibc's
own `malloc_stats` in a fresh process where several threads allocate at once."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from reference_app.identity import generate_data_key
from reference_app.memory import DEFAULT_MALLOC_ARENAS, cap_malloc_arenas
from reference_app.serve import ServeOptions, prepare
from reference_app.settings import settings_from_env

THREADS = 6  # alive together, each allocating: glibc's default gives each its own arena

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc arenas"
)

# Runs `setup`, then THREADS threads that each allocate while all are alive, then prints
# glibc's per-arena statistics on stderr ("Arena N:" once per arena).
_SCRIPT = """
import ctypes, ctypes.util, sys, threading
{setup}
barrier = threading.Barrier({threads} + 1)
def work():
    keep = [bytearray(100_000) for _ in range(4)]
    barrier.wait(); barrier.wait()
threads = [threading.Thread(target=work) for _ in range({threads})]
for t in threads: t.start()
barrier.wait()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc_stats()
barrier.wait()
for t in threads: t.join()
"""


def _clean_env() -> dict[str, str]:
    """This environment without a cap of its own (MALLOC_ARENA_MAX, glibc tunables)."""
    return {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}


def _arenas(setup: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", _SCRIPT.format(setup=setup, threads=THREADS)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_clean_env(), **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_without_a_cap_each_allocating_thread_gets_its_own_arena() -> None:
    assert _arenas("") == THREADS + 1


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_the_cap_bounds_the_arenas(cap: int) -> None:
    setup = f"from reference_app.memory import cap_malloc_arenas\nassert cap_malloc_arenas({cap})"
    assert _arenas(setup) == cap


def test_the_app_factory_caps_its_worker_process(tmp_path: Path) -> None:
    env = {
        "SURGE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SURGE_ADMIN_KEY": "admin-key-for-this-test-only",
        "SURGE_DATA_KEY": generate_data_key(),
        "SURGE_DEV": "0",
    }
    setup = "from reference_app.app import create_app_from_env\ncreate_app_from_env()"
    assert _arenas(setup, env) == DEFAULT_MALLOC_ARENAS
    assert _arenas(setup, {**env, "SURGE_MALLOC_ARENAS": "0"}) == THREADS + 1


def test_serve_hands_the_cap_to_its_workers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SURGE_ADMIN_KEY", "admin-key-for-this-test-only")
    monkeypatch.setenv("SURGE_DATA_KEY", generate_data_key())
    monkeypatch.delenv("SURGE_INDEX_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert prepare(ServeOptions(url))["SURGE_MALLOC_ARENAS"] == str(DEFAULT_MALLOC_ARENAS)
    env = prepare(ServeOptions(url, malloc_arenas=5))
    assert env["SURGE_MALLOC_ARENAS"] == "5"
    monkeypatch.setenv("SURGE_MALLOC_ARENAS", env["SURGE_MALLOC_ARENAS"])
    assert settings_from_env().malloc_arenas == 5


def test_zero_leaves_glibc_alone_and_a_negative_count_is_refused() -> None:
    assert cap_malloc_arenas(0) is False
    with pytest.raises(ValueError, match="0 .* or more"):
        cap_malloc_arenas(-1)
