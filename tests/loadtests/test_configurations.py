"""Held-out configurations: their specs, their cores, and the CLI's answer to bad ones."""

import subprocess
import sys

import pytest

from loadtests.configurations import config_cores, parse_config
from loadtests.errors import LoadTestInputError
from loadtests.pinning import CorePlan


def test_specs_parse_into_the_limits_they_change():
    c = parse_config("cores=2,workers=2")
    assert (c.cores, c.workers, c.pool) == (2, 2, None)
    assert parse_config("pool=20").pool_size == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("threads=4", "keys workers, cores, pool"),
        ("workers", "key=value"),
        ("workers=two", "integer"),
        ("workers=0", ">= 1"),
        ("pool=3", "even number"),
        ("workers=2,workers=3", "given twice"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(LoadTestInputError, match=message):
        parse_config(spec)


def test_cores_take_the_apps_own_first_then_the_generators():
    base = CorePlan(loadgen=(0,), app=(1,), db=(1,))
    assert config_cores(parse_config("cores=2"), base, [0, 1]).app == (0, 1)
    assert config_cores(parse_config("workers=2"), base, [0, 1]) == base
    with pytest.raises(LoadTestInputError, match="3 cores asked, 2 usable"):
        config_cores(parse_config("cores=3"), base, [0, 1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "http://127.0.0.1:9", "--config", "workers=2"], "use it with --start-app"),
        (["--start-app", "sqlite", "--config", "speed=2"], "keys workers, cores, pool"),
    ],
)
def test_cli_rejects_configs_it_cannot_serve(tmp_path, args, message):
    done = subprocess.run(
        [sys.executable, "-m", "surge", "calibrate", "--validate", "--out", str(tmp_path / "v"),
         *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
