"""Invariants of busy centre days with every feature on (the benchmark centre of issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from simulations.center.report import run_kpis
from simulations.center.simulation import simulate_center
from surge.bench.center import bench_config


def most_at_once(starts: np.ndarray, ends: np.ndarray) -> int:
    # Rounded to 1e-9 min: start = arrive + wait can differ from the previous end by rounding.
    events = sorted([(round(t, 9), 1) for t in starts] + [(round(t, 9), -1) for t in ends])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_busy_day_conserves_patients_and_never_exceeds_servers(seed):
    config = bench_config()
    run = simulate_center(config, seed)
    kpis = run_kpis(run)
    came = len(run.arrival_min)
    assert kpis["arrived"] == came + kpis["no_shows"] + kpis["turned_away"]
    assert came == kpis["served"] + kpis["abandoned"] + kpis["stranded"]
    assert kpis["stranded"] == 0 and not run.deadlock
    served = ~np.isnan(run.departure_min)
    assert (run.departure_min[served] > run.arrival_min[served]).all()
    assert kpis["stations.vaccination.blocked_min"] > 0  # the chairs fill up
    for log, station in zip(run.stations, config.stations, strict=True):
        assert (log.wait_min >= 0).all()
        if station.servers is None:
            continue
        start = log.arrive_min + log.wait_min
        busy = ~log.abandoned
        assert (
            most_at_once(start[busy], start[busy] + log.service_min[busy])
            <= station.nominal_servers
        )
        hours = kpis[f"stations.{log.name}.staff_hours_busy"]
        assert (
            hours
            <= kpis[f"stations.{log.name}.staff_hours_rostered"]
            + kpis[f"stations.{log.name}.staff_hours_overtime"]
        )
    vaccination = config.station("vaccination")
    assert run.stations[3].break_min <= sum(b.minutes * b.servers for b in vaccination.breaks)
