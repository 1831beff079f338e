"""`surge loadtest`: bad input exits 2 in one line; a smoke surge runs end to end against the
reference app (SQLite, and PostgreSQL when configured), gated by SLOs and the committed
baseline. Locust and the app run as subprocesses; nothing here imports locust."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from loadtests.pinning import plan_cores
from loadtests.verdicts.compare import RULES
from surge.cli import main

REPO = Path(__file__).resolve().parents[2]
CI_SCENARIO = REPO / "loadtests" / "scenarios" / "ci-smoke.toml"
BASELINES = REPO / "results" / "baselines"
SMOKE_ARGS = ["--scale", "0.005", "--compress", "120", "--seed", "7"]
ROUTES = ("register", "search", "availability", "book", "appointments", "queue_join", "queue_poll")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "no-such-scenario", "--host", "http://127.0.0.1:9"], "no-such-scenario"),
        (["--scenario", "{malformed}", "--host", "http://127.0.0.1:9"], "invalid TOML"),
        (["--scenario", "{inconsistent}", "--host", "http://127.0.0.1:9"], "duration_min"),
        (["--scenario", "smoke", "--host", "http://127.0.0.1:9"], "unreachable"),
        (["--scenario", "smoke", "--host", "http://127.0.0.1:9", "--rate", "-3"], "--rate"),
        (["--scenario", "smoke", "--host", "http://127.0.0.1:9", "--rate", "fast"], "--rate"),
        (["--scenario", "smoke", "--host", "127.0.0.1:9"], "--host"),
        (
            [
                "--scenario",
                "smoke",
                "--host",
                "http://127.0.0.1:9",
                "--shape",
                "steps",
                "--rate",
                "2",
                "--levels",
                "5,x",
            ],
            "--levels",
        ),  # fmt: skip
        (
            [
                "--scenario",
                "smoke",
                "--host",
                "http://127.0.0.1:9",
                "--users",
                "5",
                "--shape",
                "replay",
            ],
            "replay",
        ),  # fmt: skip
        (
            [
                "--scenario",
                "smoke",
                "--host",
                "http://127.0.0.1:9",
                "--rate",
                "2",
                "--soak-warmup",
                "10s",
            ],
            "--shape soak",
        ),  # fmt: skip
        (
            [
                "--scenario",
                "smoke",
                "--host",
                "http://127.0.0.1:9",
                "--rate",
                "2",
                "--shape",
                "soak",
                "--duration",
                "30s",
                "--soak-window",
                "20s",
            ],
            "do not fit",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "malformed.toml").write_text('name = "broken\n')
    (tmp_path / "inconsistent.toml").write_text(
        'name = "x"\nduration_min = -5\n[demand]\nbaseline_per_min = 1.0\n'
    )
    args = [str(tmp_path / f"{a[1:-1]}.toml") if a.startswith("{") else a for a in args]
    code = main(["loadtest", "run", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("surge: error:") and message in err
    assert "Traceback" not in err


def test_compare_of_missing_directory_is_exit_2(tmp_path, capsys):
    assert main(["loadtest", "compare", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert "no such directory" in capsys.readouterr().err


def smoke_surge(tmp_path: Path, backend: str, extra: list[str]) -> tuple[int, dict, Path]:
    out = tmp_path / f"run-{backend}"
    command = [
        sys.executable, "-m", "surge", "loadtest", "run", "--scenario", str(CI_SCENARIO),
        "--start-app", backend, *SMOKE_ARGS, "--out", str(out),
        "--baseline", str(BASELINES / f"ci-smoke-{backend}"), "--compare-rule", "shared", *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=280, cwd=REPO)  # noqa: S603 - an argument list of our own, no shell
    assert done.returncode in (0, 1, 3), done.stderr[-3000:]
    return done.returncode, json.loads((out / "summary.json").read_text()), out


def check_smoke(code: int, summary: dict, out: Path) -> None:
    breached = [r for r in summary["slo"]["rules"] if not r["passed"]]
    assert code == 0, (breached, summary.get("baseline", {}).get("regressed_routes"))
    assert summary["slo"]["passed"] and summary["exit_code"] == 0
    assert summary["model"] == "open" and summary["shape"] == "replay"
    for route in ROUTES:
        r = summary["routes"][route]
        # a rare dropped connection on a starved box is tolerated here (the SLO gates the rate)
        assert r["count"] > 0 and r["failures"] <= max(1, 0.01 * r["count"]), route
        assert r["hdr"]["p95_ms"] is not None and r["locust"]["p95_ms"] is not None
    bookings = summary["bookings"]
    assert bookings["success"] > 10 and bookings["error"] == 0
    invariants = summary["invariants"]
    assert invariants["appointments"] > 0
    assert {k: v for k, v in invariants.items() if k != "appointments"} == {
        "overbooked_slots": 0,
        "double_bookings": 0,
        "dose2_out_of_window": 0,
        "orphan_dose2": 0,
    }
    arrivals = summary["arrivals"]
    assert arrivals["started"] == pytest.approx(arrivals["expected"], rel=0.35)
    assert summary["waiting_room"]["admitted"] > 0
    # CI judges the baseline with the noise-tolerant rule (tests/loadtests/test_compare.py proves
    # it still catches a route x4 slower); the comparison itself ran on every route.
    baseline = summary["baseline"]
    assert baseline["rule"] == asdict(RULES["shared"])
    judged = {r["route"]: r for r in baseline["routes"]}
    assert baseline["regression"] is False, [
        (r["route"], r["reason"]) for r in baseline["routes"] if r["verdict"] == "regression"
    ]
    min_samples = RULES["shared"].min_samples
    for route in ROUTES:
        row = judged[route]
        assert row["run_count"] == summary["routes"][route]["count"], route
        if row["verdict"] == "not judged":  # only for want of samples on one side
            assert "fewer than" in row["reason"] or "no requests" in row["reason"], row
            continue
        # judged: no regression on this unchanged app, with the figures behind the verdict
        assert row["verdict"] in ("ok", "faster"), row
        assert min(row["run_count"], row["baseline_count"]) >= min_samples, row
        assert row["p50_ratio"] > 0 and 0 <= row["mann_whitney_p"] <= 1, row
    assert sum(r["verdict"] != "not judged" for r in judged.values()) >= 3
    # the run directory holds everything the issue lists
    for name in ("locust_stats.csv", "locust_stats_history.csv", "requests.csv", "report.html"):
        assert (out / name).exists(), name
    rows = sum(1 for _ in (out / "requests.csv").open()) - 1
    assert rows == summary["total"]["count"]
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 6 and "Service-level objectives" in report
    # the rig: pinning recorded, every local process sampled, the app's /metrics scraped
    plan = json.loads((out / "plan.json").read_text())
    cores = plan_cores()
    assert plan["pinning"] == summary["pinning"] == (cores and {
        "loadgen": list(cores.loadgen), "app": list(cores.app), "db": list(cores.db)
    })  # fmt: skip
    telemetry = pd.read_csv(out / "telemetry.csv")
    roles = set(telemetry["role"])
    assert {"app", "loadgen", "other"} <= roles
    assert ("db" in roles) == (summary["database"] == "postgresql")
    assert set(summary["processes"]) == roles
    scraped = pd.read_csv(out / "scrape.csv")
    assert (scraped["metric"] == "surge_http_requests_total").any()


@pytest.mark.slow
def test_smoke_surge_on_sqlite_passes_slos_and_baseline(tmp_path):
    check_smoke(*smoke_surge(tmp_path, "sqlite", []))


@pytest.mark.slow
@pytest.mark.postgres
def test_smoke_surge_on_postgresql_passes_slos_and_baseline(tmp_path, postgres_url):
    check_smoke(*smoke_surge(tmp_path, "postgresql", ["--db", postgres_url]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--multiple", "0.5"], "--multiple"),
        (["--multiple", "lots"], "--multiple"),
        (["--admission-share", "2"], "--admission-share"),
        (["--capacity-users", "0"], "--capacity-users"),
        (["--probe-share", "1.5"], "--probe-share"),
        (["--recovery", "3s", "--recovery-window", "5s"], "--recovery-window"),
        (["--scenario", "no-such-scenario"], "no-such-scenario"),
        ([], "unreachable"),
    ],
)
def test_overload_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    base = ["--scenario", "smoke", "--host", "http://127.0.0.1:9", "--out", str(tmp_path / "o")]
    code = main(["loadtest", "overload", *base, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("surge: error:") and message in err, err
    assert "Traceback" not in err
