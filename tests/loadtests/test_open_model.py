"""The open-model driver against a server whose latency is known (single FIFO server, fixed
service time D): arrivals keep their rate whatever the server does, and the mean response time
matches the M/D/1 formula. Locust runs as a subprocess with the issue's contract command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from loadtests.driver.fifo_server import mdl_mean_response_s

pytestmark = pytest.mark.slow

LOCUSTFILE = """
from loadtests.driver.open_model import ArrivalUser


class Arrivals(ArrivalUser):
    rate = {rate}

    def journey(self):
        self.client.get("/work", name="work")
"""


def run_contract(tmp_path: Path, host: str, rate: float, run_time_s: int) -> dict:
    """`locust -f FILE --headless -u 1 -r 1 -t Ns -H URL --csv PREFIX`, as the contract says."""
    locustfile = tmp_path / "arrivals.py"
    locustfile.write_text(LOCUSTFILE.format(rate=rate))
    prefix = tmp_path / "run"
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "1", "-r", "1",
        "-t", f"{run_time_s}s", "-H", host, "--csv", str(prefix), "--only-summary",
        "--json-file", str(prefix),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=run_time_s + 120)  # noqa: S603 - an argument list of our own, no shell
    assert done.returncode == 0, done.stderr[-2000:]
    stats = pd.read_csv(f"{prefix}_stats.csv").set_index("Name")
    # Locust's final in-memory stats (its CSV is rewritten once a second and can miss the last
    # moment's requests; the JSON is written at exit from the same stats, so it has them all).
    final = {row["name"]: row for row in json.loads(Path(f"{prefix}.json").read_text())}
    surge = json.loads(Path(f"{prefix}_surge.json").read_text())
    duration = surge["test_stop_epoch_s"] - surge["test_start_epoch_s"]
    return {
        "stats": stats,
        "final": final,
        "surge": surge,
        "duration_s": duration,
        "log": done.stderr,
    }


def test_arrivals_keep_their_rate_when_the_server_is_too_slow(tmp_path, fifo_server):
    # D = 25 ms serves at most 40/s; 80 arrivals/s still arrive (an open model), the backlog grows.
    result = run_contract(tmp_path, fifo_server(25.0), rate=80, run_time_s=12)
    counters = result["surge"]["counters"]
    expected = 80 * result["duration_s"]
    assert abs(counters["arrivals:scheduled"] - expected) < 4 * expected**0.5 + 0.05 * expected
    completed = int(result["stats"].loc["work", "Request Count"])
    assert completed < 0.75 * counters["arrivals:scheduled"]
    # Locust's own stats and the HDR histogram show the same requests, with growing latency.
    # The exact comparison uses Locust's final stats (same event stream, same end); its CSV,
    # rewritten once a second, may lag behind by the last moment's requests but never lead.
    hdr = result["surge"]["hdr"]["work"]
    assert hdr["count"] == result["final"]["work"]["num_requests"]
    assert completed <= hdr["count"]
    assert hdr["p99_ms"] > 1000
    assert "open model:" in result["log"] and "late" in result["log"]


def test_mean_response_matches_md1_at_half_load(tmp_path, fifo_server):
    # rho = 0.5: W = 100 + 50 = 150 ms. A long D keeps the few ms of overhead of a busy shared
    # machine (client and server both wait for a CPU) small against the queueing signal.
    service_s, rate = 0.100, 5.0
    result = run_contract(tmp_path, fifo_server(service_s * 1000), rate=rate, run_time_s=30)
    counters = result["surge"]["counters"]
    measured_rate = counters["arrivals:started"] / result["duration_s"]
    assert measured_rate == pytest.approx(rate, rel=0.25)
    expected_ms = 1000 * mdl_mean_response_s(measured_rate, service_s)
    final = result["final"]["work"]
    locust_mean = final["total_response_time"] / final["num_requests"]
    hdr_mean = result["surge"]["hdr"]["work"]["mean_ms"]
    # A closed loop would measure ~D = 100 ms (0.67 W); the open model sees the queue: ~W.
    assert 0.8 * expected_ms < locust_mean < 1.5 * expected_ms, (locust_mean, expected_ms)
    # Same requests on both sides (Locust's final stats): only HDR's 3-digit buckets differ.
    assert result["surge"]["hdr"]["work"]["count"] == final["num_requests"]
    assert hdr_mean == pytest.approx(locust_mean, rel=0.01)
