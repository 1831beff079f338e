"""`surge app serve --inject-cpu GLOB=MS`: matching requests burn that much CPU; bad specs exit 2."""

from __future__ import annotations

import time

import pytest
from support.booking_api import TestClient

from reference_app.app import create_app
from reference_app.rehearsal import decode, encode, parse_inject_cpu
from reference_app.settings import Settings
from surge.cli import main


def _cpu_s(client: TestClient, path: str) -> float:
    before = time.process_time()
    assert client.get(path).status_code == 200
    return time.process_time() - before


def test_a_matching_route_burns_the_cpu_and_the_others_do_not(settings: Settings) -> None:
    rehearsed = settings.with_overrides(inject_cpu=(("/vaccines", 300.0),))
    with TestClient(create_app(rehearsed)) as client:
        assert _cpu_s(client, "/vaccines") >= 0.3  # CPU time spent, not a sleep
        assert _cpu_s(client, "/healthz") < 0.3


def test_specs_round_trip_through_the_environment() -> None:
    rules = (parse_inject_cpu("/centers/*/availability=2.5"), parse_inject_cpu("/vaccines=0"))
    assert rules == (("/centers/*/availability", 2.5), ("/vaccines", 0.0))
    assert decode(encode(rules)) == rules
    assert decode("") == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("vaccines=3", "GLOB=MS"), ("/vaccines", "GLOB=MS"), ("/vaccines=-1", ">= 0"),
     ("/vaccines=slow", "not a number"), ("/vac[cines=1", "unbalanced")],
)  # fmt: skip
def test_bad_specs_exit_2_in_one_line(
    spec: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["app", "serve", "--dev", "--port", "0", "--inject-cpu", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
