import numpy as np
import pandas as pd
import pytest

from loadtests.reports.summary import _app_figures, step_aggregates
from loadtests.shapes.profile import steps


def test_step_aggregates_read_each_step_steady_state():
    start = 1_000_000.0
    rng = np.random.default_rng(1)
    rows = []
    # step 1 (0-30 s): 10 req/s at ~20 ms; step 2 (30-60 s): 40 req/s at ~80 ms
    for lo, hi, rps, ms in ((0, 30, 10, 20.0), (30, 60, 40, 80.0)):
        n = (hi - lo) * rps
        t = np.sort(rng.uniform(lo, hi, n))
        rows.append(
            pd.DataFrame(
                {
                    "start_epoch_s": start + t,
                    "name": "book",
                    "response_time_ms": rng.normal(ms, 1.0, n),
                    "ok": 1,
                }
            )
        )
    requests = pd.concat(rows, ignore_index=True)
    result = step_aggregates(requests, steps([5, 10], hold_s=30), start, settle_s=5)
    assert [s["level"] for s in result] == [5, 10]
    assert result[0]["steady_from_s"] == 5 and result[1]["steady_from_s"] == 35
    assert result[0]["rps"] == pytest.approx(10, rel=0.15)
    assert result[1]["rps"] == pytest.approx(40, rel=0.1)
    assert result[0]["p50_ms"] == pytest.approx(20, abs=1)
    assert result[1]["routes"]["book"]["p95_ms"] == pytest.approx(80 + 1.645, abs=1)
    assert result[1]["error_rate"] == 0


def test_app_samples_are_summarised_and_blank_samples_skipped():
    monitor = pd.DataFrame(
        {"app_rss_mb": ["", 80.0, "90.5", 85.0], "app_cpu_pct": ["", "", "", ""]}
    )
    assert _app_figures(monitor, "app_rss_mb") == {
        "first": 80.0, "mean": 85.2, "peak": 90.5, "last": 85.0
    }  # fmt: skip
    assert _app_figures(monitor, "app_cpu_pct") is None  # an external app: nothing sampled
    assert _app_figures(pd.DataFrame({"epoch_s": [1.0]}), "app_rss_mb") is None  # older runs
