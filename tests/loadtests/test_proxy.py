"""`surge proxy`: rule parsing, and delays and errors injected through a real proxy process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from loadtests.app_launcher import started_app
from loadtests.proxy import (
    DelayRule,
    ErrorRule,
    config_from_specs,
    parse_delay,
    parse_error,
    started_proxy,
)
from surge.cli import main


def test_rules_parse() -> None:
    assert parse_delay("/centers/*/availability=5") == DelayRule("/centers/*/availability", 5.0)
    assert parse_delay("/centers=x2") == DelayRule("/centers", factor=2.0)
    assert parse_error("/book*=0.25") == ErrorRule("/book*", 0.25)
    config = config_from_specs("http://127.0.0.1:9", ["/centers/*/availability=5", "/centers*=1"])
    assert config.delay_for("/centers/12/availability").delay_ms == 5.0
    assert config.delay_for("/centers").delay_ms == 1.0  # first match wins
    assert config.delay_for("/vaccines") is None
    assert DelayRule("/x", factor=1.5).extra_s(0.010) == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delay", "centers=5"], "glob"),
        (["--delay", "/centers"], "GLOB=VALUE"),
        (["--delay", "/centers=fast"], "not a number"),
        (["--delay", "/centers=-1"], ">= 0"),
        (["--delay", "/centers=x0.5"], ">= 1"),
        (["--delay", "/cent[ers=5"], "unbalanced"),
        (["--delay", "/cen ters=5"], "glob"),
        (["--error", "/centers=1.5"], "[0, 1]"),
        (["--target", "127.0.0.1:8000"], "--target"),
    ],
)
def test_bad_rules_exit_2_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["proxy", "--target", "http://127.0.0.1:9", "--port", "0"]
    if args[0] == "--target":
        argv = ["proxy", "--port", "0"]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


@pytest.mark.slow
def test_the_proxy_forwards_delays_and_injects_errors(tmp_path: Path) -> None:
    with (
        started_app("sqlite", tmp_path, centers=5) as app,
        started_proxy(
            app.base_url,
            delays=["/vaccines=300"],
            errors=["/centers=1"],
            log_path=tmp_path / "proxy.log",
        ) as proxy,
        httpx.Client(base_url=proxy, timeout=30) as client,
    ):
        direct = httpx.get(app.base_url + "/vaccines", timeout=30).json()
        started = time.perf_counter()
        response = client.get("/vaccines")
        elapsed_s = time.perf_counter() - started
        assert response.status_code == 200 and response.json() == direct
        assert elapsed_s >= 0.3  # the injected delay is a lower bound, whatever the load
        refused = client.get("/centers", params={"postcode": "75001"})
        assert refused.status_code == 503 and refused.json()["error"] == "injected"
        # Other paths, query strings and request bodies go through untouched.
        assert (
            client.get("/centers/1/availability", params={"vaccine": "pfizer"}).status_code == 200
        )
        bad = client.post("/patients", json={"not": "a patient"})
        assert bad.status_code == 422
