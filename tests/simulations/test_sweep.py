"""Sweeps: parameter grids, tidy results, same answers serially, on processes and on Dask."""

from __future__ import annotations

import pandas as pd
import pytest

from simulations.sweep import (
    SweepError,
    center_kpis,
    center_variants,
    combinations,
    parse_param,
    run_sweep,
    scenario_kpis,
    scenario_variants,
)


def test_range_includes_stop_on_the_grid_and_lists_keep_types():
    assert parse_param("stations.jab.servers=8:12:2").values == (8, 10, 12)
    assert parse_param("x=0.1:0.35:0.1").values == (0.1, 0.2, 0.3)
    assert parse_param("mode=fast,slow").values == ("fast", "slow")
    grid = combinations([parse_param("a=1:2:1"), parse_param("b=x,y,z")])
    assert len(grid) == 6 and grid[0] == {"a": 1, "b": "x"}


@pytest.mark.parametrize(
    "spec", ["a", "a=1:2", "a=1:5:0", "a=5:1:1", "a=1:x:1", "a=", "a=1,,2", "a=0:1e9:1"]
)
def test_bad_param_specs_are_refused(spec):
    with pytest.raises(SweepError):
        parse_param(spec)


@pytest.fixture(scope="module")
def center_sweep():
    params = [parse_param("stations.vaccination.servers=1:3:1")]
    variants = center_variants("gp-practice", params)
    serial = run_sweep(center_kpis, variants, 3, seed=4, workers=1, progress=False)
    return variants, serial


def test_tidy_result_has_one_row_per_combination_and_kpi(center_sweep):
    _, serial = center_sweep
    tidy = serial.tidy()
    kpis = serial.runs.columns.drop(["stations.vaccination.servers", "replication"])
    assert len(tidy) == 3 * len(kpis)
    assert list(tidy.columns[-5:]) == ["kpi", "mean", "ci_low", "ci_high", "replications"]
    waits = tidy[tidy["kpi"] == "stations.vaccination.mean_wait_min"]["mean"].to_numpy()
    assert waits[0] > waits[1] > waits[2]  # more nurses, shorter waits
    row = tidy[(tidy["kpi"] == "served")].iloc[0]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]


def test_replication_r_sees_the_same_patients_in_every_combination(center_sweep):
    _, serial = center_sweep
    arrived = serial.runs.pivot(
        index="replication", columns="stations.vaccination.servers", values="arrived"
    )
    assert (arrived.nunique(axis=1) == 1).all()


def test_process_pool_gives_the_serial_answer(center_sweep):
    variants, serial = center_sweep
    parallel = run_sweep(center_kpis, variants, 3, seed=4, workers=2, progress=False)
    pd.testing.assert_frame_equal(parallel.runs, serial.runs)


def test_bad_scenario_key_fails_before_any_run():
    with pytest.raises(ValueError, match="no_such_knob"):
        scenario_variants("smoke", [parse_param("platform.no_such_knob=1:2:1")])


def test_dask_cluster_gives_the_local_answer_on_the_smoke_scenario():
    from distributed import LocalCluster

    params = [parse_param("platform.admission_rate_per_s=4,8"), parse_param("duration_min=20")]
    variants = scenario_variants("smoke", params)
    local = run_sweep(scenario_kpis, variants, 1, seed=9, workers=1, progress=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = run_sweep(
            scenario_kpis, variants, 1, seed=9, scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(on_dask.runs, local.runs)
    assert on_dask.runs["bookings"].gt(0).all()


def test_unreachable_dask_scheduler_is_a_clear_error():
    variants = center_variants("gp-practice", [parse_param("stations.vaccination.servers=2")])
    with pytest.raises(SweepError, match="cannot reach Dask scheduler"):
        run_sweep(center_kpis, variants, 1, scheduler="tcp://127.0.0.1:9", progress=False)
