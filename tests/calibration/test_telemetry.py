"""CPU demands from a synthetic telemetry.csv in the agreed schema."""

import pandas as pd
import pytest

from simulations.calibration.telemetry import (
    core_share,
    cpu_by_role,
    pooled_demand_s,
    read_telemetry,
    step_cpu_demands,
)

APP_CPU_PER_S = 0.6  # core-seconds per second, app worker
DB_CPU_PER_S = 0.2
LOADGEN_CPU_PER_S = 0.3


def _write(path, rows) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


def _samples(seconds: int) -> list[dict]:
    rows = []
    for t in range(seconds + 1):
        for role, pid, rate in (
            ("app", 101, APP_CPU_PER_S),
            ("db", 202, DB_CPU_PER_S / 2),
            ("db", 203, DB_CPU_PER_S / 2),
            ("loadgen", 303, LOADGEN_CPU_PER_S),
        ):
            rows.append(
                {"elapsed_s": float(t), "role": role, "pid": pid, "name": role,
                 "cpu_s": 5.0 + rate * t, "cpu_pct": rate * 100, "rss_bytes": 1 << 26}
            )  # fmt: skip
    return rows


def test_cpu_by_role_is_the_cumulative_difference_summed_over_processes(tmp_path):
    _write(tmp_path / "telemetry.csv", _samples(20))
    t = read_telemetry(tmp_path / "telemetry.csv")
    cpu = cpu_by_role(t, 5.0, 15.0)
    assert cpu["app"] == pytest.approx(APP_CPU_PER_S * 10)
    assert cpu["db"] == pytest.approx(DB_CPU_PER_S * 10)
    assert cpu["loadgen"] == pytest.approx(LOADGEN_CPU_PER_S * 10)
    assert cpu["other"] == 0.0


def test_step_demands_are_cpu_over_completions(tmp_path):
    _write(tmp_path / "telemetry.csv", _samples(40))
    t = read_telemetry(tmp_path / "telemetry.csv")
    windows = pd.DataFrame({"step": [0, 1], "window_start_s": [5.0, 25.0], "end_s": [15.0, 35.0]})
    requests = pd.DataFrame({"step": [0] * 300 + [1] * 600 + [1] * 50,
                             "ok": [True] * 900 + [False] * 50})  # fmt: skip
    d = step_cpu_demands(t, windows, requests)
    app = d[d["role"] == "app"].set_index("step")["cpu_s_per_request"]
    assert app[0] == pytest.approx(APP_CPU_PER_S * 10 / 300)
    assert app[1] == pytest.approx(APP_CPU_PER_S * 10 / 600)
    assert pooled_demand_s(d) == pytest.approx(APP_CPU_PER_S * 20 / 900)
    assert pooled_demand_s(d, "other") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["cpu_s"]), "missing column 'cpu_s'"),
        (lambda f: f.assign(role="web"), "unknown role 'web'"),
        (lambda f: f.assign(cpu_s=-1.0), "cpu_s must be"),
        (lambda f: f.assign(elapsed_s="soon"), "elapsed_s must be"),
    ],
)
def test_bad_telemetry_is_one_clear_error(tmp_path, change, message):
    _write(tmp_path / "telemetry.csv", change(pd.DataFrame(_samples(3))))
    with pytest.raises(ValueError, match=message):
        read_telemetry(tmp_path / "telemetry.csv")
    with pytest.raises(ValueError, match="not found"):
        read_telemetry(tmp_path / "absent.csv")


def test_run_demand_reads_the_run_directory_and_is_none_without_telemetry(tmp_path):
    import json

    from simulations.calibration.telemetry import run_cpu_demand_s

    start = 1_700_000_000.0
    steps = pd.DataFrame({"step": [0], "window_start_s": [start + 5.0], "end_s": [start + 15.0]})
    requests = pd.DataFrame({"step": [0] * 200, "ok": [True] * 200})
    assert run_cpu_demand_s(tmp_path, steps, requests) is None
    _write(tmp_path / "telemetry.csv", _samples(20))
    (tmp_path / "summary.json").write_text(json.dumps({"test_start_epoch_s": start}))
    assert run_cpu_demand_s(tmp_path, steps, requests) == pytest.approx(APP_CPU_PER_S * 10 / 200)


def test_core_share_is_run_over_the_time_the_role_wanted_a_core():
    rows = []
    for t in range(21):
        # 0-10 s: 0.2 s run + 0.3 s wait a second (one thread at a time wanted a core half
        # the time); 10-20 s: 0.3 s run + 2.7 s wait (3 threads on average: saturated)
        run = 0.2 * min(t, 10) + 0.3 * max(t - 10, 0)
        wait = 0.3 * min(t, 10) + 2.7 * max(t - 10, 0)
        rows.append({"elapsed_s": float(t), "role": "app", "pid": 1, "name": "a", "cpu_s": 0.0,
                     "cpu_pct": 0.0, "rss_bytes": 1, "sched_run_s": run, "sched_wait_s": wait})  # fmt: skip
    frame = pd.DataFrame(rows)
    assert core_share(frame, [(0.0, 10.0)]) == pytest.approx(0.2 / 0.5)
    assert core_share(frame, [(10.0, 20.0)]) == pytest.approx(0.3)
    assert core_share(frame, [(0.0, 10.0), (10.0, 20.0)]) == pytest.approx(5.0 / (5.0 + 10.0))
    assert core_share(frame, [(0.0, 10.0)], "loadgen") is None
    assert core_share(frame.drop(columns=["sched_wait_s"]), [(0.0, 10.0)]) is None
