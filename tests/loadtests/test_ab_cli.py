"""`surge loadtest ab` end to end: a 2x slow-down of one route through the proxy is exit 3 naming
that route; A/A through two proxies is never 3; bad input is exit 2 in one line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests.app_launcher import AppUnderTest, started_app
from loadtests.proxy import started_proxy
from surge.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start-app", "sqlite", "--a-ref", "no-such-ref-xyz", "--b-ref", "HEAD"],
            "unknown git ref",
        ),
        (["--host-a", "http://127.0.0.1:9", "--host-b", "http://127.0.0.1:9"], "cannot reach"),
        (["--host-a", "http://127.0.0.1:9"], "--host-b"),
        (["--host-a", "127.0.0.1:9", "--host-b", "http://127.0.0.1:9"], "invalid host"),
        (["--start-app", "sqlite", "--a-ref", "HEAD"], "--b-ref"),
        (["--start-app", "sqlite", "--max-slowdown", "0.9"], "--max-slowdown"),
        (["--start-app", "sqlite", "--budget", "soon"], "duration"),
        ([], "--host-a"),
    ],
)
def test_bad_input_exits_2_in_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["loadtest", "ab", "--out", str(tmp_path / "ab"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppUnderTest]:
    with started_app("sqlite", tmp_path_factory.mktemp("ab-app"), centers=20) as served:
        yield served


@pytest.mark.slow
def test_a_2x_slow_down_of_one_route_through_the_proxy_is_exit_3_naming_it(
    app: AppUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with (
        started_proxy(app.base_url) as host_a,
        started_proxy(app.base_url, delays=["/centers/*/availability=x2"]) as host_b,
    ):
        code = main(
            ["loadtest", "ab", "--host-a", host_a, "--host-b", host_b, "--out", str(tmp_path),
             "--budget", "120s", "--junit", str(tmp_path / "junit.xml")]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 3, out
    document = json.loads((tmp_path / "ab.json").read_text())
    verdicts = {r["route"]: r for r in document["routes"]}
    assert verdicts["availability"]["verdict"] == "regression"
    assert verdicts["availability"]["p50_low"] > 1.10
    assert {verdicts[r]["verdict"] for r in ("search", "vaccines")} <= {"clean", "undecided"}
    assert any(
        line.startswith("availability") and "regression" in line for line in out.splitlines()
    )
    failures = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite/testcase/failure/..")
    assert [case.get("name") for case in failures] == ["availability"]
    assert (tmp_path / "slices.csv").read_text().count("\n") > 6 * document["pairs"]


@pytest.mark.slow
def test_a_over_a_through_two_proxies_is_never_a_regression(
    app: AppUnderTest, tmp_path: Path
) -> None:
    with started_proxy(app.base_url) as host_a, started_proxy(app.base_url) as host_b:
        code = main(
            ["loadtest", "ab", "--host-a", host_a, "--host-b", host_b, "--out", str(tmp_path),
             "--budget", "45s"]
        )  # fmt: skip
    document = json.loads((tmp_path / "ab.json").read_text())
    assert code in (0, 4) and document["exit_code"] == code
    assert all(r["verdict"] != "regression" for r in document["routes"])
