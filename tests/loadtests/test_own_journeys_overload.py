"""`surge loadtest overload --locustfile FILE` and `surge calibrate --validate --locustfile FILE`:
a user's own journeys drive the overload runs and the calibration steps against a platform that
is not Surge's (pypiserver, from PyPI, served by gunicorn; for the calibration its worker exports
its own process CPU, which the scrape turns into the model's demands). Without an admin key the
waiting room is refused or skipped and the invariants are not applicable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from simulations.calibration.telemetry import scrape_cpu_demand_s
from surge.cli import main

REPO = Path(__file__).resolve().parents[2]

JOURNEY = """
from loadtests import ArrivalUser


class Visitors(ArrivalUser):
    rate = 5

    def journey(self):
        self.client.get("/", name="home")
        self.client.get("/simple/", name="index")
"""

SLO = """
[slo]
p99_ms = { home = 60000.0, index = 60000.0, indx = 1000.0 }
error_rate_max = 0.05
"""


def _surge(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env_less_key = {k: v for k, v in os.environ.items() if k != "SURGE_ADMIN_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "surge", *args], capture_output=True, text=True, timeout=timeout,
        cwd=REPO, env=env_less_key,
    )  # fmt: skip


@pytest.mark.slow
def test_overload_runs_the_users_journeys_and_judges_them_by_their_slo(tmp_path, pypiserver):
    (tmp_path / "journeys.py").write_text(JOURNEY)
    (tmp_path / "slo.toml").write_text(SLO)
    out = tmp_path / "overload"
    done = _surge(
        "loadtest", "overload", "--scenario", "smoke", "--locustfile", str(tmp_path / "journeys.py"),
        "--slo", str(tmp_path / "slo.toml"), "--host", pypiserver, "--out", str(out),
        "--capacity-users", "2", "--capacity-duration", "2s", "--duration", "2s",
        "--multiple", "2", "--seed", "5", "--junit", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    result = json.loads((out / "overload.json").read_text())
    # the SLO names a request no journey made: "no data" fails the overload, exit 1
    assert done.returncode == 1, done.stderr[-2000:]
    phases = {p["phase"]: p for p in result["phases"]}
    assert set(phases) == {"capacity", "no-waiting-room"}  # no admin key: no room to drive
    assert result["admission_per_s"] is None and result["judged_phase"] == "no-waiting-room"
    capacity = json.loads((out / "capacity" / "summary.json").read_text())
    assert capacity["model"] == "closed" and set(capacity["routes"]) == {"home", "index"}
    # back to back: every journey is the two requests, and the capacity is journeys per second
    finished = capacity["arrivals"]["finished"]
    assert finished > 10 and capacity["routes"]["home"]["count"] >= finished
    assert result["capacity_journeys_per_s"] == pytest.approx(finished / 2.0, rel=0.01)
    assert result["offered_arrivals_per_s"] == pytest.approx(
        2 * result["capacity_journeys_per_s"], rel=0.01
    )
    loaded = phases["no-waiting-room"]
    assert loaded["arrivals_started"] > 2 * finished * 0.5  # about 2x capacity x 2 s offered
    assert set(loaded["p99_ms"]) == {"home", "index"}
    rules = {r["rule"]: r for r in result["verdict"]["rules"]}
    assert rules["p99_ms[home]"]["passed"] and rules["p99_ms[index]"]["passed"]
    assert not rules["p99_ms[indx]"]["passed"]
    assert rules["p99_ms[indx]"]["detail"] == "no data: no request named 'indx'"
    invariants = rules["app alive, invariants 0"]
    assert invariants["applicable"] is False and invariants["passed"]
    assert "n/a    app alive, invariants 0: not applicable: no admin key" in done.stdout
    assert "not run: no admin key" in done.stdout and "p99 home" in done.stdout
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "1"


def test_overload_refuses_the_waiting_room_on_a_platform_without_admin_key(
    tmp_path, capsys, monkeypatch, pypiserver
):
    monkeypatch.delenv("SURGE_ADMIN_KEY", raising=False)
    (tmp_path / "journeys.py").write_text(JOURNEY)
    code = main(["loadtest", "overload", "--scenario", "smoke",
                 "--locustfile", str(tmp_path / "journeys.py"), "--host", pypiserver,
                 "--admission-share", "0.4", "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("surge: error:"), err
    assert "--admission-share drives the reference app's waiting room" in err[0]
    assert "SURGE_ADMIN_KEY" in err[0] and not (tmp_path / "o").exists()


def test_overload_needs_arrival_users_in_the_journey_file(tmp_path, capsys, pypiserver):
    (tmp_path / "closed.py").write_text(
        "from locust import HttpUser, task\n\n\nclass B(HttpUser):\n"
        "    @task\n    def t(self):\n        self.client.get('/')\n"
    )
    code = main(["loadtest", "overload", "--scenario", "smoke",
                 "--locustfile", str(tmp_path / "closed.py"), "--host", pypiserver,
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "needs an ArrivalUser subclass" in err[0], err


@pytest.mark.slow
def test_calibration_uses_the_users_routes_and_the_targets_cpu_from_its_exporter(
    tmp_path, pypiserver_exporter
):
    base, metrics = pypiserver_exporter
    (tmp_path / "journeys.py").write_text(JOURNEY)
    out = tmp_path / "cal"
    done = _surge(
        "calibrate", "--validate", "--locustfile", str(tmp_path / "journeys.py"), "--host", base,
        "--scrape", metrics, "--levels", "1,2,3,4", "--hold", "2s", "--settle", "0.5s",
        "--passes", "1", "--replications", "1", "--bootstrap", "20", "--out", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 4), done.stderr[-3000:]  # 4: the held-out level missed
    profile = tomllib.loads((out / "profile.toml").read_text())
    validation = json.loads((out / "validation.json").read_text())
    network = validation["network"]
    assert set(network["demands_ms"]) == {"home", "index"}  # the user's routes
    assert network["demand_source"] == "scrape", network["demand_note"]
    # a sync gunicorn worker serves one request at a time: CPU per request <= time per request
    client_ms = _routes(profile)
    assert set(client_ms) == {"home", "index"}
    for route, demand_ms in network["demands_ms"].items():
        assert 0 < demand_ms <= client_ms[route]


def _routes(profile: dict) -> dict[str, float]:
    """Mean client time (ms) of each route of a profile.toml."""
    return {name: r["mean_s"] * 1000 for name, r in profile["calibration"]["routes"].items()}


def test_scrape_cpu_demand_is_the_exporters_cpu_increase_over_the_requests(tmp_path):
    """Two processes' counters (0.1 and 0.2 CPU-s per s; the second starts late), two windows:
    interpolated where samples bracket a window, else between the samples inside it (none:
    nothing); 0.25 + 0.3 + 0.6 CPU-s over 50 requests; other metrics ignored."""
    (tmp_path / "run.json").write_text(json.dumps({"telemetry_start_epoch_s": 1000.0}))
    rows = [(t, "http://a/metrics", 0.1 * t) for t in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)]
    rows += [(t, "http://b/metrics", 2.0 + 0.2 * (t - 5.0)) for t in (5.0, 7.0, 9.0)]
    scrape = pd.DataFrame(
        [{"elapsed_s": t, "target": u, "metric": "process_cpu_seconds_total", "labels": "{}",
          "value": v} for t, u, v in rows]
        + [{"elapsed_s": 2.0, "target": "http://a/metrics", "metric": "up", "labels": "{}",
            "value": 1.0}]
    )  # fmt: skip
    scrape.to_csv(tmp_path / "scrape.csv", index=False)
    steps = pd.DataFrame({"step": [0, 1], "window_start_s": [1001.0, 1005.5],
                          "end_s": [1003.5, 1008.5]})  # fmt: skip
    requests = pd.DataFrame({"step": [0] * 30 + [1] * 20 + [1] * 5,
                             "ok": [True] * 50 + [False] * 5})  # fmt: skip
    assert scrape_cpu_demand_s(tmp_path, steps, requests) == pytest.approx((0.25 + 0.3 + 0.6) / 50)
    scrape[scrape["metric"] == "up"].to_csv(tmp_path / "scrape.csv", index=False)
    assert scrape_cpu_demand_s(tmp_path, steps, requests) is None
