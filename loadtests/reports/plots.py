"""Plots of one load-test run, as matplotlib Figures (no pyplot state: usable in reports and
notebooks alike). Inputs are the run directory's tables: per-request records (`requests.csv`),
Locust's stats history, the app monitor and the load profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from loadtests.shapes.profile import LoadProfile

__all__ = [
    "errors",
    "latency_percentiles",
    "load_level",
    "process_resources",
    "throughput",
    "waiting_room",
]

SIZE = (8.0, 3.0)


def _relative(requests: pd.DataFrame, start_epoch_s: float) -> pd.DataFrame:
    frame = requests.copy()
    frame["t_s"] = frame["start_epoch_s"].astype(float) - start_epoch_s
    frame["second"] = np.floor(frame["t_s"]).astype(int)
    return frame


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)


def throughput(requests: pd.DataFrame, start_epoch_s: float, top_routes: int = 6) -> Figure:
    """Requests per second, in total and for the busiest routes."""
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    if len(requests):
        frame = _relative(requests, start_epoch_s)
        total = frame.groupby("second").size()
        ax.plot(total.index, total.values, color="black", label="all", linewidth=1.5)
        for name in frame["name"].value_counts().index[:top_routes]:
            per = frame[frame["name"] == name].groupby("second").size()
            ax.plot(per.index, per.values, linewidth=0.8, label=name)
        ax.legend(fontsize=7, ncol=2)
    else:
        _empty(ax, "requests")
    ax.set(title="Throughput", xlabel="time (s)", ylabel="requests/s")
    fig.tight_layout()
    return fig


def latency_percentiles(requests: pd.DataFrame, start_epoch_s: float, window_s: int = 5) -> Figure:
    """p50, p95 and p99 response time of all requests, per `window_s` window (log scale)."""
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    if len(requests):
        frame = _relative(requests, start_epoch_s)
        frame["window"] = (frame["second"] // window_s) * window_s
        grouped = frame.groupby("window")["response_time_ms"]
        for q, style in ((0.5, "-"), (0.95, "--"), (0.99, ":")):
            series = grouped.quantile(q)
            ax.plot(series.index, series.values, style, label=f"p{round(q * 100)}")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "requests")
    ax.set(title=f"Latency percentiles ({window_s} s windows)", xlabel="time (s)", ylabel="ms")
    fig.tight_layout()
    return fig


def load_level(
    history: pd.DataFrame,
    profile: LoadProfile | None,
    requests: pd.DataFrame,
    start_epoch_s: float,
) -> Figure:
    """The load asked for (profile) and delivered: users, or arrivals/s (new registrations)."""
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    if profile is not None:
        t, level = zip(*profile.points, strict=True)
        ax.plot(t, level, color="grey", linestyle="--", label=f"profile ({profile.unit})")
    if profile is not None and profile.unit == "arrivals_per_s" and len(requests):
        frame = _relative(requests, start_epoch_s)
        arrivals = frame[frame["name"] == "register"].groupby("second").size()
        ax.plot(arrivals.index, arrivals.values, linewidth=0.8, label="arrivals/s (register)")
    elif len(history) and "User Count" in history:
        agg = history[history["Name"] == "Aggregated"]
        ax.plot(agg["Timestamp"] - start_epoch_s, agg["User Count"], label="users")
    ax.legend(fontsize=7)
    ax.set(title="Offered load", xlabel="time (s)", ylabel="users or arrivals/s")
    fig.tight_layout()
    return fig


def errors(requests: pd.DataFrame, start_epoch_s: float) -> Figure:
    """Failed requests per second, by route."""
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    failed = requests[requests["ok"].astype(int) == 0] if len(requests) else requests
    if len(failed):
        frame = _relative(failed, start_epoch_s)
        for name, part in frame.groupby("name"):
            per = part.groupby("second").size()
            ax.plot(per.index, per.values, marker=".", linewidth=0.8, label=name)
        ax.legend(fontsize=7)
    else:
        _empty(ax, "failed requests")
    ax.set(title="Errors", xlabel="time (s)", ylabel="failures/s")
    fig.tight_layout()
    return fig


def waiting_room(monitor: pd.DataFrame, start_epoch_s: float) -> Figure:
    """Visitors queued in the waiting room (sampled from the app once a second)."""
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    queued = (
        pd.to_numeric(monitor["waiting_room_queued"], errors="coerce")
        if len(monitor) and "waiting_room_queued" in monitor
        else pd.Series(dtype=float)
    )
    if queued.notna().any():
        ax.plot(monitor["epoch_s"] - start_epoch_s, queued, label="queued")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "waiting-room samples")
    ax.set(title="Waiting-room length", xlabel="time (s)", ylabel="visitors")
    fig.tight_layout()
    return fig


def process_resources(
    telemetry: pd.DataFrame, offset_s: float = 0.0, span_s: tuple[float, float] | None = None
) -> Figure:
    """CPU (% of one core, summed over each role's processes) and resident memory (MB) per role
    from `telemetry.csv`, on the same time axis as the latency plots (`offset_s` moves the
    telemetry's origin to the test start; `span_s` limits the axis, e.g. to the requests')."""
    fig = Figure(figsize=(SIZE[0], SIZE[1] * 1.6))
    cpu_ax, rss_ax = fig.subplots(2, 1, sharex=True)
    if len(telemetry):
        per = telemetry.groupby(["role", "elapsed_s"]).agg(
            cpu=("cpu_pct", "sum"), rss=("rss_bytes", "sum")
        )
        for role in sorted(telemetry["role"].unique()):
            series = per.loc[role]
            t = series.index.to_numpy(dtype=float) + offset_s
            cpu_ax.plot(t, series["cpu"], linewidth=1, label=role)
            rss_ax.plot(t, series["rss"] / 2**20, linewidth=1, label=role)
        cpu_ax.legend(fontsize=7, ncol=4)
        if span_s is not None:
            cpu_ax.set_xlim(*span_s)
    else:
        _empty(cpu_ax, "telemetry")
    cpu_ax.set(title="CPU and memory per role (telemetry.csv)", ylabel="CPU (% of a core)")
    rss_ax.set(xlabel="time (s)", ylabel="RSS (MB)")
    fig.tight_layout()
    return fig
