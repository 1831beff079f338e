"""`surge loadtest run --locustfile FILE`: a user's own journeys against a platform that is not
Surge's (pypiserver, from PyPI, served by gunicorn), judged by an SLO file of its own; bad
journey files and unreachable hosts exit 2 in one line. Locust and the servers run as
subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from loadtests.app_launcher import free_port
from loadtests.errors import LoadTestInputError
from loadtests.journeys.journey_file import JourneyClass, JourneyFile
from loadtests.plan import RunOptions, locust_command, plan_run
from simulations.scenario.scenario import load_scenario
from surge.cli import main

REPO = Path(__file__).resolve().parents[2]

OPEN_JOURNEY = """
from loadtests import ArrivalUser


class Visitors(ArrivalUser):
    rate = 5

    def journey(self):
        self.client.get("/", name="home")
        self.client.get("/simple/", name="index")
"""

CLOSED_JOURNEY = """
from locust import HttpUser, constant, task


class Browser(HttpUser):
    wait_time = constant(0.2)

    @task
    def browse(self):
        self.client.get("/simple/", name="index")
"""

SLO_WITH_A_TYPO = """
[slo]
p95_ms = { home = 2000.0, index = 2000.0, indx = 2000.0 }
error_rate_max = 0.01
"""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def surge_run(tmp_path: Path, journey: str, *args: str) -> tuple[int, dict, str]:
    locustfile = tmp_path / "journeys.py"
    locustfile.write_text(journey)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "surge", "loadtest", "run", "--scenario", "smoke",
               "--locustfile", str(locustfile), "--out", str(out), "--seed", "3", *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=REPO)
    summary = out / "summary.json"
    return (
        done.returncode,
        json.loads(summary.read_text()) if summary.exists() else {},
        done.stderr,
    )


@pytest.mark.slow
def test_open_model_journey_on_a_platform_from_pypi_is_judged_by_its_own_slo_file(
    tmp_path, pypiserver
):
    slo = tmp_path / "slo.toml"
    slo.write_text(SLO_WITH_A_TYPO)
    code, summary, err = surge_run(
        tmp_path, OPEN_JOURNEY, "--host", pypiserver, "--rate", "8", "--duration", "4s",
        "--slo", str(slo), "--junit", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    assert code == 1, err[-2000:]
    assert summary["model"] == "open" and summary["journey"]["reference"] is False
    assert set(summary["routes"]) == {"home", "index"}  # request names are the routes
    assert summary["routes"]["index"]["count"] == summary["routes"]["home"]["count"] > 10
    assert summary["arrivals"]["started"] == summary["routes"]["home"]["count"]
    rules = {r["rule"]: r for r in summary["slo"]["rules"]}
    # the SLO file replaced the scenario's: its names only, the reference journey's rules absent
    assert set(rules) == {"p95_ms[home]", "p95_ms[index]", "p95_ms[indx]", "error_rate_max"}
    assert rules["p95_ms[home]"]["passed"] and rules["p95_ms[index]"]["passed"]
    assert not rules["p95_ms[indx]"]["passed"]
    assert rules["p95_ms[indx]"]["detail"] == "no data: no request named 'indx'"
    assert "p95_ms[indx]: no data: no request named 'indx'" in err
    assert "/4s | " in err and " req/s | " in err  # the live status: plain lines without a TTY
    # the counters the status line shows, as the load generator last rewrote them (live.json)
    live = json.loads((tmp_path / "run" / "live.json").read_text())
    assert live["arrivals:scheduled"] == summary["arrivals"]["scheduled"] > 10
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["p95_ms[indx]"] and suite.get("tests") == "4"


@pytest.mark.slow
def test_closed_model_plain_locust_users_get_the_surge_judging(tmp_path, pypiserver):
    code, summary, err = surge_run(
        tmp_path, CLOSED_JOURNEY, "--host", pypiserver, "--users", "2", "--duration", "4s"
    )
    assert summary, err[-2000:]
    assert summary["model"] == "closed" and set(summary["routes"]) == {"index"}
    route = summary["routes"]["index"]
    assert route["count"] > 5 and route["failures"] == 0
    assert route["hdr"]["p95_ms"] is not None  # the recorder ran in a file that never imports it
    # the scenario's latency targets name the reference routes, none of which this journey used
    breached = {r["rule"] for r in summary["slo"]["rules"] if not r["passed"]}
    assert "p95_ms[search]" in breached and code == 1


@pytest.mark.slow
def test_a_journey_that_makes_no_request_is_exit_2(tmp_path, capsys, pypiserver):
    locustfile = tmp_path / "idle.py"
    locustfile.write_text(
        "from loadtests import ArrivalUser\n\n\nclass Idle(ArrivalUser):\n"
        "    def journey(self):\n        pass\n"
    )
    code = main(["loadtest", "run", "--scenario", "smoke", "--locustfile", str(locustfile),
                 "--host", pypiserver, "--rate", "2", "--duration", "2s",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("surge: error:") and "made no request" in err[-1]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("raise RuntimeError('no such token')\n", "failed to load: RuntimeError: no such token"),
        ("X = 1\n", "defines no Locust user class"),
    ],
)
def test_a_journey_file_that_raises_or_has_no_users_is_one_line_and_exit_2(
    tmp_path, capsys, pypiserver, source, message
):
    locustfile = tmp_path / "bad.py"
    locustfile.write_text(source)
    code = main(["loadtest", "run", "--scenario", "smoke", "--locustfile", str(locustfile),
                 "--host", pypiserver, "--rate", "2", "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("surge: error:") and message in err and "Traceback" not in err


def test_an_unreachable_host_is_one_line_and_exit_2(tmp_path, capsys):
    locustfile = tmp_path / "journeys.py"
    locustfile.write_text(OPEN_JOURNEY)
    code = main(["loadtest", "run", "--scenario", "smoke", "--locustfile", str(locustfile),
                 "--host", f"http://127.0.0.1:{free_port()}", "--rate", "2",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "unreachable" in err


# -- the plan of a journey file (pure: no Locust) -------------------------------------------------


@pytest.fixture(scope="module")
def smoke():
    return load_scenario("smoke")


MIXED = JourneyFile(
    Path("/j/mine.py"),
    (
        JourneyClass("Arrivals", True, 0, 1.0),
        JourneyClass("Other", True, 0, 1.0),
        JourneyClass("Admin", False, 1, 1.0),
        JourneyClass("Browser", False, 0, 3.0),
    ),
)


def _options(**kw) -> RunOptions:
    return RunOptions(scenario="smoke", out_dir=Path("/o"), host="http://h", **kw)


def test_open_model_runs_the_arrival_users_and_fixed_helpers(smoke):
    plan = plan_run(_options(rate=4.0, workers=2), smoke, MIXED)
    assert not plan.reference_journey and plan.health_path is None
    master = locust_command(plan, "http://h", Path("/o"), "master", 5599)
    assert master[-3:] == ["Arrivals", "Other", "Admin"]
    assert master[master.index("-u") + 1] == "5"  # 2 workers x 2 arrival classes + Admin
    assert master[master.index("--arrival-users") + 1] == "2"  # each class keeps its own rate
    files = master[master.index("-f") + 1].split(",")
    assert files[0] == "/j/mine.py" and files[-1].endswith("loadtests/driver/surge_hooks.py")
    worker = locust_command(plan, "http://h", Path("/o"), "worker", 5599)
    assert worker[-3:] == ["Arrivals", "Other", "Admin"]


def test_closed_model_runs_the_plain_users_under_the_shape(smoke):
    plan = plan_run(_options(users=3), smoke, MIXED)
    command = locust_command(plan, "http://h", Path("/o"))
    assert command[-2:] == ["Admin", "Browser"]
    assert "locust_shape.py" in command[command.index("-f") + 1]


def test_a_journey_file_must_fit_the_load_model(smoke):
    only_arrivals = JourneyFile(Path("/j/a.py"), (JourneyClass("A", True, 0, 1.0),))
    with pytest.raises(LoadTestInputError, match="only ArrivalUser classes"):
        plan_run(_options(users=3), smoke, only_arrivals)
    only_plain = JourneyFile(Path("/j/p.py"), (JourneyClass("P", False, 0, 1.0),))
    with pytest.raises(LoadTestInputError, match="no ArrivalUser subclass.*--users N"):
        plan_run(_options(rate=3.0), smoke, only_plain)


def test_the_reference_journey_is_a_journey_file_like_any_other():
    """The plan knows the reference file's classes without starting Locust: they must be what
    Locust itself finds in it, and the file imports only from the `loadtests` top level."""
    from loadtests.journeys.journey_file import read_journey_file
    from loadtests.plan import REFERENCE_JOURNEY, REFERENCE_LOCUSTFILE

    assert read_journey_file(REFERENCE_LOCUSTFILE) == REFERENCE_JOURNEY
    source = REFERENCE_LOCUSTFILE.read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(not line.startswith(("from loadtests.", "import loadtests.")) for line in imports)


@pytest.mark.slow
def test_workers_joining_from_another_machine_drive_the_run(tmp_path, pypiserver):
    """`run --expect-workers 2 --master-bind-port P` waits; `surge loadtest worker --processes 2`,
    started as a separate command (the code path of another machine), joins and drives it."""
    locustfile = tmp_path / "journeys.py"
    locustfile.write_text(OPEN_JOURNEY)
    port, out = free_port(), tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "surge", "loadtest", "run", "--scenario", "smoke",
         "--locustfile", str(locustfile), "--host", pypiserver, "--rate", "6",
         "--duration", "5s", "--expect-workers", "2", "--master-bind-port", str(port),
         "--out", str(out)],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "surge", "loadtest", "worker", "--master-host", "127.0.0.1",
         "--master-port", str(port), "--processes", "2", "--locustfile", str(locustfile)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _, err = run.communicate(timeout=240)
        # exit 1: the smoke scenario's SLO names the reference routes, which this journey lacks
        assert run.returncode == 1 and "no request named 'book'" in err, err[-2000:]
    finally:
        _stop(run)
        _stop(worker)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["workers"] == 2 and set(summary["routes"]) == {"home", "index"}
    arrivals = summary["arrivals"]
    assert arrivals["started"] == pytest.approx(arrivals["expected"], rel=0.5)
    assert summary["routes"]["home"]["count"] == arrivals["started"]


def test_the_status_line_of_a_real_run_directory(tmp_path):
    """`status_line` on rows copied from a real run's history and monitor files (the slow test
    above sees the plain lines of a real run)."""
    import pandas as pd

    from loadtests.reports.live import status_line

    header = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,"
              "99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count")  # fmt: skip
    rows = [
        "1796084300,1,GET,index,0.0,0.0,0,0,0,0,0,0,0,0,0,0,0,11,0",
        "1796084304,1,GET,index,7.67,0.0,5,8,13,14,28,33,190,190,190,190,190,47,1",
        "1796084304,1,GET,home,7.67,0.0,3,5,6,7,20,23,43,43,43,43,43,46,0",
        "1796084304,1,,Aggregated,15.33,0.0,4,7,9,13,27,32,43,190,190,190,190,93,1",
    ]
    (tmp_path / "h.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "m.csv").write_text("epoch_s,waiting_room_queued\n1.0,12\n2.0,7\n")
    line = status_line(pd.read_csv(tmp_path / "h.csv"), pd.read_csv(tmp_path / "m.csv"), 60)
    assert line == ("   4/60s | 15.3 req/s | 93 requests, 1 failed | p95 ms (10 s): index 33, "
                    "home 23 | waiting room 7 queued")  # fmt: skip
    # the load generator's counters (live.json): arrivals and admissions
    counters = {"arrivals:scheduled": 50, "arrivals:started": 48, "arrivals:late": 2,
                "arrivals:dropped": 1, "waiting_room:admitted": 40}  # fmt: skip
    line = status_line(pd.read_csv(tmp_path / "h.csv"), pd.read_csv(tmp_path / "m.csv"), 60,
                       counters)  # fmt: skip
    assert line == ("   4/60s | arrivals 50 scheduled, 48 started, 2 late, 1 dropped | 15.3 req/s"
                    " | 93 requests, 1 failed | p95 ms (10 s): index 33, home 23 | waiting room 7 "
                    "queued, 40 admitted")  # fmt: skip
    assert status_line(pd.DataFrame(), pd.DataFrame(), 60) is None


@pytest.mark.parametrize(("admin_key", "message"),
                         [("", "needs that app's admin key"), ("k" * 32, "need the reference app")])  # fmt: skip
def test_waiting_room_options_are_refused_on_a_target_that_is_not_the_reference_app(
    tmp_path, capsys, monkeypatch, pypiserver, admin_key, message
):
    monkeypatch.setenv("SURGE_ADMIN_KEY", admin_key)
    locustfile = tmp_path / "journeys.py"
    locustfile.write_text(OPEN_JOURNEY)
    code = main(["loadtest", "run", "--scenario", "smoke", "--locustfile", str(locustfile),
                 "--host", pypiserver, "--rate", "2", "--waiting-room-rate", "3",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("surge: error:") and message in err[-1], err


@pytest.mark.slow
def test_web_runs_the_surge_under_locusts_web_ui_and_a_browser_can_stop_it(tmp_path, pypiserver):
    locustfile = tmp_path / "journeys.py"
    locustfile.write_text(OPEN_JOURNEY)
    port, out = free_port(), tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "surge", "loadtest", "run", "--scenario", "smoke",
         "--locustfile", str(locustfile), "--host", pypiserver, "--rate", "5",
         "--duration", "120s", "--web", str(port), "--out", str(out)],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ui = f"http://127.0.0.1:{port}"
        head = [run.stderr.readline() for _ in range(2)]  # the run's header, then the UI's URL
        assert head[1].startswith(f"Locust web UI: {ui}"), head
        deadline = time.monotonic() + 90
        while True:  # the UI answers, and the surge is running in it
            try:
                stats = httpx.get(f"{ui}/stats/requests", timeout=2).json()
                if stats["state"] == "running" and stats["total_rps"] > 0:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, "the web UI never showed the run"
            time.sleep(0.5)
        stopped_at = time.monotonic()
        assert httpx.post(f"{ui}/stop", timeout=5).status_code == 200  # the Stop button
        err = run.communicate(timeout=120)[1]
        assert time.monotonic() - stopped_at < 60, "the run did not end when stopped"
        assert run.returncode in (0, 1), err[-2000:]
    finally:
        _stop(run)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["routes"]["home"]["count"] > 0
