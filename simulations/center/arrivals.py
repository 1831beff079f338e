"""Arrival instants of one centre day: Poisson arrivals, or booked appointments with no-shows
and lateness (symmetric normal or the asymmetric early/late mix of `[arrivals.punctuality]`).
Walk-ins are added by the simulation (`simulations.center.flows.WalkIns`)."""

from __future__ import annotations

import numpy as np

from simulations.center.config import AppointmentArrivals, CenterConfig, PoissonArrivals

__all__ = ["arrival_times"]


def _appointments(
    arrivals: AppointmentArrivals, streams: list[np.random.Generator]
) -> tuple[np.ndarray, int]:
    booked = arrivals.per_block * arrivals.blocks
    block = np.repeat(np.arange(arrivals.blocks), arrivals.per_block)
    scheduled = arrivals.first_block_min + block * arrivals.block_minutes
    shows = streams[1].random(booked) >= arrivals.no_show
    if arrivals.punctuality is not None:
        lateness = arrivals.punctuality.sample(streams[2], booked)
    else:
        lateness = streams[2].normal(0.0, arrivals.punctuality_sd_min, booked)
    times = np.maximum(scheduled + lateness, 0.0)[shows]
    return np.sort(times), int(booked - shows.sum())


def arrival_times(
    config: CenterConfig, streams: list[np.random.Generator]
) -> tuple[np.ndarray, int]:
    """Arrival instants of patients who come, sorted, and the number of no-shows."""
    arrivals = config.arrivals
    if isinstance(arrivals, AppointmentArrivals):
        return _appointments(arrivals, streams)
    if not isinstance(arrivals, PoissonArrivals):
        raise TypeError(f"unknown arrivals model: {type(arrivals).__name__}")
    rate = arrivals.rate_per_hour / 60
    if rate == 0:
        return np.empty(0), 0
    expected = rate * config.open_minutes
    gaps = streams[0].exponential(1 / rate, int(expected + 10 * np.sqrt(expected) + 20))
    times = np.cumsum(gaps)
    while times[-1] < config.open_minutes:
        more = np.cumsum(streams[0].exponential(1 / rate, len(gaps))) + times[-1]
        times = np.concatenate([times, more])
    return times[times < config.open_minutes], 0
