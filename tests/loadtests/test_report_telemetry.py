"""Telemetry in the run's summary and report: figures per role, CPU and memory plotted per role on
the latency plots' time axis."""

from __future__ import annotations

import pandas as pd

from loadtests.reports.plots import process_resources
from loadtests.telemetry import role_figures


def _telemetry() -> pd.DataFrame:
    rows = []
    for t in range(5):
        rows += [
            {"elapsed_s": 10.0 + t, "role": "app", "pid": 1, "name": "python", "cpu_s": t,
             "cpu_pct": 40.0, "rss_bytes": 100 * 2**20},
            {"elapsed_s": 10.0 + t, "role": "app", "pid": 2, "name": "python", "cpu_s": t,
             "cpu_pct": 20.0 + t, "rss_bytes": 50 * 2**20},
            {"elapsed_s": 10.0 + t, "role": "loadgen", "pid": 3, "name": "locust", "cpu_s": t,
             "cpu_pct": 95.0 if t == 3 else 50.0, "rss_bytes": 30 * 2**20},
        ]  # fmt: skip
    return pd.DataFrame(rows)


def test_role_figures_sum_the_processes_of_each_role_per_sample() -> None:
    figures = role_figures(_telemetry())
    assert set(figures) == {"app", "loadgen"}
    assert figures["app"] == {
        "processes": 2,
        "cpu_pct_mean": 62.0,
        "cpu_pct_peak": 64.0,
        "busiest_process_cpu_pct_peak": 40.0,
        "rss_mb_peak": 150.0,
    }
    assert figures["loadgen"]["busiest_process_cpu_pct_peak"] == 95.0
    assert role_figures(pd.DataFrame()) == {}


def test_process_resources_plots_each_role_on_the_test_time_axis() -> None:
    fig = process_resources(_telemetry(), offset_s=-10.0, span_s=(0.0, 4.0))
    cpu_ax, rss_ax = fig.axes
    assert [line.get_label() for line in cpu_ax.get_lines()] == ["app", "loadgen"]
    app_cpu = cpu_ax.get_lines()[0]
    assert list(app_cpu.get_xdata()) == [0.0, 1.0, 2.0, 3.0, 4.0]  # moved to the test start
    assert list(app_cpu.get_ydata()) == [60.0, 61.0, 62.0, 63.0, 64.0]
    assert list(rss_ax.get_lines()[0].get_ydata()) == [150.0] * 5
    assert cpu_ax.get_xlim() == (0.0, 4.0)
    empty = process_resources(pd.DataFrame())
    assert "no telemetry" in empty.axes[0].texts[0].get_text()
